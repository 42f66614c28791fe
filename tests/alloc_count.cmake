# The allocation-counting test replaces malloc, so it is its own executable, and it is left out of
# sanitizer builds (ASan replaces malloc itself).
if(NOT FCNET_SANITIZE)
  add_executable(fcnet_alloc_test ${CMAKE_CURRENT_SOURCE_DIR}/alloc_count_test.cpp)
  target_compile_options(fcnet_alloc_test PRIVATE -Wall -Wextra $<$<BOOL:${FCNET_WERROR}>:-Werror>)
  target_link_libraries(fcnet_alloc_test PRIVATE fcnet GTest::gtest_main)
  gtest_discover_tests(fcnet_alloc_test DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
endif()
