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

# Runs a command; fails the test with its output when it exits non-zero.
function(run_step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}):\n${ARGN}\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
  set(STEP_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

run_step("install tensorpod" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")

set(configure_args -S "${example}" -B "${example_build}" -G Ninja
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_INSTALL_PREFIX=${example_prefix}")
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
run_step("configure examples/custom-container" ${CMAKE_COMMAND} ${configure_args})

# The package must come from the install prefix, not the build tree.
file(STRINGS "${example_build}/CMakeCache.txt" found_dir REGEX "^tensorpod_DIR:")
string(FIND "${found_dir}" "${prefix}/" at)
if(NOT at GREATER -1)
  message(FATAL_ERROR "find_package(tensorpod) did not use the install prefix: ${found_dir}")
endif()

run_step("build examples/custom-container" ${CMAKE_COMMAND} --build "${example_build}")
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
