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
  yamllint shellcheck buildah skopeo umoci debootstrap
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

# kubectl (with its built-in kustomize) renders the Kubernetes manifests in
# scripts/check-deploy.sh. Debian 12 does not package it; machines with the
# Google Cloud SDK's apt repository (as tensorpod's build machines) install it
# from there.
if ! command -v kubectl >/dev/null; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq kubectl \
    || echo "install-deps: kubectl is not available from this machine's apt sources; install kubectl 1.27+ (https://kubernetes.io/docs/tasks/tools/) for scripts/check-deploy.sh" >&2
fi

py=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/scripts/requirements-dev.txt"
# The deployment checks' tools (scripts/check-deploy.sh) in a venv of their own.
deploy_venv=${TP_DEPLOY_VENV:-$root/.venv-deploy}
if [ ! -x "$deploy_venv/bin/python" ]; then
  "$py" -m venv "$deploy_venv"
fi
"$deploy_venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/scripts/requirements-deploy.txt"
echo "install-deps: ok (venv: $venv, deployment checks: $deploy_venv)"
