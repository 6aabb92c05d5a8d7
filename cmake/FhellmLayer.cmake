# fhellm_add_layer(NAME DEPS dep...): builds src/NAME/*.cpp into the static
# library fhellm_NAME. Files named *_avx2.cpp / *_avx512.cpp get the SIMD flags
# for their instruction set; the code must select them at run time.
function(fhellm_add_layer name)
  cmake_parse_arguments(ARG "" "" "DEPS;PRIVATE_DEPS" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(NOT sources)
    message(FATAL_ERROR "layer ${name} has no sources")
  endif()
  add_library(fhellm_${name} STATIC ${sources})
  target_include_directories(fhellm_${name}
    PUBLIC ${FHELLM_SOURCE_DIR}/include
    PRIVATE ${FHELLM_SOURCE_DIR}/src)
  target_link_libraries(fhellm_${name} PUBLIC fhellm_common ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  foreach(src ${sources})
    if(src MATCHES "_avx2\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${FHELLM_AVX2_FLAGS}")
    elseif(src MATCHES "_avx512\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${FHELLM_AVX512_FLAGS}")
    endif()
  endforeach()
endfunction()

# fhellm_add_test_dir(NAME LIBS lib...): tests/NAME/*_test.cpp -> one GoogleTest
# executable fhellm_NAME_tests, registered with ctest under the label NAME.
# Tests reading ../shared/models get the label "model" via their test name
# containing "Model" (see tests/README.md).
function(fhellm_add_test_dir name)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${name}/*.cpp)
  if(NOT sources)
    return()
  endif()
  add_executable(fhellm_${name}_tests ${sources})
  target_include_directories(fhellm_${name}_tests PRIVATE ${FHELLM_SOURCE_DIR}/src ${FHELLM_SOURCE_DIR}/tests)
  target_link_libraries(fhellm_${name}_tests PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_compile_definitions(fhellm_${name}_tests PRIVATE
    FHELLM_SHARED_DIR="${FHELLM_SHARED_DIR}"
    FHELLM_SOURCE_DIR="${FHELLM_SOURCE_DIR}"
    FHELLM_BINARY_DIR="${CMAKE_BINARY_DIR}")
  gtest_discover_tests(fhellm_${name}_tests
    PROPERTIES LABELS ${name}
    DISCOVERY_TIMEOUT 60)
endfunction()

# fhellm_add_bench_dir(NAME LIBS lib...): bench/NAME/*.cpp -> fhellm_bench_NAME.
function(fhellm_add_bench_dir name)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${name}/*.cpp)
  if(NOT sources)
    return()
  endif()
  add_executable(fhellm_bench_${name} ${sources})
  target_include_directories(fhellm_bench_${name} PRIVATE ${FHELLM_SOURCE_DIR}/src)
  target_link_libraries(fhellm_bench_${name} PRIVATE ${ARG_LIBS} benchmark::benchmark benchmark::benchmark_main)
endfunction()
