"""How the HTTP library behind tensorpod serve was chosen: each candidate answering a fixed body, under wrk.

The candidates are the Debian-packaged ones the serve issue names: Boost.Beast
(as tensorpod's own HttpServer, src/server/http_server.cc) and libevhtp, each
on 2 threads answering every request with the identity model's response
JSON; nginx (2 workers, `return 200`) is the ceiling. wrk posts the identity
model's infer body at 1 and 32 connections, rounds alternating between the
servers; the report gives the median of 3 rounds. h2o (libh2o-evloop-dev) is
not measured.

Example::

    cmake -S . -B build-nocuda -DTENSORPOD_BUILD_BENCH=ON && ninja -C build-nocuda bench_http_beast bench_http_evhtp
    .venv/bin/python bench/http_libraries.py --build build-nocuda --markdown-out /tmp/http.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import IDENTITY_BODY, free_port, start_nginx, wait_http, wrk  # noqa: E402

RESPONSE = json.dumps({"model_name": "identity", "model_version": "1", "outputs": [
    {"name": "OUTPUT0", "datatype": "FP32", "shape": [1, 16], "data": [float(i) for i in range(16)]}]})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default="build", help="build folder with bench/http targets (TENSORPOD_BUILD_BENCH=ON)")
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--markdown-out")
    args = p.parse_args(argv)
    build = Path(args.build)
    env = dict(os.environ, TP_FIXED_BODY=RESPONSE)
    procs, urls = [], {}
    with tempfile.TemporaryDirectory(prefix="tp-http-") as tmp_s:
        tmp = Path(tmp_s)
        try:
            for name, binary in (("Boost.Beast (tensorpod's HttpServer)", "bench_http_beast"),
                                 ("libevhtp", "bench_http_evhtp")):
                port = free_port()
                procs.append(subprocess.Popen([str(build / "bench" / "http" / binary), str(port), "2"], env=env,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                urls[name] = f"http://127.0.0.1:{port}/v2/models/identity/infer"
            port = free_port()
            procs.append(start_nginx(tmp, port, RESPONSE))
            urls["nginx (ceiling)"] = f"http://127.0.0.1:{port}/v2/models/identity/infer"
            for url in urls.values():
                wait_http(url.rsplit("/v2", 1)[0] + "/")
            results: dict[tuple[str, int], list[dict]] = {}
            for _ in range(args.rounds):
                for connections in (1, 32):
                    for name, url in urls.items():
                        r = wrk(url, IDENTITY_BODY, connections, args.seconds)
                        results.setdefault((name, connections), []).append(r)
                        print(f"{name} c={connections}: {r['req_per_s']:.0f} req/s p50 {r['p50_us']:.0f} us",
                              file=sys.stderr)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=30)
    lines = ["# HTTP libraries for tensorpod serve", "",
             f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
             f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}; nproc {os.cpu_count()}",
             f"- each server 2 threads/workers, a fixed {len(RESPONSE)}-byte JSON response; wrk posts the identity infer "
             f"body; median of {args.rounds} alternating rounds of {args.seconds:g} s", "",
             "| server | connections | req/s | p50 us | p99 us | req/s / nginx |", "|---|---:|---:|---:|---:|---:|"]
    for connections in (1, 32):
        ceiling = statistics.median(r["req_per_s"] for r in results[("nginx (ceiling)", connections)])
        for name in urls:
            rs = results[(name, connections)]
            rps = statistics.median(r["req_per_s"] for r in rs)
            lines.append(f"| {name} | {connections} | {rps:.0f} | {statistics.median(r['p50_us'] for r in rs):.0f} | "
                         f"{statistics.median(r['p99_us'] for r in rs):.0f} | {rps / ceiling:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown_out:
        Path(args.markdown_out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
