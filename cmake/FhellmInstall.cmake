# `cmake --install`: the layer libraries, the public headers (the facades,
# the C API, errors and statuses, the generated version) and a CMake package,
# so that a program does find_package(fhellm) and links fhellm::fhellm
# (examples/ is built that way by scripts/test_examples.sh).
include(CMakePackageConfigHelpers)

set(FHELLM_INSTALLED_LAYERS common math he quant model tokenizer hybrid net chat client server capi)
set(installed_targets)
foreach(layer ${FHELLM_INSTALLED_LAYERS})
  set_target_properties(fhellm_${layer} PROPERTIES EXPORT_NAME ${layer})
  list(APPEND installed_targets fhellm_${layer})
endforeach()
# The one target users link: fhellm::fhellm (the CLI executable owns the name `fhellm` here).
add_library(fhellm_package INTERFACE)
set_target_properties(fhellm_package PROPERTIES EXPORT_NAME fhellm)
target_link_libraries(fhellm_package INTERFACE fhellm_client fhellm_server fhellm_capi)
list(APPEND installed_targets fhellm_package)

install(TARGETS ${installed_targets} EXPORT fhellmTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES
  ${FHELLM_SOURCE_DIR}/include/fhellm/client.h
  ${FHELLM_SOURCE_DIR}/include/fhellm/server.h
  ${FHELLM_SOURCE_DIR}/include/fhellm/remote_layers.h
  ${FHELLM_SOURCE_DIR}/include/fhellm/linear.h
  ${FHELLM_SOURCE_DIR}/include/fhellm/fhellm.h
  ${FHELLM_SOURCE_DIR}/include/fhellm/error.h
  ${FHELLM_SOURCE_DIR}/include/fhellm/status.h
  ${CMAKE_BINARY_DIR}/include/fhellm/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/fhellm)

set(config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/fhellm)
install(EXPORT fhellmTargets NAMESPACE fhellm:: DESTINATION ${config_dir})
configure_package_config_file(${FHELLM_SOURCE_DIR}/cmake/fhellmConfig.cmake.in
  ${CMAKE_BINARY_DIR}/fhellmConfig.cmake INSTALL_DESTINATION ${config_dir})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/fhellmConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/fhellmConfig.cmake ${CMAKE_BINARY_DIR}/fhellmConfigVersion.cmake
  DESTINATION ${config_dir})
