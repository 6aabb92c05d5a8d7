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
  # Include paths (include/, src/, the generated version header) come from fhellm_common.
  target_link_libraries(fhellm_${name} PUBLIC fhellm_common ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  if(FHELLM_SANITIZE AND name MATCHES "^(math|he|quant)$")
    target_compile_options(fhellm_${name} PRIVATE -O1)  # the sanitizer build's hot layers (CMakeLists.txt)
  endif()
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
# Suites named Model* or *Model read model or tokenizer files (the bundled
# models/, ../shared/models) and also get the label "model_files":
# `ctest -LE model_files` runs the rest (tests/README.md).
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
  set(model_suites "Model*:*Model.*")
  gtest_discover_tests(fhellm_${name}_tests
    TEST_FILTER "-${model_suites}"
    PROPERTIES LABELS ${name}
    DISCOVERY_TIMEOUT 60)
  gtest_discover_tests(fhellm_${name}_tests
    TEST_FILTER "${model_suites}"
    TEST_LIST fhellm_${name}_model_file_tests
    DISCOVERY_TIMEOUT 60)
  # Two labels cannot pass through gtest_discover_tests' PROPERTIES (the list
  # separator is lost on the way), so ctest sets them after discovery.
  set(labels_file ${CMAKE_CURRENT_BINARY_DIR}/fhellm_${name}_labels.cmake)
  file(WRITE ${labels_file}
    "if(fhellm_${name}_model_file_tests)\n"
    "  set_tests_properties(\${fhellm_${name}_model_file_tests} PROPERTIES LABELS \"${name};model_files\")\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${labels_file})
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
