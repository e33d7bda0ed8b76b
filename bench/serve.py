"""Serving benchmark: tensorpod serve against KServe's Python server and nginx, in one run.

1. perf_analyzer (NVIDIA's load generator, from the tritonclient 2.34.0 wheel
   on PyPI: later wheels no longer carry the binary, and the PyPI package
   ``perf-analyzer`` is an empty placeholder) against ``tensorpod serve`` over
   HTTP and gRPC, for the identity model (16 floats) and the example MLP, at
   concurrency 1, 8 and 32: infer/s, p50 and p99 latency.
2. wrk (Debian) posting the identity model's JSON infer body at 32
   connections to tensorpod and to KServe's Python model server (pip
   ``kserve``) serving the same ONNX file with onnxruntime; and, as this
   machine's HTTP ceiling, wrk against an nginx (Debian) location that
   returns a fixed JSON body of the same size. perf_analyzer does not drive
   KServe (it needs Triton's model configuration endpoint), so the servers
   are compared on wrk's numbers.

The helpers live in ``.cache/``: ``bench-perf`` (tritonclient 2.34.0 and the
CUDA 12 runtime its perf_analyzer links against) and ``bench-kserve``
(kserve, onnxruntime); ``--setup`` makes them.

Example::

    .venv/bin/python bench/serve.py --setup --markdown-out /tmp/serve.md
"""

from __future__ import annotations

import argparse
import csv
import datetime
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"
PERF_VENV = CACHE / "bench-perf"
KSERVE_VENV = CACHE / "bench-kserve"
CONCURRENCY = (1, 8, 32)
IDENTITY_BODY = json.dumps({"inputs": [{"name": "INPUT0", "shape": [1, 16], "datatype": "FP32",
                                        "data": [float(i) for i in range(16)]}]})


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup() -> None:
    """Creates the helper environments (network access to PyPI needed once)."""
    for venv, packages in ((PERF_VENV, ["tritonclient[http,grpc]==2.34.0", "nvidia-cuda-runtime-cu12"]),
                           (KSERVE_VENV, ["kserve", "onnxruntime"])):
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *packages], check=True)


def perf_env() -> dict:
    libs = glob.glob(str(PERF_VENV / "lib" / "python3*" / "site-packages" / "nvidia" / "cuda_runtime" / "lib"))
    return dict(os.environ, LD_LIBRARY_PATH=":".join(libs + [os.environ.get("LD_LIBRARY_PATH", "")]))


def wait_http(url: str, timeout: float = 60) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready in {timeout} s")


def perf_analyzer(model: str, url: str, protocol: str, concurrency: int, seconds: float) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".csv") as f:
        cmd = [str(PERF_VENV / "bin" / "perf_analyzer"), "-m", model, "-u", url, "-i", protocol,
               "--concurrency-range", f"{concurrency}:{concurrency}", "--measurement-interval",
               str(int(seconds * 1000)), "--stability-percentage", "50", "-f", f.name]
        proc = subprocess.run(cmd, env=perf_env(), capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        row = next(csv.DictReader(open(f.name)))
    return {"infer_per_s": float(row["Inferences/Second"]), "p50_us": float(row["p50 latency"]),
            "p99_us": float(row["p99 latency"])}


def wrk(url: str, body: str | None, connections: int, seconds: float) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        if body is not None:
            f.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                    'wrk.headers["Content-Type"] = "application/json"\n')
        script = f.name
    try:
        cmd = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds:g}s", "--latency", "-s", script, url]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    finally:
        os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v * {"us": 1, "ms": 1e3, "s": 1e6}[unit]

    return {"req_per_s": rps, "p50_us": pct("50"), "p99_us": pct("99"), "non_2xx": int(errors.group(1)) if errors else 0}


