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

include("${CMAKE_CURRENT_LIST_DIR}/install_helpers.cmake")

run_step("install" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(f include/tensorpod/tensorpod.h include/tensorpod/tensorpod.hpp include/tensorpod/version.h)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "the install tree lacks ${f}")
  endif()
endforeach()

build_against_install("examples/cpp" "${SOURCE_DIR}/examples/cpp" "${example_build}" "${prefix}")
run_step("run the example" "${example_build}/tensorpod_example" "${SOURCE_DIR}/examples/models/mlp.onnx")
message(STATUS "example output:\n${STEP_OUTPUT}")

foreach(pattern "input  input float32 \\[-1,64\\]" "output logits float32 \\[-1,10\\]"
                "row 0: argmax [0-9] " "row 1: argmax [0-9] ")
  if(NOT STEP_OUTPUT MATCHES "${pattern}")
    message(FATAL_ERROR "the example's output does not match \"${pattern}\":\n${STEP_OUTPUT}")
  endif()
endforeach()
