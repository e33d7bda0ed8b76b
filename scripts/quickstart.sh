#!/usr/bin/env bash
# Installs dependencies, builds tensorpod, and runs and benchmarks the bundled
# example model (an MLP classifier, examples/models/mlp.onnx).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target tensorpod_cli
model=examples/models/mlp.onnx
input=$(mktemp -d)
trap 'rm -rf "$input"' EXIT
.venv/bin/python - "$input/input.npy" <<'PY'
import sys
import numpy as np
np.save(sys.argv[1], np.random.default_rng(0).standard_normal((4, 64), dtype=np.float32))
PY
build/src/tensorpod inspect "$model"
build/src/tensorpod run "$model" --input input="$input/input.npy" --output-dir "$input/out"
.venv/bin/python -c "import numpy as np, sys; print('logits argmax per row:', np.load(sys.argv[1]).argmax(axis=1))" "$input/out/logits.npy"
build/src/tensorpod bench "$model" --batch 32 --threads 2 --seconds 3
