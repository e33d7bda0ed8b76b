"""Per-call overhead from Python: tensorpod's ``model(x)`` against onnxruntime's ``InferenceSession.run``.

On a tiny model (one Relu on ``[1, 4]``, whose compute is a fraction of a
microsecond) the time per call is almost all overhead: argument conversion,
the engine's bookkeeping, allocating and wrapping the outputs. Both run on one
thread in the same process, alternating rounds so drifting machine load hits
both alike; the report gives the median over rounds of each round's mean time
per call, and the ratio (target: tensorpod <= onnxruntime).

Also measured, for scale: onnxruntime-compatible ``model.run(None, feeds)``
and a 784-512-256-10 MLP at batch 1.

Example::

    /tmp/venv-py/bin/python bench/python_overhead.py --markdown-out /tmp/overhead.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

import tensorpod as tp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "models"))
from make_models import IR_VERSION, OPSET, mlp  # noqa: E402


def tiny_model() -> onnx.ModelProto:
    """``output = Relu(input)`` on ``[batch, 4]``.

    Example::

        onnx.save(tiny_model(), "/tmp/tiny.onnx")
    """
    graph = helper.make_graph([helper.make_node("Relu", ["input"], ["output"])], "tiny",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 4])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls / 1e3


def measure(fns: dict[str, Callable[[], object]], calls: int, rounds: int) -> dict[str, float]:
    """Median over rounds of the mean microseconds per call, rounds alternating between the functions."""
    for fn in fns.values():
        per_call_us(fn, calls // 10 + 1)  # warm up
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(per_call_us(fn, calls))
    return {k: statistics.median(v) for k, v in samples.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=20000, help="calls per round (default 20000)")
    p.add_argument("--rounds", type=int, default=7, help="rounds per function (default 7)")
    p.add_argument("--markdown-out", help="write the report here")
    args = p.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, proto, shape in (("tiny (Relu [1,4])", tiny_model(), (1, 4)), ("mlp 784-512-256-10", mlp(seed=1), (1, 784))):
            path = os.path.join(tmp, "m.onnx")
            onnx.save(proto, path)
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            model = tp.load(path, device="cpu", threads=1)
            x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            feeds = {"input": x}
            np.testing.assert_allclose(model(x), sess.run(None, feeds)[0], rtol=1e-4, atol=1e-5)
            calls = args.calls if name.startswith("tiny") else max(1000, args.calls // 10)
            t = measure({
                "tensorpod model(x)": lambda: model(x),
                "tensorpod model.run(None, feeds)": lambda: model.run(None, feeds),
                "onnxruntime sess.run(None, feeds)": lambda: sess.run(None, feeds),
            }, calls, args.rounds)
            rows.append((name, t))
            print(f"{name}: " + ", ".join(f"{k} {v:.2f} us" for k, v in t.items()), file=sys.stderr)

    lines = [
        "# Python per-call overhead: tensorpod vs onnxruntime",
        "",
        f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
        f"- tensorpod {tp.__version__}, onnxruntime {ort.__version__}, numpy {np.__version__}, "
        f"Python {sys.version.split()[0]}; nproc {os.cpu_count()}, load `{Path('/proc/loadavg').read_text().strip()}`",
        f"- one thread each; median over {args.rounds} alternating rounds of the mean time per call",
        "",
        "| model | tensorpod `model(x)` us | tensorpod `model.run` us | onnxruntime `run` us | model(x) / onnxruntime |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, t in rows:
        tpc, tpr, o = t["tensorpod model(x)"], t["tensorpod model.run(None, feeds)"], t["onnxruntime sess.run(None, feeds)"]
        lines.append(f"| {name} | {tpc:.2f} | {tpr:.2f} | {o:.2f} | {tpc / o:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown_out:
        Path(args.markdown_out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