def start_nginx(tmp: Path, port: int, body: str) -> subprocess.Popen:
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
worker_processes 2;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type application/json; return 200 '{body}'; }}
  }}
}}
""")
    return subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cli", default=str(REPO / "build" / "src" / "tensorpod"), help="tensorpod binary")
    p.add_argument("--seconds", type=float, default=4.0, help="measurement per point (default 4)")
    p.add_argument("--setup", action="store_true", help="create the helper environments in .cache/ first")
    p.add_argument("--markdown-out", help="write the report here")
    args = p.parse_args(argv)
    if args.setup:
        setup()
    for need in (PERF_VENV / "bin" / "perf_analyzer", KSERVE_VENV / "bin" / "python"):
        if not need.exists():
            raise SystemExit(f"{need} is missing: run with --setup")
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install wrk nginx-light)")

    started = datetime.datetime.now(datetime.timezone.utc)
    procs: list[subprocess.Popen] = []
    results: dict = {"perf": [], "wrk": []}
    with tempfile.TemporaryDirectory(prefix="tp-serve-bench-") as tmp_s:
        tmp = Path(tmp_s)
        repo = tmp / "models"
        shutil.copytree(REPO / "examples" / "model_repository", repo)
        http_port, grpc_port = free_port(), free_port()
        try:
            tp = subprocess.Popen([args.cli, "serve", "--model-repository", str(repo), "--host", "127.0.0.1",
                                   "--http-port", str(http_port), "--grpc-port", str(grpc_port), "--metrics-port", "0",
                                   "--device", "cpu", "--threads", "1", "--drain-seconds", "0"],
                                  stdout=subprocess.DEVNULL, stderr=open(tmp / "tensorpod.log", "w"))
            procs.append(tp)
            wait_http(f"http://127.0.0.1:{http_port}/v2/health/ready")
            for model in ("identity", "mlp"):
                for protocol, port in (("http", http_port), ("grpc", grpc_port)):
                    for c in CONCURRENCY:
                        r = perf_analyzer(model, f"127.0.0.1:{port}", protocol, c, args.seconds)
                        r.update(model=model, protocol=protocol, concurrency=c)
                        results["perf"].append(r)
                        log(f"perf_analyzer {model} {protocol} c={c}: {r['infer_per_s']:.0f}/s p50 {r['p50_us']:.0f} us "
                            f"p99 {r['p99_us']:.0f} us")
            k_http, k_grpc = free_port(), free_port()
            ks = subprocess.Popen([str(KSERVE_VENV / "bin" / "python"), str(REPO / "bench" / "serve" / "kserve_onnx.py"),
                                   "identity", str(repo / "identity" / "1" / "model.onnx"), str(k_http), str(k_grpc)],
                                  stdout=subprocess.DEVNULL, stderr=open(tmp / "kserve.log", "w"))
            procs.append(ks)
            wait_http(f"http://127.0.0.1:{k_http}/v2/models/identity/ready")
            nginx_port = free_port()
            fixed = json.dumps({"model_name": "identity", "outputs": [{"name": "OUTPUT0", "shape": [1, 16],
                                "datatype": "FP32", "data": [float(i) for i in range(16)]}]})
            procs.append(start_nginx(tmp, nginx_port, fixed))
            wait_http(f"http://127.0.0.1:{nginx_port}/")
            for name, url, body in (
                    ("nginx, fixed JSON (HTTP ceiling)", f"http://127.0.0.1:{nginx_port}/", None),
                    ("tensorpod, identity infer (JSON)", f"http://127.0.0.1:{http_port}/v2/models/identity/infer", IDENTITY_BODY),
                    ("KServe + onnxruntime, identity infer (JSON)", f"http://127.0.0.1:{k_http}/v2/models/identity/infer",
                     IDENTITY_BODY)):
                r = wrk(url, body, 32, args.seconds)
                r["server"] = name
                results["wrk"].append(r)
                log(f"wrk {name}: {r['req_per_s']:.0f} req/s p50 {r['p50_us']:.0f} us p99 {r['p99_us']:.0f} us, "
                    f"non-2xx {r['non_2xx']}")
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()

    wrk_by = {r["server"].split(",")[0]: r for r in results["wrk"]}
    lines = [
        "# Serving benchmark: tensorpod serve vs KServe's Python server and nginx",
        "",
        f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        f"- date: {started.isoformat(timespec='seconds')}; nproc {os.cpu_count()}; load at end "
        f"`{Path('/proc/loadavg').read_text().strip()}`",
        f"- {args.seconds:g} s per point; tensorpod on the CPU, 1 engine thread per run; perf_analyzer from tritonclient "
        "2.34.0; KServe " + subprocess.run([str(KSERVE_VENV / "bin" / "pip"), "show", "kserve"], capture_output=True,
                                            text=True).stdout.split("Version: ")[1].split()[0],
        "",
        "## perf_analyzer against tensorpod",
        "",
        "| model | protocol | concurrency | infer/s | p50 us | p99 us |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results["perf"]:
        lines.append(f"| {r['model']} | {r['protocol']} | {r['concurrency']} | {r['infer_per_s']:.0f} | "
                     f"{r['p50_us']:.0f} | {r['p99_us']:.0f} |")
    lines += ["", "## wrk, 32 connections, identity model's JSON infer body", "",
              "| server | req/s | p50 us | p99 us | non-2xx |", "|---|---:|---:|---:|---:|"]
    for r in results["wrk"]:
        lines.append(f"| {r['server']} | {r['req_per_s']:.0f} | {r['p50_us']:.0f} | {r['p99_us']:.0f} | {r['non_2xx']} |")
    tp_rps, ks_rps, ng_rps = (wrk_by["tensorpod"]["req_per_s"], wrk_by["KServe + onnxruntime"]["req_per_s"],
                              wrk_by["nginx"]["req_per_s"])
    c1 = {(r["protocol"]): r for r in results["perf"] if r["model"] == "identity" and r["concurrency"] == 1}
    lines += ["", "## Against the targets", "",
              f"- identity, concurrency 1, p50: HTTP {c1['http']['p50_us']:.0f} us, gRPC {c1['grpc']['p50_us']:.0f} us "
              f"(target < 150 us)",
              f"- wrk at 32 connections: tensorpod / KServe = {tp_rps / ks_rps:.1f}x (target >= 10x); "
              f"tensorpod / nginx = {tp_rps / ng_rps:.2f} (target >= 0.30)"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown_out:
        Path(args.markdown_out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
