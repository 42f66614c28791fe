# `cmake --install build [--prefix DIR]`: the CLI, libfcnet.so with the C API's headers, a CMake
# package (find_package(fcnet) → the imported target fcnet::fcnet) and a pkg-config file. The C++
# library stays in the build tree, as its layers' static libraries: its headers are not installed
# and not exported (see docs/c-api.md).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS fcnet_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(
  TARGETS fcnet_shared
  EXPORT fcnetTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${CMAKE_SOURCE_DIR}/include/fcnet/fcnet.h
              ${CMAKE_BINARY_DIR}/include/fcnet/fcnet_version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/fcnet)

set(FCNET_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/fcnet)
install(EXPORT fcnetTargets NAMESPACE fcnet:: DESTINATION ${FCNET_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/fcnetConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/fcnetConfig.cmake
                              INSTALL_DESTINATION ${FCNET_CMAKE_DIR})
# 0.x releases promise nothing across minor versions; from 1.0 on, the same major is compatible.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(FCNET_COMPATIBILITY SameMinorVersion)
else()
  set(FCNET_COMPATIBILITY SameMajorVersion)
endif()
write_basic_package_version_file(${CMAKE_BINARY_DIR}/fcnetConfigVersion.cmake
                                 COMPATIBILITY ${FCNET_COMPATIBILITY})
install(FILES ${CMAKE_BINARY_DIR}/fcnetConfig.cmake ${CMAKE_BINARY_DIR}/fcnetConfigVersion.cmake
        DESTINATION ${FCNET_CMAKE_DIR})

# fcnet.pc finds the prefix from its own place, so it is right wherever --prefix puts it; with
# absolute library or include folders it names them as given (and is then not relocatable).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(FCNET_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(FCNET_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(FCNET_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH FCNET_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
  string(REGEX REPLACE "/$" "" FCNET_PC_TO_PREFIX "${FCNET_PC_TO_PREFIX}")
  set(FCNET_PC_PREFIX "\${pcfiledir}/${FCNET_PC_TO_PREFIX}")
  set(FCNET_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(FCNET_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/fcnet.pc.in ${CMAKE_BINARY_DIR}/fcnet.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/fcnet.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
