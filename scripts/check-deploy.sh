#!/usr/bin/env bash
# Checks everything under deploy/ without a cluster or a registry:
#   - yamllint (strict, .yamllint) on deploy/;
#   - `kubectl kustomize` renders the base, every overlay, deploy/k8s/karpenter
#     and deploy/k8s/batch;
#   - every rendered object is valid: built-in kinds against the Kubernetes
#     OpenAPI schemas (kubernetes-validate, strict, Kubernetes $TP_K8S_VERSION),
#     custom resources against deploy/schemas; the broken fixtures in
#     deploy/schemas/tests/invalid are rejected, each for its stated reason;
#   - cross-object invariants (deploy/schemas/invariants.py);
#   - the PrometheusRule: `promtool check rules`, `promtool test rules` with
#     deploy/monitoring/tests/rules_test.yaml, every rule tested;
#   - the Grafana dashboard: structure, only metrics that exist, queries that
#     promtool parses;
#   - with a built `tensorpod` (TENSORPOD_BIN, default build/src/tensorpod):
#     the metrics it really exposes match deploy/monitoring/tensorpod-metrics.txt
#     and pass `promtool check metrics`; the batch loop runs on example inputs;
#   - checkov on the rendered manifests and on deploy/docker's Dockerfiles,
#     every skipped check with its reason.
# Prints one line per check and a summary; exits non-zero if any check failed.
# Needs kubectl (with kustomize), promtool, yamllint, and in $TP_DEPLOY_VENV
# (.venv-deploy) the packages pinned in scripts/requirements-deploy.txt
# (checkov, kubernetes-validate, jsonschema, PyYAML); scripts/install-deps.sh
# installs them all.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${TP_DEPLOY_VENV:-.venv-deploy}
py="$venv/bin/python"
k8s_version=${TP_K8S_VERSION:-1.31}
tensorpod_bin=${TENSORPOD_BIN:-build/src/tensorpod}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0
skipped=0
failed=()

# check NAME COMMAND...: runs COMMAND, prints "ok NAME: <its last line>" or
# "FAIL NAME" followed by everything it printed. COMMAND runs as an `if`
# condition, where bash ignores `set -e`: the helper functions below chain
# their steps with && so that a failing step fails the check.
check() {
  local name=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then
    passed=$((passed + 1))
    local last
    last=$(grep -v '^[[:space:]]*$' "$tmp/out" | tail -n 1 | sed 's/^[[:space:]]*//' || true)
    echo "ok    $name${last:+: $last}"
  else
    failed+=("$name")
    echo "FAIL  $name"
    sed 's/^/      /' "$tmp/out"
  fi
}

skip() {
  skipped=$((skipped + 1))
  echo "skip  $1: $2"
}

