# The C API (include/fcnet/fcnet.h) as libfcnet.so, and the version header everything reads its
# version from. The shared library holds its own copy of the static libraries' code and exports
# only the fcnet_* functions (cmake/fcnet_c.map), so a program linking it sees none of the C++
# symbols and none of oneDNN's.
configure_file(${CMAKE_CURRENT_LIST_DIR}/fcnet_version.h.in
               ${CMAKE_BINARY_DIR}/include/fcnet/fcnet_version.h @ONLY)
target_include_directories(fcnet INTERFACE $<BUILD_INTERFACE:${CMAKE_BINARY_DIR}/include>)

add_library(fcnet_shared SHARED ${CMAKE_SOURCE_DIR}/src/capi/c_api.cpp)
target_include_directories(
  fcnet_shared PUBLIC $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include>
                      $<BUILD_INTERFACE:${CMAKE_BINARY_DIR}/include>)
target_link_libraries(fcnet_shared PRIVATE fcnet fcnet_warnings)
set(FCNET_C_MAP ${CMAKE_CURRENT_LIST_DIR}/fcnet_c.map)
target_link_options(fcnet_shared PRIVATE -Wl,--version-script=${FCNET_C_MAP}
                    $<$<NOT:$<BOOL:${FCNET_SANITIZE}>>:-Wl,--no-undefined>)
# The soname names what stays compatible: the major version from 1.0 on; before that, where a
# minor release may change the API, major.minor.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(FCNET_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(FCNET_SOVERSION ${PROJECT_VERSION_MAJOR})
endif()
set_target_properties(
  fcnet_shared
  PROPERTIES OUTPUT_NAME fcnet
             EXPORT_NAME fcnet
             VERSION ${PROJECT_VERSION}
             SOVERSION ${FCNET_SOVERSION}
             LINK_DEPENDS ${FCNET_C_MAP})
