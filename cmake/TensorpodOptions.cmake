# Compiler settings shared by every tensorpod target.

# x86-64-v3 (AVX2 + FMA) is the baseline for code the compiler vectorises;
# libraries that generate code at run time (oneDNN) use wider ISAs when present.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(TENSORPOD_ARCH_FLAGS -march=x86-64-v3)
else()
  set(TENSORPOD_ARCH_FLAGS)
endif()

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_C_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
  set(CMAKE_CXX_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
  set(CMAKE_CUDA_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
endif()

if(TENSORPOD_SANITIZE)
  add_compile_options(-fsanitize=${TENSORPOD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${TENSORPOD_SANITIZE})
endif()
if(TENSORPOD_BUILD_FUZZ)
  # Coverage feedback from the code under test, not just the fuzz targets:
  # without it libFuzzer mutates blind.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# tensorpod_internal_target(NAME SOURCES... DEPS ...): one static library per
# src/ folder, linked PRIVATE downward so a wrong include fails to build.
function(tensorpod_internal_target name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PUBLIC_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/src>)
  target_compile_options(${name} PRIVATE -Wall -Wextra -Wno-unused-parameter ${TENSORPOD_ARCH_FLAGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS})
endfunction()
