# Install test: installs a tensorpod build tree into a fresh prefix, builds
# examples/cpp against it with find_package(tensorpod CONFIG) and runs the
# example on examples/models/mlp.onnx. Registered as the ctest
# "install_find_package"; needs the whole build (library and CLI) done.
#
#   cmake -DBUILD_DIR=<build> -DSOURCE_DIR=<source> -DWORK_DIR=<scratch>
#         [-DMAKE_PROGRAM=<ninja>] [-DCXX_COMPILER=<c++>] [-DSANITIZE=address,undefined]
#         -P tests/install_test.cmake
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_test.cmake: pass -D${var}=...")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(example_build "${WORK_DIR}/example-build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Runs a command; fails the test with its output when it exits non-zero.
function(run_step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}):\n${ARGN}\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
  set(STEP_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

run_step("install" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(f include/tensorpod/tensorpod.h include/tensorpod/tensorpod.hpp include/tensorpod/version.h)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "the install tree lacks ${f}")
  endif()
endforeach()

set(configure_args -S "${SOURCE_DIR}/examples/cpp" -B "${example_build}" -G Ninja
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}")
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(SANITIZE)
  # A sanitized libtensorpod needs its runtime linked into the executable.
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZE}"
       "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE}")
endif()
run_step("configure examples/cpp" ${CMAKE_COMMAND} ${configure_args})

# The package must come from the install prefix, not the build tree.
file(STRINGS "${example_build}/CMakeCache.txt" found_dir REGEX "^tensorpod_DIR:")
string(FIND "${found_dir}" "${prefix}/" at)
if(NOT at GREATER -1)
  message(FATAL_ERROR "find_package(tensorpod) did not use the install prefix: ${found_dir}")
endif()

run_step("build examples/cpp" ${CMAKE_COMMAND} --build "${example_build}")
run_step("run the example" "${example_build}/tensorpod_example" "${SOURCE_DIR}/examples/models/mlp.onnx")
message(STATUS "example output:\n${STEP_OUTPUT}")

foreach(pattern "input  input float32 \\[-1,64\\]" "output logits float32 \\[-1,10\\]"
                "row 0: argmax [0-9] " "row 1: argmax [0-9] ")
  if(NOT STEP_OUTPUT MATCHES "${pattern}")
    message(FATAL_ERROR "the example's output does not match \"${pattern}\":\n${STEP_OUTPUT}")
  endif()
endforeach()
