#!/usr/bin/env bash
# Builds tensorpod's CPU serving image without a Docker daemon, from
# deploy/docker/Dockerfile.cpu, with Debian's buildah (vfs storage, chroot
# isolation), on a Debian 12 base made here by debootstrap (no registry is
# needed), and optionally smoke-tests it.
#
#   scripts/build-image.sh                   # runtime + devel images, archives in out/images
#   scripts/build-image.sh --test            # ... then run the server from the image and check it
#   scripts/build-image.sh --custom-example  # ... and examples/custom-container on top of them
#
# Images (in buildah's storage, and in out/images as docker-archive files):
#   localhost/tensorpod/tensorpod:<version>-cpu         the runtime
#   localhost/tensorpod/tensorpod:<version>-cpu-devel   the build stage + SDK (storage only:
#                                                       skopeo copy containers-storage:... to export it)
#   localhost/tensorpod/custom-container:<version>      with --custom-example
# Push one to a registry with skopeo, e.g.
#   skopeo copy docker-archive:out/images/tensorpod-<version>-cpu.tar docker://<account>.dkr.ecr.<region>.amazonaws.com/tensorpod:<version>-cpu
#
# Environment: TP_IMAGE_DIR (state: storage, base rootfs; default .cache/images),
# TP_DEBIAN_MIRROR (default http://deb.debian.org/debian), PYTHON (for the
# smoke test; default .venv/bin/python, whose onnxruntime checks the MLP's output).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

test_image=0
custom=0
for arg in "$@"; do
  case "$arg" in
    --test) test_image=1 ;;
    --custom-example) custom=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "build-image: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

for tool in buildah skopeo umoci debootstrap; do
  command -v "$tool" >/dev/null || { echo "build-image: $tool not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "build-image: debootstrap and chroot need root" >&2; exit 1; }

version=$(cat VERSION)
state=${TP_IMAGE_DIR:-$root/.cache/images}
mirror=${TP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
out=$root/out/images
mkdir -p "$state" "$out"

# buildah and skopeo read the same storage configuration: vfs needs no
# overlay or fuse support from the kernel.
cat > "$state/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$state/storage"
runroot = "$state/run"
EOF
export CONTAINERS_STORAGE_CONF=$state/storage.conf
export BUILDAH_ISOLATION=chroot
store() { echo "containers-storage:$1"; }
py=${PYTHON:-}
if [ -z "$py" ]; then
  if [ -x "$root/.venv/bin/python" ]; then py=$root/.venv/bin/python; else py=python3; fi
fi

base=localhost/tensorpod-base/debian:bookworm-slim
runtime=localhost/tensorpod/tensorpod:$version-cpu
devel=localhost/tensorpod/tensorpod:$version-cpu-devel

# 1. The base: a minimal Debian 12 root file system, packed as an OCI archive
#    (what a registry's debian:bookworm-slim is, made here).
base_archive=$state/debian-bookworm-slim.oci.tar
if [ ! -f "$base_archive" ]; then
  echo "== base: debootstrap bookworm (minbase) from $mirror"
  rootfs=$state/base-rootfs
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$state/debootstrap.log" 2>&1 \
    || { tail -n 20 "$state/debootstrap.log" >&2; exit 1; }
  # Slim it as the official slim images do: no package lists, caches or docs.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  echo "deb $mirror bookworm main" > "$rootfs/etc/apt/sources.list"
  layout=$state/base-oci
  rm -rf "$layout" "$state/base-bundle"
  umoci init --layout "$layout"
  umoci new --image "$layout:bookworm-slim"
  umoci unpack --image "$layout:bookworm-slim" "$state/base-bundle" >/dev/null
  cp -a "$rootfs"/. "$state/base-bundle/rootfs/"
  umoci repack --image "$layout:bookworm-slim" "$state/base-bundle"
  umoci config --image "$layout:bookworm-slim" --config.cmd=bash \
    --config.env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  skopeo copy -q "oci:$layout:bookworm-slim" "oci-archive:$base_archive"
  rm -rf "$rootfs" "$layout" "$state/base-bundle"
fi
skopeo copy -q "oci-archive:$base_archive" "$(store "$base")"

# 2. The images, from the same Dockerfile a Docker user builds.
build() {  # build TARGET TAG DOCKERFILE [EXTRA ARGS]
  local target=$1 tag=$2 file=$3
  shift 3
  echo "== buildah bud --target $target -t $tag"
  buildah bud --layers --format docker --pull=never --target "$target" \
    --build-arg "BASE_IMAGE=$base" "$@" -f "$file" -t "$tag" .
}
build runtime "$runtime" deploy/docker/Dockerfile.cpu
build devel "$devel" deploy/docker/Dockerfile.cpu
# docker-archive (`docker load` reads it) keeps the Docker config fields, such
# as HEALTHCHECK, that the OCI image format has no place for.
export_image() {  # export_image IMAGE FILE
  rm -f "$2"
  skopeo copy -q "$(store "$1")" "docker-archive:$2:${1#localhost/}"
}
export_image "$runtime" "$out/tensorpod-$version-cpu.tar"

inspect() {  # inspect IMAGE: what a runtime will run, from the image's config
  echo "== skopeo inspect $1"
  skopeo inspect --config --raw "$(store "$1")" | "$py" -c '
import json, sys
c = json.load(sys.stdin)["config"]
print("User:        ", c.get("User"))
print("ExposedPorts:", " ".join(sorted(c.get("ExposedPorts", {}))))
print("Entrypoint:  ", c.get("Entrypoint"))
print("Healthcheck: ", (c.get("Healthcheck") or {}).get("Test"))
print("Env:         ", " ".join(e for e in c.get("Env", []) if e.startswith(("TENSORPOD_", "SCORER_"))))'
}
inspect "$runtime"
ls -l "$out/tensorpod-$version-cpu.tar"

if [ "$custom" = 1 ]; then
  build runtime "localhost/tensorpod/custom-container:$version" examples/custom-container/Dockerfile \
    --build-arg "BASE_IMAGE=$runtime" --build-arg "BUILD_IMAGE=$devel"
  export_image "localhost/tensorpod/custom-container:$version" "$out/custom-container-$version.tar"
  inspect "localhost/tensorpod/custom-container:$version"
fi

if [ "$test_image" = 1 ]; then
  echo "== smoke test: the runtime image, unpacked by umoci, run under chroot"
  "$py" tests/image/smoke_test.py --archive "$out/tensorpod-$version-cpu.tar" \
    --repository examples/model_repository --work "$state/smoke"
fi
echo "build-image: ok"
