#!/usr/bin/env python3
"""tensorpod's FP32 GEMM against this machine's measured peak (and onnxruntime's).

The peak is measured, not looked up: a C loop of independent FMA chains
(AVX-512 where the CPU has it, else AVX2), compiled here with the system C
compiler and run on 1 thread and on every thread the GEMM gets. Each GEMM is
a one-node ONNX model, ``Y = MatMul(A, W)`` with W a constant initializer (as
a model's weights are: tensorpod packs them at load), run through the C API
(``tp_session_run``) and through onnxruntime's CPU provider at the same thread
count; the figure is 2·M·K·N over the p50 latency.

Shapes: square 512, 1024 and 2048, and the MiniLM encoder's projections at
batch 1 and 8 (M = batch x 128, K and N in {384, 1536}).

Example::

    .venv/bin/python bench/gemm_peak.py --lib build/src/libtensorpod.so --markdown-out /tmp/gemm.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_ort import OrtRunner, TensorpodLib, TensorpodRunner  # noqa: E402

SHAPES = [  # (kind, M, K, N)
    ("square", 512, 512, 512),
    ("square", 1024, 1024, 1024),
    ("square", 2048, 2048, 2048),
    ("encoder b1", 128, 384, 384),
    ("encoder b1", 128, 384, 1536),
    ("encoder b1", 128, 1536, 384),
    ("encoder b8", 1024, 384, 384),
    ("encoder b8", 1024, 384, 1536),
    ("encoder b8", 1024, 1536, 384),
]

FMA_SOURCE = r"""
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

/* CHAINS independent accumulators hide the FMA latency; each iteration does
 * CHAINS vector FMAs of LANES floats, 2 flops per lane. */
#if defined(__AVX512F__)
#define LANES 16
#define VEC __m512
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#else
#define LANES 8
#define VEC __m256
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#endif
#define CHAINS 16

int main(int argc, char** argv) {
  const long iters = argc > 1 ? atol(argv[1]) : 100000000L;
  float sink = 0;
  const double t0 = omp_get_wtime();
#pragma omp parallel reduction(+ : sink)
  {
    VEC acc[CHAINS];
    const VEC a = SET1(0.999999f), b = SET1(1e-7f);
    for (int c = 0; c < CHAINS; ++c) acc[c] = SET1((float)c);
    for (long i = 0; i < iters; ++i) {
      for (int c = 0; c < CHAINS; ++c) acc[c] = FMA(acc[c], a, b);
    }
    VEC s = acc[0];
    for (int c = 1; c < CHAINS; ++c) s = ADD(s, acc[c]);
    float out[LANES];
    STORE(out, s);
    sink += out[0];
  }
  const double seconds = omp_get_wtime() - t0;
  const double flops = 2.0 * LANES * CHAINS * (double)iters * omp_get_max_threads();
  printf("%.3f %d %s %g\n", flops / seconds / 1e9, omp_get_max_threads(), LANES == 16 ? "avx512" : "avx2", sink);
  return 0;
}
"""


def fma_peak(threads: int, work: Path) -> tuple[float, str]:
    """GFLOP/s of the FMA loop on ``threads`` threads, and the ISA it used (best of 3)."""
    exe = work / "fma_peak"
    if not exe.exists():
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc is None:
            raise SystemExit("gemm_peak: no C compiler (cc) for the FMA peak loop")
        src = work / "fma_peak.c"
        src.write_text(FMA_SOURCE)
        isa = "-mavx512f" if "avx512f" in Path("/proc/cpuinfo").read_text() else "-mavx2"
        subprocess.run([cc, "-O3", "-funroll-loops", isa, "-mfma", "-fopenmp", str(src), "-o", str(exe)],
                       check=True)
    best, isa = 0.0, ""
    for _ in range(3):
        out = subprocess.run([str(exe), "100000000"], check=True, capture_output=True, text=True,
                             env=dict(os.environ, OMP_NUM_THREADS=str(threads))).stdout.split()
        best, isa = max(best, float(out[0])), out[2]
    return best, isa


def matmul_model(m: int, k: int, n: int, path: Path) -> None:
    w = (np.random.default_rng(0).standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "W"], ["Y"])], "gemm",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [m, n])],
        [numpy_helper.from_array(w, "W")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def p50_seconds(fn, seconds: float) -> float:
    for _ in range(3):
        fn()
    times: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 5:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", default="build/src/libtensorpod.so", help="libtensorpod.so to measure")
    ap.add_argument("--seconds", type=float, default=1.0, help="timed seconds per shape, engine and thread count")
    ap.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    ap.add_argument("--markdown-out", help="also write the report here")
    args = ap.parse_args()
    tp = TensorpodLib(args.lib)
    thread_counts = [int(t) for t in args.threads.split(",")]
    rows, peaks = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for t in thread_counts:
            peaks[t], isa = fma_peak(t, work)
            print(f"FMA peak ({isa}), {t} thread(s): {peaks[t]:.1f} GFLOP/s", file=sys.stderr)
        for kind, m, k, n in SHAPES:
            path = work / f"gemm_{m}x{k}x{n}.onnx"
            matmul_model(m, k, n, path)
            a = np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)
            flops = 2.0 * m * k * n
            for t in thread_counts:
                tp_runner = TensorpodRunner(tp, str(path), t, {"A": a})
                ort_runner = OrtRunner(str(path), t, {"A": a})
                got, want = tp_runner.outputs()["Y"], ort_runner.outputs()["Y"]
                err = float(np.max(np.abs(got - want)))
                if err > 1e-3:
                    raise SystemExit(f"gemm_peak: {m}x{k}x{n}: tensorpod and onnxruntime differ by {err}")
                tp_gf = flops / p50_seconds(tp_runner.run, args.seconds) / 1e9
                ort_gf = flops / p50_seconds(ort_runner.run, args.seconds) / 1e9
                tp_runner.close()
                rows.append((kind, f"{m}x{k}x{n}", t, peaks[t], tp_gf, ort_gf))
                print(f"{kind} {m}x{k}x{n} T={t}: tensorpod {tp_gf:.1f} ({100 * tp_gf / peaks[t]:.1f}% of peak), "
                      f"onnxruntime {ort_gf:.1f} GFLOP/s", file=sys.stderr)
    lines = [
        "| shape | M x K x N | threads | FMA peak GFLOP/s | tensorpod GFLOP/s | % of peak | onnxruntime GFLOP/s "
        "| % of peak |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, mkn, t, peak, tp_gf, ort_gf in rows:
        lines.append(f"| {kind} | {mkn} | {t} | {peak:.1f} | {tp_gf:.1f} | {100 * tp_gf / peak:.1f}% | "
                     f"{ort_gf:.1f} | {100 * ort_gf / peak:.1f}% |")
    import onnxruntime
    lines += [
        "",
        f"- command: `{shlex.join([sys.executable, *sys.argv])}`",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
        f"- CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores; FMA peak: the "
        f"best of 3 runs of a {isa} loop of 16 independent FMA chains on each thread count",
        f"- tensorpod {tp.version} ({args.lib}); onnxruntime {onnxruntime.__version__} (intra-op threads = "
        f"threads); p50 over {args.seconds:g} s per row after 3 warm-up runs; outputs agree (atol 1e-3)",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown_out:
        Path(args.markdown_out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
