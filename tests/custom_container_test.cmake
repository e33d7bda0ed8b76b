# Custom-container example test: installs a tensorpod build tree into a fresh
# prefix, builds and installs examples/custom-container (the "scorer"
# service) against it with find_package(tensorpod CONFIG), then runs the
# example's smoke test on the installed binary: answers checked against
# onnxruntime, error lines for bad requests, SIGTERM drain and exit code 0.
# Registered as the ctest "custom_container_example"; needs the whole build
# (library and CLI) done.
#
#   cmake -DBUILD_DIR=<build> -DSOURCE_DIR=<source> -DWORK_DIR=<scratch> -DPYTHON=<python with numpy, onnxruntime>
#         [-DMAKE_PROGRAM=<ninja>] [-DCXX_COMPILER=<c++>] [-DSANITIZE=address,undefined]
#         -P tests/custom_container_test.cmake
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR PYTHON)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "custom_container_test.cmake: pass -D${var}=...")
  endif()
endforeach()

set(example "${SOURCE_DIR}/examples/custom-container")
set(prefix "${WORK_DIR}/prefix")
set(example_build "${WORK_DIR}/scorer-build")
set(example_prefix "${WORK_DIR}/scorer-prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

include("${CMAKE_CURRENT_LIST_DIR}/install_helpers.cmake")

run_step("install tensorpod" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")

build_against_install("examples/custom-container" "${example}" "${example_build}" "${prefix}"
                      "-DCMAKE_INSTALL_PREFIX=${example_prefix}")
# The installed binary must find libtensorpod by itself (its RUNPATH), as it
# does when copied into an image FROM the runtime image.
run_step("install examples/custom-container" ${CMAKE_COMMAND} --install "${example_build}")

execute_process(
  COMMAND "${PYTHON}" "${example}/smoke_test.py" --scorer "${example_prefix}/bin/scorer"
          --model "${SOURCE_DIR}/examples/models/mlp.onnx" --stats "${example_prefix}/share/scorer/feature_stats.txt"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the scorer smoke test failed (${rc})")
endif()
