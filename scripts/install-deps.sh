#!/usr/bin/env bash
# Installs everything a fresh Debian 12 build machine needs to build and test
# tensorpod. Idempotent: safe to run again; skips what is already there.
#
#   scripts/install-deps.sh            # Debian packages + Python venv in .venv
#   TP_VENV=/path scripts/install-deps.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${TP_VENV:-$root/.venv}

debs=(
  build-essential cmake ninja-build ccache pkg-config git
  libeigen3-dev libspdlog-dev libfmt-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  libdnnl-dev libopenblas-dev
  libgtest-dev libgmock-dev libbenchmark-dev libonnx-testdata
  clang libclang-rt-14-dev
  libboost-dev rapidjson-dev libgrpc++-dev protobuf-compiler-grpc
  prometheus wrk nginx-light libb64-0d libevhtp-dev libevent-dev
)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

py=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/scripts/requirements-dev.txt"
echo "install-deps: ok (venv: $venv)"
