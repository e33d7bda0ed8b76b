"""Smoke test of a tensorpod serving image without a container engine.

Unpacks the image (a docker-archive file) with umoci, then runs exactly what a container
runtime would: the image's entrypoint, environment, working directory and user,
chrooted into its root file system, with only the listening address and ports
overridden through TENSORPOD_* variables. Checks readiness, one inference per
example model, the image's own HEALTHCHECK command, the non-root user, that no
build tools shipped, and a clean exit on SIGTERM.

    python tests/image/smoke_test.py --archive out/images/tensorpod-0.1.0-cpu.tar \
        --repository examples/model_repository --work .cache/images/smoke

Needs root (chroot, bind mounts), skopeo and umoci. Called by
scripts/build-image.sh --test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(ok: bool, what: str) -> None:
    print(f"  {'ok  ' if ok else 'FAIL'} {what}", flush=True)
    if not ok:
        raise SystemExit(f"smoke test failed: {what}")


def http(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


class Mounts:
    """/dev and /proc inside the root file system, as a runtime provides them."""

    def __init__(self, rootfs: Path) -> None:
        self.points = []
        for name in ("dev", "proc"):
            target = rootfs / name
            target.mkdir(exist_ok=True)
            cmd = ["mount", "--rbind", "/dev", str(target)] if name == "dev" else \
                ["mount", "-t", "proc", "proc", str(target)]
            subprocess.run(cmd, check=True)
            self.points.append(target)

    def close(self) -> None:
        for target in reversed(self.points):
            subprocess.run(["umount", "-R", "-l", str(target)], check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archive", required=True, type=Path, help="the image as a docker-archive file")
    ap.add_argument("--repository", required=True, type=Path, help="model repository to serve")
    ap.add_argument("--work", required=True, type=Path, help="scratch folder (emptied)")
    args = ap.parse_args()

    if os.geteuid() != 0:
        raise SystemExit("smoke test: needs root (chroot and mounts)")
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    layout, bundle = args.work / "oci", args.work / "bundle"

    print(f"== image {args.archive}")
    config = json.loads(run("skopeo", "inspect", "--config", "--raw", f"docker-archive:{args.archive}"))["config"]
    run("skopeo", "copy", "-q", f"docker-archive:{args.archive}", f"oci:{layout}:image")
    run("umoci", "unpack", "--image", f"{layout}:image", str(bundle))
    rootfs = bundle / "rootfs"
    process = json.loads((bundle / "config.json").read_text())["process"]

    check(config.get("User") == "10001:10001", f"runs as 10001:10001 (User {config.get('User')!r})")
    check(config.get("Entrypoint") == ["tensorpod", "serve"], f"exec-form entrypoint {config.get('Entrypoint')}")
    ports = sorted(config.get("ExposedPorts", {}))
    check(ports == ["8000/tcp", "8001/tcp", "8002/tcp"], f"exposes {ports}")
    health_cmd = (config.get("Healthcheck") or {}).get("Test", [])
    check(health_cmd[:1] == ["CMD"], f"HEALTHCHECK {health_cmd}")
    shipped = [t for t in ("usr/bin/gcc", "usr/bin/g++", "usr/bin/cc", "usr/bin/cmake", "usr/bin/ninja",
                           "usr/bin/make", "usr/include/eigen3") if (rootfs / t).exists()]
    check(not shipped, f"no build tools in the runtime (found: {shipped or 'none'})")

    models = rootfs / "models"
    shutil.copytree(args.repository, models, dirs_exist_ok=True)
    uid, gid = process["user"]["uid"], process["user"]["gid"]
    for p in [models, *models.rglob("*")]:
        os.chown(p, uid, gid)

    http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    env = dict(e.split("=", 1) for e in process["env"])
    env.update(TENSORPOD_HOST="127.0.0.1", TENSORPOD_HTTP_PORT=str(http_port),
               TENSORPOD_GRPC_PORT=str(grpc_port), TENSORPOD_METRICS_PORT=str(metrics_port),
               TENSORPOD_DRAIN_SECONDS="1", TENSORPOD_THREADS="1")

    def enter() -> None:  # in the child: what the runtime does before exec
        os.chroot(rootfs)
        os.chdir(process.get("cwd", "/"))
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    mounts = Mounts(rootfs)
    log_path = args.work / "serve.log"
    log = open(log_path, "w")
    server = None
    try:
        print(f"== {' '.join(process['args'])} (chroot, uid {uid}, 127.0.0.1:{http_port})")
        server = subprocess.Popen(process["args"], env=env, preexec_fn=enter, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.time() + 120
        ready = False
        while time.time() < deadline and server.poll() is None:
            try:
                if http("GET", f"{base}/v2/health/ready")[0] == 200:
                    ready = True
                    break
            except OSError:
                pass
            time.sleep(0.2)
        if not ready:
            print(log_path.read_text())
        check(ready, "GET /v2/health/ready answers 200")
        status = Path(f"/proc/{server.pid}/status").read_text()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        check(uid_line.split()[1] == "10001", f"the server process runs as uid 10001 ({uid_line.strip()})")

        code, meta = http("GET", f"{base}/v2")
        check(code == 200 and meta.get("name") == "tensorpod", f"GET /v2: {code} {meta.get('name')} {meta.get('version')}")

        code, meta = http("GET", f"{base}/v2/models/identity")
        inp = meta["inputs"][0]
        values = [0.25 * i - 1.5 for i in range(int(inp["shape"][-1]))]
        code, out = http("POST", f"{base}/v2/models/identity/infer",
                         {"inputs": [{"name": inp["name"], "shape": [1, len(values)], "datatype": "FP32",
                                      "data": values}]})
        got = out.get("outputs", [{}])[0].get("data") if code == 200 else out
        check(code == 200 and got == values, f"identity infer returns its {len(values)} inputs exactly")

        code, meta = http("GET", f"{base}/v2/models/mlp")
        inp = meta["inputs"][0]
        width = int(inp["shape"][-1])
        x = [((i * 37) % 17) / 17.0 - 0.5 for i in range(2 * width)]
        code, out = http("POST", f"{base}/v2/models/mlp/infer",
                         {"inputs": [{"name": inp["name"], "shape": [2, width], "datatype": "FP32", "data": x}]})
        check(code == 200, f"mlp infer: {code} {out.get('error', '')}")
        y = out["outputs"][0]
        try:
            import numpy as np
            import onnxruntime as ort
        except ImportError:
            check(y["shape"][0] == 2, f"mlp output shape {y['shape']} (onnxruntime not installed: values unchecked)")
        else:
            sess = ort.InferenceSession(str(args.repository / "mlp" / "1" / "model.onnx"),
                                        providers=["CPUExecutionProvider"])
            ref = sess.run(None, {inp["name"]: np.array(x, np.float32).reshape(2, width)})[0]
            err = float(np.max(np.abs(np.array(y["data"], np.float32).reshape(ref.shape) - ref)))
            check(err < 1e-4, f"mlp output matches onnxruntime (max abs diff {err:.2e})")

        probe = subprocess.run(health_cmd[1:], env=env, preexec_fn=enter, capture_output=True, text=True, timeout=30)
        check(probe.returncode == 0, f"the image's HEALTHCHECK ({' '.join(health_cmd[1:])}) exits 0 {probe.stderr.strip()}")

        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
            metrics = r.read().decode()
        check('tensorpod_inference_requests_total{model="mlp",version="1",result="success"} 1' in metrics,
              "/metrics counts the inference")

        server.send_signal(signal.SIGTERM)
        rc = server.wait(timeout=60)
        check(rc == 0, f"SIGTERM: exit code {rc}")
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        mounts.close()
        log.close()
    print("smoke test: passed")


if __name__ == "__main__":
    sys.exit(main())
