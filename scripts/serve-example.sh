#!/usr/bin/env bash
# Installs dependencies, builds tensorpod and serves the bundled example
# repository (examples/model_repository: an MLP with dynamic batching and an
# identity model) on the CPU, printing how to call it. Ctrl-C (SIGINT) or
# SIGTERM drains and stops it.
#
#   scripts/serve-example.sh [extra tensorpod serve flags, e.g. --http-port 9000 --device auto]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export PATH="/usr/local/cuda/bin:$PATH"
cmake --preset release >/dev/null
cmake --build --preset release --target tensorpod_cli
port=8000
metrics_port=8002
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [[ "${args[$i]}" == --http-port ]] && port=${args[$((i + 1))]}
  [[ "${args[$i]}" == --metrics-port ]] && metrics_port=${args[$((i + 1))]}
done
cat <<MSG

tensorpod serve: examples/model_repository on http://127.0.0.1:$port (metrics on :$metrics_port/metrics)

  curl -s localhost:$port/v2/health/ready
  curl -s localhost:$port/v2/models/mlp
  curl -s -X POST localhost:$port/v2/models/identity/infer \\
    -d '{"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}]}'

  With NVIDIA's client (pip install 'tritonclient[http]' numpy):

  python3 - <<'PY'
import numpy as np, tritonclient.http as http
c = http.InferenceServerClient("127.0.0.1:$port")
x = np.random.rand(4, 64).astype(np.float32)
inp = http.InferInput("input", list(x.shape), "FP32"); inp.set_data_from_numpy(x)
print(c.infer("mlp", [inp]).as_numpy("logits").argmax(axis=1))
PY

MSG
exec build/src/tensorpod serve --model-repository examples/model_repository --device cpu --drain-seconds 1 "$@"
