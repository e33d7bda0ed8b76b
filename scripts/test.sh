#!/usr/bin/env bash
# Installs dependencies, builds tensorpod and runs every test:
#   1. Release build (gcc) with the CUDA backend when nvcc is present (for
#      one architecture, TP_CUDA_ARCHS, default 80): unit, kernel, backend-op,
#      conformance, C and C++ API, install, model tests, and tensorpod serve
#      with tritonclient, through ctest. Tests that need a GPU print why they skip.
#      Then the deployment checks (scripts/check-deploy.sh: yamllint,
#      kustomize, schema validation, promtool, checkov) and the autoscaling
#      simulator's tests.
#   2. The Python package: `pip install .` into a fresh virtual environment
#      (build folder build-python, sharing ccache objects with the release
#      build) and its pytest suite (tests/python) against the installed package.
#   3. clang ASan+UBSan build: unit, kernel and conformance tests under the
#      sanitizers, and the fuzzers of the model loader and of the server's
#      inference request parser for TP_FUZZ_SECONDS (60) each.
#   4. clang ThreadSanitizer build: the batcher's tests, with the stress test
#      at 16 threads x 5,000 requests.
# Set TP_SKIP_SANITIZERS=1 to run only the first two parts, TP_SKIP_PYTHON=1
# to skip the second. TP_IMAGE_TEST=1 adds, at the end, the CPU container
# image built by scripts/build-image.sh and smoke-tested (needs root; about 10
# minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh
export PATH="/usr/local/cuda/bin:$PATH"
# Paths under the checkout hash relative to each build folder, so that the
# release build and the Python package's build share ccache objects.
export CCACHE_BASEDIR="$root"
jobs=${TP_JOBS:-$(nproc)}

echo "== release build"
cuda_flags=()
if command -v nvcc >/dev/null; then
  # CI compiles every CUDA source for one architecture; release builds of the
  # library default to 75;80;86;89;90.
  cuda_flags=(-DTENSORPOD_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="${TP_CUDA_ARCHS:-80}")
else
  echo "nvcc not found: building without the CUDA backend"
fi
cmake --preset release -DTENSORPOD_PYTHON="$root/.venv/bin/python" "${cuda_flags[@]}" >/dev/null
cmake --build --preset release -j "$jobs"
echo "== release tests"
ctest --preset release -j "$jobs"

echo "== deployment checks (deploy/: manifests, schemas, rules, dashboard, Dockerfiles)"
TENSORPOD_BIN=build/src/tensorpod scripts/check-deploy.sh
echo "== autoscaling simulator tests (bench/test_autoscale_sim.py)"
.venv/bin/python -m pytest -q -p no:cacheprovider bench/test_autoscale_sim.py

if [ "${TP_SKIP_PYTHON:-0}" != "1" ]; then
  echo "== Python package: pip install . into a fresh virtual environment"
  pyenv_dir=$(mktemp -d)
  python3 -m venv "$pyenv_dir/venv"
  py_flags=(-Cbuild-dir=build-python)
  if command -v nvcc >/dev/null; then
    py_flags+=(-Ccmake.define.CMAKE_CUDA_ARCHITECTURES="${TP_CUDA_ARCHS:-80}")
  fi
  "$pyenv_dir/venv/bin/python" -m pip install -q --disable-pip-version-check "${py_flags[@]}" "$root[test]"
  echo "== Python tests (tests/python, against the installed package)"
  # From outside the checkout, so that `import tensorpod` is the installed one.
  (cd "$pyenv_dir" && "$pyenv_dir/venv/bin/python" -m pytest -q -p no:cacheprovider -rs "$root/tests/python")
  rm -rf "$pyenv_dir"
fi

if [ "${TP_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== ASan+UBSan build (clang)"
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs" --target tp_unit_tests tp_kernel_tests tp_conformance fuzz_model_loader fuzz_infer_request
  echo "== ASan+UBSan tests"
  # A failed allocation must surface as RESOURCE_EXHAUSTED, as in production.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  ctest --preset asan -j "$jobs"
  seconds=${TP_FUZZ_SECONDS:-60}
  echo "== fuzzing the model loader for ${seconds}s"
  corpus=$(mktemp -d)
  trap 'rm -rf "$corpus"' EXIT
  # Seed with real models: the bundled examples and a slice of the node tests.
  cp examples/models/*.onnx tests/data/*.onnx "$corpus"/ 2>/dev/null || true
  i=0
  for m in /usr/share/libonnx-testdata/data/node/*/model.onnx; do
    [ $((i++ % 10)) -eq 0 ] && cp "$m" "$corpus/node_$i.onnx"
  done
  # A fixed seed makes the CI run repeatable; change it (TP_FUZZ_SEED) to explore further.
  build-asan/tests/fuzz/fuzz_model_loader -seed="${TP_FUZZ_SEED:-1}" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 \
    -print_final_stats=1 "$corpus" 2>&1 | tail -n 15
  echo "fuzz: no crash in ${seconds}s"
  echo "== fuzzing the server's inference request parser for ${seconds}s"
  infer_corpus=$(mktemp -d)
  cp tests/fuzz/corpus_infer/* "$infer_corpus"/
  build-asan/tests/fuzz/fuzz_infer_request -seed="${TP_FUZZ_SEED:-1}" -max_total_time="$seconds" -max_len=8192 \
    -rss_limit_mb=4096 -print_final_stats=1 "$infer_corpus" 2>&1 | tail -n 15
  rm -rf "$infer_corpus"
  echo "fuzz: no crash in ${seconds}s"

  echo "== ThreadSanitizer build (clang): the batcher"
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan -j "$jobs" --target tp_unit_tests
  echo "== ThreadSanitizer: batcher tests, stress at 16 threads x 5000 requests"
  TP_BATCHER_STRESS_REQUESTS=5000 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    build-tsan/tests/tp_unit_tests --gtest_filter='Batcher*:Scheduler*:LoadTracker*:QuantileSketch*:Slo*'
fi
if [ "${TP_IMAGE_TEST:-0}" = "1" ]; then
  echo "== container image: build with buildah and smoke-test (TP_IMAGE_TEST=1)"
  scripts/build-image.sh --test --custom-example
fi
echo "== all tests passed"
