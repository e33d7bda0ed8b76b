# Shared by the tests that build a project against an installed tensorpod
# (install_test.cmake, custom_container_test.cmake). Reads MAKE_PROGRAM,
# CXX_COMPILER and SANITIZE, as passed to the calling -P script.

# Runs a command; fails the test with its output when it exits non-zero.
# STEP_OUTPUT receives its standard output.
function(run_step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}):\n${ARGN}\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
  set(STEP_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

# Configures and builds the CMake project in SOURCE against the tensorpod
# installed in PREFIX, in BUILD; extra arguments go to the configure step.
# Fails unless find_package(tensorpod) took the package from PREFIX.
function(build_against_install name source build prefix)
  set(configure_args -S "${source}" -B "${build}" -G Ninja
      -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}" ${ARGN})
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
  run_step("configure ${name}" ${CMAKE_COMMAND} ${configure_args})

  # The package must come from the install prefix, not the build tree.
  file(STRINGS "${build}/CMakeCache.txt" found_dir REGEX "^tensorpod_DIR:")
  string(FIND "${found_dir}" "${prefix}/" at)
  if(NOT at GREATER -1)
    message(FATAL_ERROR "find_package(tensorpod) did not use the install prefix: ${found_dir}")
  endif()

  run_step("build ${name}" ${CMAKE_COMMAND} --build "${build}")
endfunction()
