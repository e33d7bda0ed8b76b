#!/usr/bin/env bash
# Everything that needs a GPU, as one script (DESIGN.md, "Tests"); see
# tests/gpu/README.md.
#
#   tests/gpu/run.sh DIR            on the GPU machine: build (or unpack a
#                                   bundle), run the GPU checks and benchmarks,
#                                   write logs, tables and DIR/summary.md
#   tests/gpu/run.sh --bundle FILE  on a build machine: build for the GPU
#                                   machine and pack the binaries and the
#                                   non-CUDA libraries they need into FILE
#                                   (.tar.xz), for a GPU machine that lacks
#                                   tensorpod's build dependencies
#
# Environment:
#   TP_GPU_BUNDLE     a bundle from --bundle: use it instead of building
#   TP_BUILD_DIR      build directory (default: build-gpu, or build-gpubundle-build for --bundle)
#   TP_CUDA_ARCH      CUDA architectures (default: native, falling back to 90; --bundle: 90)
#   TP_GPU_BUDGET_S   seconds for the whole run (default 480); each step is cut to what is left
#   TP_PYTHON         the Python with numpy/onnx/onnxruntime/pytest/torch (default python3)
#   TP_GPU_UNIT_FILTER  gtest filter for the unit tests of a bundle run (default: all)
#
# Every step runs under `timeout`; a failed step does not stop the others.
# Exit status 1 when any step failed, 0 otherwise (skipped steps say why).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
START=$(date +%s)
BUDGET=${TP_GPU_BUDGET_S:-480}
PY=${TP_PYTHON:-python3}
JOBS=$(nproc 2>/dev/null || echo 16)

usage() {
  sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}

cuda_root() {
  if [[ -n "${CUDA_HOME:-}" && -d "${CUDA_HOME}" ]]; then
    echo "$CUDA_HOME"
  elif [[ -d /usr/local/cuda ]]; then
    echo /usr/local/cuda
  elif command -v nvcc >/dev/null; then
    dirname "$(dirname "$(command -v nvcc)")"
  fi
}

# Directories holding the CUDA toolkit's and the Python wheels' CUDA libraries
# (cuDNN usually comes only as the nvidia-cudnn wheel), colon-separated.
cuda_lib_dirs() {
  local root dirs=()
  root=$(cuda_root)
  for d in "$root/lib64" "$root/targets/x86_64-linux/lib"; do
    [[ -d "$d" ]] && dirs+=("$d")
  done
  if command -v "$PY" >/dev/null; then
    local py_dirs
    py_dirs=$("$PY" - <<'EOF' 2>/dev/null
import glob, os, site
roots = list(site.getsitepackages()) + [site.getusersitepackages()]
seen = []
for r in roots:
    for pattern in ("nvidia/*/lib", "nvidia/*/*/lib"):
        for d in sorted(glob.glob(os.path.join(r, pattern))):
            if d not in seen:
                seen.append(d)
print(":".join(seen))
EOF
)
    [[ -n "$py_dirs" ]] && dirs+=("$py_dirs")
  fi
  local IFS=:
  echo "${dirs[*]}"
}

# cuDNN for CMake when the toolkit has none: the nvidia-cudnn wheel's header
# and versioned library (the wheel has no unversioned libcudnn.so).
cudnn_cmake_args() {
  local root
  root=$(cuda_root)
  if compgen -G "$root/lib64/libcudnn.so*" >/dev/null || compgen -G "$root/lib/libcudnn.so*" >/dev/null ||
     compgen -G "/usr/lib/x86_64-linux-gnu/libcudnn.so*" >/dev/null; then
    return
  fi
  command -v "$PY" >/dev/null || return
  "$PY" - <<'EOF' 2>/dev/null
import glob, os, site
for r in list(site.getsitepackages()) + [site.getusersitepackages()]:
    inc = glob.glob(os.path.join(r, "nvidia", "cudnn", "include", "cudnn.h"))
    lib = sorted(glob.glob(os.path.join(r, "nvidia", "cudnn", "lib", "libcudnn.so*")))
    if inc and lib:
        print(f"-DCUDNN_INCLUDE_DIR={os.path.dirname(inc[0])}")
        print(f"-DCUDNN_LIBRARY={lib[0]}")
        break
EOF
}

