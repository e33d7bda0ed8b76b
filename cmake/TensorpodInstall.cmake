# Installs the library, headers, CLI and a CMake package config so that
# find_package(tensorpod CONFIG) gives tensorpod::tensorpod.
include(CMakePackageConfigHelpers)

install(TARGETS tensorpod EXPORT tensorpodTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS tensorpod_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/tensorpod DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/include/tensorpod/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tensorpod)
install(EXPORT tensorpodTargets NAMESPACE tensorpod::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tensorpod)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/tensorpodConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tensorpodConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tensorpod)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tensorpodConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tensorpodConfig.cmake
  ${PROJECT_BINARY_DIR}/tensorpodConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tensorpod)
