# The installed tree on its own (tests/capi_install_test.sh): cmake --install of this build into a
# temporary prefix, the C example built with cc and pkg-config and the C++ example with
# find_package(fcnet), both agreeing with `fcnet predict`. It installs the built tree as it is, so
# it needs the library and the CLI built (REQUIRED_FILES) and builds only the examples.
# In a sanitizer build the library needs the sanitizers' runtime first, so the examples are built
# with the same -fsanitize flags.
set(FCNET_EXAMPLE_FLAGS "")
if(FCNET_SANITIZE)
  set(FCNET_EXAMPLE_FLAGS "-fsanitize=address,undefined -fno-sanitize-recover=undefined")
endif()
add_test(NAME capi_install
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/capi_install_test.sh ${CMAKE_BINARY_DIR}
                 ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/capi_install
                 ${CMAKE_CXX_COMPILER} "${FCNET_EXAMPLE_FLAGS}")
set_tests_properties(
  capi_install PROPERTIES TIMEOUT 300 LABELS install
                          REQUIRED_FILES "$<TARGET_FILE:fcnet_shared>;$<TARGET_FILE:fcnet_cli>")