# Tools first: without them nothing below means anything.
missing=()
for tool in kubectl promtool yamllint; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ -x "$py" ] || missing+=("$py")
[ -x "$venv/bin/checkov" ] || missing+=("$venv/bin/checkov")
if [ ${#missing[@]} -gt 0 ]; then
  echo "check-deploy: missing ${missing[*]}" >&2
  echo "  (scripts/install-deps.sh installs them: scripts/requirements-deploy.txt into $venv; promtool, yamllint and kubectl from the OS)" >&2
  exit 1
fi
tool_versions() {
  local python_packages
  python_packages=$("$py" -c 'import importlib.metadata as m
print(", ".join(f"{p} {m.version(p)}" for p in ("kubernetes-validate", "jsonschema", "checkov", "PyYAML")))') &&
    echo "$python_packages, kustomize $(kubectl version --client | sed -n 's/^Kustomize Version: //p')," \
      "promtool $(promtool --version 2>&1 | sed -n 's/^promtool, version \([^ ]*\).*/\1/p'), $(yamllint --version)"
}
check "tools" tool_versions

check "yamllint --strict deploy/" yamllint --strict -c .yamllint deploy/

# Render every kustomization into $tmp/rendered/<name>.yaml.
mkdir -p "$tmp/rendered"
render() {
  kubectl kustomize "$1" >"$tmp/rendered/$2.yaml" &&
    echo "$(grep -c '^kind:' "$tmp/rendered/$2.yaml") objects"
}
check "kustomize deploy/k8s/base" render deploy/k8s/base base
for overlay in deploy/k8s/overlays/*/; do
  overlay=${overlay%/}
  check "kustomize $overlay" render "$overlay" "$(basename "$overlay")"
done
check "kustomize deploy/k8s/karpenter" render deploy/k8s/karpenter karpenter
check "kustomize deploy/k8s/batch" render deploy/k8s/batch batch
# Everything below reads the rendered sets; the base is covered by the overlays.
rendered=()
for f in "$tmp"/rendered/*.yaml; do
  [ "$(basename "$f")" = base.yaml ] || rendered+=("$f")
done

validate_all() {
  "$py" deploy/schemas/validate.py --kubernetes-version "$k8s_version" "$@" | sed "s|$tmp/rendered/||"
}
check "schemas: every rendered object" validate_all "${rendered[@]}"
check "schemas: broken fixtures rejected" \
  "$py" deploy/schemas/validate.py --expect-invalid --kubernetes-version "$k8s_version" deploy/schemas/tests/invalid/*.yaml
check "invariants across objects" "$py" deploy/schemas/invariants.py "${rendered[@]}"

# The rules as Prometheus loads them, next to a copy of the unit tests that
# name them as tensorpod-rules.yaml.
mkdir -p "$tmp/rules"
check "PrometheusRule extracted" "$py" deploy/monitoring/check_monitoring.py rules \
  "$tmp/rendered/base.yaml" "$tmp/rules/tensorpod-rules.yaml"
check "promtool check rules" promtool check rules "$tmp/rules/tensorpod-rules.yaml"
cp deploy/monitoring/tests/rules_test.yaml "$tmp/rules/"
check "promtool test rules" promtool test rules "$tmp/rules/rules_test.yaml"
check "rules: known metrics, every rule tested" "$py" deploy/monitoring/check_monitoring.py rules-check \
  "$tmp/rules/tensorpod-rules.yaml" deploy/monitoring/tests/rules_test.yaml deploy/monitoring/tensorpod-metrics.txt

check "grafana dashboard: panels and metrics" "$py" deploy/monitoring/check_monitoring.py dashboard \
  deploy/monitoring/grafana-dashboard.json "$tmp/rules/tensorpod-rules.yaml" \
  deploy/monitoring/tensorpod-metrics.txt "$tmp/dashboard-queries.yaml"
check "grafana dashboard: promtool parses the queries" promtool check rules "$tmp/dashboard-queries.yaml"

# A binary without `serve` is an old build (or TENSORPOD_BUILD_SERVER=OFF).
usage=""
if [ -x "$tensorpod_bin" ]; then
  usage=$("$tensorpod_bin" 2>&1 || true)
fi
if grep -q '^  serve ' <<<"$usage"; then
  check "metrics exposed by $tensorpod_bin serve" "$py" deploy/monitoring/check_monitoring.py live-metrics \
    "$tensorpod_bin" examples/model_repository deploy/monitoring/tensorpod-metrics.txt "$tmp/scrape.txt"
  lint_scrape() { promtool check metrics <"$tmp/scrape.txt"; }
  check "promtool check metrics (live scrape)" lint_scrape
  batch_run() {
    mkdir -p "$tmp/batch/in/a" "$tmp/batch/in/b" "$tmp/batch/in/bad" &&
      "$py" -c 'import numpy as np, sys
np.save(sys.argv[1] + "/a/input.npy", np.ones((2, 64), np.float32))
np.save(sys.argv[1] + "/b/input.npy", np.ones((3, 64), np.float32))
np.save(sys.argv[1] + "/bad/input.npy", np.ones((3, 63), np.float32))' "$tmp/batch/in" || return 1
    # Exits 0: two of the three items run; FAILED lists the third.
    PATH="$(dirname "$(realpath "$tensorpod_bin")"):$PATH" BATCH_MODEL=examples/model_repository/mlp/1/model.onnx \
      BATCH_INPUT_DIR="$tmp/batch/in" BATCH_OUTPUT_DIR="$tmp/batch/out" BATCH_DEVICE=cpu \
      sh deploy/k8s/batch/run-batch.sh >"$tmp/batch/log" 2>&1
    if [ -f "$tmp/batch/out/a/logits.npy" ] && [ -f "$tmp/batch/out/b/logits.npy" ] &&
      [ "$(cat "$tmp/batch/out/FAILED")" = bad ]; then
      echo "2 items ran, the malformed one is listed in FAILED"
    else
      cat "$tmp/batch/log"
      return 1
    fi
  }
  check "batch loop (run-batch.sh) on example inputs" batch_run
else
  skip "metrics exposed by tensorpod serve" "no $tensorpod_bin with serve (build it, or set TENSORPOD_BIN)"
  skip "batch loop (run-batch.sh)" "no $tensorpod_bin with serve"
fi
if command -v shellcheck >/dev/null; then
  shellcheck_all() {
    shellcheck -s sh deploy/k8s/batch/run-batch.sh &&
      shellcheck scripts/check-deploy.sh &&
      echo "run-batch.sh (POSIX sh), check-deploy.sh (bash)"
  }
  check "shellcheck" shellcheck_all
else
  skip "shellcheck" "shellcheck is not installed"
fi

# checkov. Reasons for checks skipped on one object sit next to it, as
# checkov.io/skipN annotations (deploy/k8s/base/deployment.yaml,
# deploy/k8s/batch/cronjob.yaml). Checks skipped everywhere:
k8s_skips=(
  # (none: every Kubernetes finding is either fixed or annotated on its object)
)
docker_skips=(
  # CKV_DOCKER_7 (base image tag not latest): the Dockerfiles name their bases
  # through build arguments (FROM ${BASE_IMAGE}), whose defaults checkov does
  # not resolve, so it sees no tag at all. The check below, "Dockerfile base
  # images pinned", does the same job on the resolved names.
  CKV_DOCKER_7
)
check "checkov: rendered Kubernetes manifests" "$py" deploy/schemas/checkov_k8s.py --checkov "$venv/bin/checkov" \
  --skip-check "$(IFS=,; echo "${k8s_skips[*]}")" "$tmp/checkov" "${rendered[@]}"
if compgen -G "deploy/docker/Dockerfile*" >/dev/null; then
  # Every FROM, its ARG defaults substituted, names an earlier stage or an
  # image with a tag other than latest (or a digest).
  pinned_bases() {
    "$py" - deploy/docker/Dockerfile* <<'PY'
import re, sys
bad, count = [], 0
for path in sys.argv[1:]:
    args, stages = {}, set()
    for line in open(path).read().replace("\\\n", " ").splitlines():
        m = re.match(r"\s*ARG\s+(\w+)=(\S+)", line)
        if m:
            args[m[1]] = re.sub(r"\$\{(\w+)\}", lambda v: args.get(v[1], ""), m[2].strip('"'))
        m = re.match(r"\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if m:
            image = re.sub(r"\$\{?(\w+)\}?", lambda v: args.get(v[1], ""), m[1])
            count += 1
            pinned = "@sha256:" in image or re.search(r":[^/:]+$", image) and not image.endswith(":latest")
            if image not in stages and not pinned:
                bad.append(f"{path}: FROM {m[1]} resolves to {image!r}, which has no fixed tag")
            if m[2]:
                stages.add(m[2])
print("\n".join(bad) or f"{count} FROM lines in {len(sys.argv) - 1} Dockerfiles: stages or pinned tags")
sys.exit(1 if bad else 0)
PY
  }
  check "Dockerfile base images pinned" pinned_bases
  checkov_docker() {
    "$venv/bin/checkov" -d deploy/docker --framework dockerfile --skip-download --compact --quiet \
      --skip-check "$(IFS=,; echo "${docker_skips[*]}")" &&
      echo "Dockerfiles pass (skipped everywhere: ${docker_skips[*]})"
  }
  check "checkov: deploy/docker Dockerfiles" checkov_docker
else
  skip "checkov: deploy/docker Dockerfiles" "no deploy/docker/Dockerfile* yet"
fi

if [ ${#failed[@]} -gt 0 ]; then
  failed_list=$(printf '%s; ' "${failed[@]}")
  echo "check-deploy: ${#failed[@]} checks FAILED (${failed_list%; }), $passed passed, $skipped skipped"
  exit 1
fi
echo "check-deploy: $passed checks passed, $skipped skipped"