configure() {  # configure BUILD_DIR ARCH
  local gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  local extra=()
  mapfile -t extra < <(cudnn_cmake_args)
  cmake -S "$ROOT" -B "$1" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$2" \
    -DTENSORPOD_CUDA=ON -DTENSORPOD_BUILD_TESTS=ON -DTENSORPOD_BUILD_BENCH=ON "${extra[@]}"
}

ROOT_CUDA=$(cuda_root)
[[ -n "$ROOT_CUDA" && -d "$ROOT_CUDA/bin" ]] && export PATH="$ROOT_CUDA/bin:$PATH"
# run_step runs commands under `timeout`, which needs programs, not functions.
export ROOT PY
export -f cuda_root cudnn_cmake_args configure

# ------------------------------------------------------------------ --bundle

if [[ "${1:-}" == "--bundle" ]]; then
  [[ $# -eq 2 ]] || usage
  out=$(realpath -m "$2")
  build=$(realpath -m "${TP_BUILD_DIR:-$ROOT/build-gpubundle-build}")
  set -e
  configure "$build" "${TP_CUDA_ARCH:-90}"
  cmake --build "$build" -j "$JOBS" --target tensorpod_cli tp_backend_ops_test tp_gemm_bench tp_unit_tests
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage/tensorpod-gpu/bin" "$stage/tensorpod-gpu/lib"
  bins=("$build/src/tensorpod" "$build/tests/ops/tp_backend_ops_test" "$build/bench/gpu/gemm_bench"
        "$build/tests/tp_unit_tests")
  cp "${bins[@]}" "$stage/tensorpod-gpu/bin/"
  cp -L "$build/src/libtensorpod.so.1" "$stage/tensorpod-gpu/lib/"
  # Every library the binaries load, except the C/C++ runtime (the GPU
  # machine's is newer) and CUDA's own (the driver, the toolkit and the
  # wheels there provide them).
  skip='^(linux-vdso|ld-linux|libc\.|libm\.|libdl\.|libpthread\.|librt\.|libstdc\+\+|libgcc_s'
  skip+='|libcuda\.|libcudart|libcublas|libcublasLt|libcudnn|libnvrtc|libnvJitLink)'
  for f in "${bins[@]}" "$build/src/libtensorpod.so.1"; do
    ldd "$f" | awk '/=>/ && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
      [[ "$name" =~ $skip ]] && continue
      [[ "$path" == "$build"/* ]] && continue
      cp -Ln "$path" "$stage/tensorpod-gpu/lib/$name"
    done
  done
  strip --strip-unneeded "$stage"/tensorpod-gpu/bin/* "$stage"/tensorpod-gpu/lib/* 2>/dev/null || true
  # Absolute paths compiled into the tests (test data) point into this
  # checkout; run.sh links this path to the GPU machine's checkout.
  echo "$ROOT" > "$stage/tensorpod-gpu/SOURCE_ROOT"
  git -C "$ROOT" rev-parse HEAD > "$stage/tensorpod-gpu/COMMIT" 2>/dev/null || true
  mkdir -p "$(dirname "$out")"
  tar -C "$stage" -cJf "$out" tensorpod-gpu
  echo "bundle: $out ($(du -h "$out" | cut -f1)); contents:"
  du -sh "$stage"/tensorpod-gpu/bin/* "$stage"/tensorpod-gpu/lib/*
  exit 0
fi

# ----------------------------------------------------------------- GPU run

[[ $# -eq 1 && "$1" != -* ]] || usage
OUT=$(realpath -m "$1")
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

STEPS=()   # "| step | result | seconds | detail |" rows
FAILED=0

record() {  # record RESULT STEP SECONDS DETAIL; RESULT is PASS, FAIL, WARN or SKIP
  STEPS+=("| $2 | $1 | $3 | $4 |")
  [[ "$1" == FAIL ]] && FAILED=1
  printf '[gpu run] %-4s %s (%ss) %s\n' "$1" "$2" "$3" "$4"
}

# run_step NAME CAP_SECONDS LOG CMD...: runs CMD under timeout, at most CAP
# seconds and never past the run's budget; its output goes to LOG. A command
# that exits 0 after printing a line "SKIP: why" is recorded as skipped. With
# TRY=1 a failure is recorded as WARN (a fallback follows).
run_step() {
  local name=$1 cap=$2 log=$3
  shift 3
  local left=$((START + BUDGET - $(date +%s) - 5))
  if ((left < 15)); then
    record SKIP "$name" 0 "out of time (budget ${BUDGET}s)"
    return 1
  fi
  local limit=$((cap < left ? cap : left))
  local t0 rc
  t0=$(date +%s)
  echo "[gpu run] $name: $* (limit ${limit}s)"
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  rc=$?
  local dt=$(($(date +%s) - t0))
  local bad=FAIL
  [[ "${TRY:-0}" == 1 ]] && bad=WARN
  if ((rc == 0)) && grep -q '^SKIP:' "$log"; then
    record SKIP "$name" "$dt" "$(grep -m1 '^SKIP:' "$log" | cut -c7-)"
  elif ((rc == 0)); then
    record PASS "$name" "$dt" "log: $(basename "$log")"
  elif ((rc == 124 || rc == 137)); then
    record "$bad" "$name" "$dt" "timed out after ${limit}s; log: $(basename "$log")"
  else
    record "$bad" "$name" "$dt" "exit $rc; log: $(basename "$log")"
  fi
  return $rc
}

# GPU facts.
{
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi -L
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  else
    echo "nvidia-smi not found"
  fi
} >"$OUT/gpu.txt" 2>&1

# Binaries: from a bundle, or built here.
MODE=build
if [[ -n "${TP_GPU_BUNDLE:-}" ]]; then
  MODE=bundle
  if [[ -d "$TP_GPU_BUNDLE" ]]; then
    BUNDLE=$(realpath "$TP_GPU_BUNDLE")
    [[ -d "$BUNDLE/tensorpod-gpu" ]] && BUNDLE="$BUNDLE/tensorpod-gpu"
  else
    tar -C "$WORK" -xJf "$TP_GPU_BUNDLE" && BUNDLE="$WORK/tensorpod-gpu"
  fi
  if [[ -x "${BUNDLE:-}/bin/tensorpod" ]]; then
    record PASS "unpack bundle" 0 "$TP_GPU_BUNDLE (commit $(cat "$BUNDLE/COMMIT" 2>/dev/null || echo unknown))"
    src_root=$(cat "$BUNDLE/SOURCE_ROOT" 2>/dev/null || true)
    if [[ -n "$src_root" && "$src_root" != "$ROOT" && ! -e "$src_root" ]]; then
      mkdir -p "$(dirname "$src_root")" && ln -s "$ROOT" "$src_root"
    fi
    BIN_CLI=$BUNDLE/bin/tensorpod
    BIN_OPS=$BUNDLE/bin/tp_backend_ops_test
    BIN_GEMM=$BUNDLE/bin/gemm_bench
    BIN_UNIT=$BUNDLE/bin/tp_unit_tests
    LIB_DIRS="$BUNDLE/lib"
  else
    record FAIL "unpack bundle" 0 "no bin/tensorpod in $TP_GPU_BUNDLE"
  fi
else
  B=$(realpath -m "${TP_BUILD_DIR:-$ROOT/build-gpu}")
  arch=${TP_CUDA_ARCH:-native}
  try=0
  [[ "$arch" == native ]] && try=1
  # shellcheck disable=SC2016  # $1 and $2 belong to the inner bash
  if ! TRY=$try run_step "configure (CUDA arch $arch)" 120 "$OUT/configure.log" \
      bash -c 'configure "$1" "$2"' configure "$B" "$arch"; then
    rm -f "$B/CMakeCache.txt"
    if [[ "$arch" == native ]]; then
      cp "$OUT/configure.log" "$OUT/configure_native.log"
      rm -rf "$B/CMakeFiles"
      # shellcheck disable=SC2016
      run_step "configure (CUDA arch 90)" 120 "$OUT/configure.log" bash -c 'configure "$1" "$2"' configure "$B" 90 ||
        rm -f "$B/CMakeCache.txt"
    fi
  fi
  if [[ -f "$B/CMakeCache.txt" ]]; then
    run_step "build" 330 "$OUT/build.log" cmake --build "$B" -j "$JOBS"
  fi
  BIN_CLI=$B/src/tensorpod
  BIN_OPS=$B/tests/ops/tp_backend_ops_test
  BIN_GEMM=$B/bench/gpu/gemm_bench
  BIN_UNIT=
  LIB_DIRS=
fi

# The tensorpod programs see the bundle's and CUDA's libraries; Python
# processes (PyTorch, onnxruntime) keep their own, so the CLI is reached
# through a wrapper that sets the path.
TP_LD_PATH=$(IFS=:; echo "${LIB_DIRS:+$LIB_DIRS:}$(cuda_lib_dirs)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
mkdir -p "$WORK/bin"
CLI=$WORK/bin/tensorpod
printf '#!/usr/bin/env bash\nexport LD_LIBRARY_PATH=%q\nexec %q "$@"\n' "$TP_LD_PATH" "${BIN_CLI:-/nonexistent}" >"$CLI"
chmod +x "$CLI"

have() { [[ -n "${1:-}" && -x "$1" ]]; }

# 1. Backend op tests: every op case on cuda:0 against the CPU reference.
if have "${BIN_OPS:-}"; then
  run_step "backend op tests" 120 "$OUT/backend_ops.log" \
    env LD_LIBRARY_PATH="$TP_LD_PATH" "$BIN_OPS" --gtest_output="xml:$OUT/backend_ops.xml"
else
  record SKIP "backend op tests" 0 "no binary (${BIN_OPS:-not built})"
fi

# 2. Unit tests (bundle only; a build here runs them in ctest below).
if [[ "$MODE" == bundle ]] && have "${BIN_UNIT:-}"; then
  run_step "unit tests" 150 "$OUT/unit_tests.log" env LD_LIBRARY_PATH="$TP_LD_PATH" "$BIN_UNIT" \
    --gtest_output="xml:$OUT/unit_tests.xml" --gtest_filter="${TP_GPU_UNIT_FILTER:-*}"
fi

# 3. Whole models through the CLI on cuda:0 against onnxruntime.
if ! have "${BIN_CLI:-}"; then
  record SKIP "GPU model tests" 0 "no tensorpod CLI"
elif ! "$PY" -c "import numpy, onnx, onnxruntime, pytest" 2>"$OUT/model_tests.log"; then
  record SKIP "GPU model tests" 0 "$PY lacks numpy/onnx/onnxruntime/pytest: $(tail -1 "$OUT/model_tests.log")"
else
  if run_step "GPU model tests" 180 "$OUT/model_tests.log" env TENSORPOD_CLI="$CLI" PYTHONUNBUFFERED=1 \
      "$PY" -m pytest -q -rs -p no:cacheprovider "$ROOT/tests/gpu/test_models_gpu.py" \
      --junitxml="$OUT/model_tests.xml" && grep -qE '^[0-9]+ skipped in' "$OUT/model_tests.log"; then
    unset 'STEPS[-1]'
    record SKIP "GPU model tests" 0 "$(grep -m1 -oE 'no usable GPU: .{0,200}' "$OUT/model_tests.log" || echo 'all skipped')"
  fi
fi

# 4. GEMM: tensorpod's kernels against cuBLAS / cuBLASLt.
if have "${BIN_GEMM:-}"; then
  run_step "GEMM benchmark" 150 "$OUT/gemm.log" env LD_LIBRARY_PATH="$TP_LD_PATH" "$BIN_GEMM" --out "$OUT/gemm.md"
else
  record SKIP "GEMM benchmark" 0 "no binary (${BIN_GEMM:-not built})"
fi

# 5. Models: tensorpod against PyTorch eager.
if ! have "${BIN_CLI:-}"; then
  record SKIP "PyTorch comparison" 0 "no tensorpod CLI"
else
  run_step "PyTorch comparison" 200 "$OUT/compare_torch.log" env PYTHONUNBUFFERED=1 \
    "$PY" "$ROOT/bench/gpu/compare_torch.py" --cli "$CLI" --out "$OUT/models.md"
fi

# 6. Everything else (build mode): the whole ctest suite, with what time is
# left; backend_ops already ran above.
if [[ "$MODE" == build && -f "${B:-}/CTestTestfile.cmake" ]]; then
  run_step "ctest" 300 "$OUT/ctest.log" env LD_LIBRARY_PATH="$TP_LD_PATH" \
    ctest --test-dir "$B" -j "$JOBS" -E '^backend_ops$' --output-on-failure --timeout 240 \
    --output-junit "$OUT/ctest.xml"
fi

# -------------------------------------------------------------- summary.md

section() {  # section TITLE FILE: the file's contents, or a line saying it is missing
  echo
  echo "## $1"
  echo
  if [[ -s "$2" ]]; then cat "$2"; else echo "($(basename "$2") not produced)"; fi
}

{
  echo "# tensorpod GPU run"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- GPU: $(head -1 "$OUT/gpu.txt")"
  commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  git -C "$ROOT" diff --quiet 2>/dev/null || commit+=" (uncommitted changes)"
  echo "- source: $commit"
  echo "- binaries: $MODE${TP_GPU_BUNDLE:+ ($TP_GPU_BUNDLE)}"
  echo "- wall time: $(($(date +%s) - START)) s of a ${BUDGET} s budget"
  echo
  echo "| step | result | seconds | detail |"
  echo "|---|---|---:|---|"
  printf '%s\n' "${STEPS[@]}"
  echo
  echo "## Backend op tests"
  echo
  if [[ -s "$OUT/backend_ops.log" ]]; then
    echo '```'
    # The totals, the final list of failures (not the lines ending "(N ms)"
    # printed as they ran) and the unsupported-op report.
    grep -E '^\[  (PASSED|FAILED|SKIPPED) *\] [0-9]+ tests?|^\[  FAILED  \] .*[^)]$|^\[backend ops\]|^  cuda' \
      "$OUT/backend_ops.log" | head -200
    echo '```'
  else
    echo "(not run)"
  fi
  if [[ -s "$OUT/unit_tests.log" ]]; then
    echo
    echo "## Unit tests"
    echo
    echo '```'
    grep -E '^\[  (PASSED|FAILED|SKIPPED) *\] [0-9]+ tests?|^\[  FAILED  \] .*[^)]$' "$OUT/unit_tests.log" |
      head -100
    echo '```'
  fi
  echo
  echo "## GPU model tests"
  echo
  echo '```'
  # pytest's short summary (-rs and failures) and its totals line.
  grep -E '^(FAILED|ERROR|SKIPPED) |^[0-9]+ (passed|failed|skipped|errors?)|^[=]+ .*(passed|failed|skipped|error)' \
    "$OUT/model_tests.log" 2>/dev/null | cut -c1-400 | tail -60
  echo '```'
  section "GEMM" "$OUT/gemm.md"
  section "Models" "$OUT/models.md"
  if [[ -s "$OUT/ctest.log" ]]; then
    echo
    echo "## ctest"
    echo
    echo '```'
    grep -E 'tests passed|\*\*\*Failed|\*\*\*Timeout|Not Run|^[[:space:]]+[0-9]+ - ' "$OUT/ctest.log" | tail -60
    echo '```'
  fi
  echo
  if ((FAILED)); then echo "FAIL: at least one step failed"; else echo "PASS: every step that ran passed"; fi
} >"$OUT/summary.md"

echo "[gpu run] summary: $OUT/summary.md"
exit "$FAILED"
