#!/usr/bin/env python3
"""Latency of tensorpod against onnxruntime on the same models, same process.

Builds the models of ``tests/models/make_models.py`` (``--models`` picks
them; by default all six): the three test families at their default sizes
(``mlp``, ``resnet_cnn``, ``minilm_encoder``) and the three full-size ones
(``resnet18`` and ``mobilenetv2`` at 224x224, ``minilm6_mask``), encoders at
seq 128. For threads in (1, 2) and two batch sizes (1 and 32; encoders 1 and
8) it measures the p50 latency of

- tensorpod: ``tp_session_run`` through ctypes on borrowed numpy buffers,
  destroying the outputs after each call;
- onnxruntime: ``InferenceSession.run`` on the CPU EP with
  ``intra_op_num_threads=T``, ``inter_op_num_threads=1``, sequential
  execution and ``ORT_ENABLE_ALL`` graph optimisation.

Each row first checks that the two engines agree and stops with an error if
not (see ``check_outputs``). Both engines then warm up (at least two runs
each, up to four for models that run in well under a second); then they run
in alternating blocks of about 0.1 s each (the order flips every round), each
block after a 50 ms pause that lets the other engine's spinning pool threads
park, until each has run for ``--seconds`` and at least a few times, so that
machine noise lands on both. ``--repeat`` repeats the timing, not the warm-up.

Example::

    .venv/bin/python bench/compare_ort.py --lib build/src/libtensorpod.so --markdown-out bench/RESULTS.md
    .venv/bin/python bench/compare_ort.py --quick --models mlp,resnet_cnn,minilm_encoder
    .venv/bin/python bench/compare_ort.py --models resnet18,mobilenetv2,minilm6_mask --seconds 1 --repeat 3
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "models"))
import make_models  # noqa: E402

_NP_TO_TP = {np.dtype(np.float32): 1, np.dtype(np.float64): 4, np.dtype(np.int64): 5, np.dtype(np.int32): 6,
             np.dtype(np.bool_): 10}
_TP_TO_NP = {v: k for k, v in _NP_TO_TP.items()}


class TensorpodLib:
    """ctypes bindings for the parts of tensorpod.h this benchmark uses."""

    def __init__(self, path: str) -> None:
        lib = ctypes.CDLL(path)
        vp, sz, i64p = ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_int64)
        sigs = {
            "tp_get_version_string": ([], ctypes.c_char_p),
            "tp_status_message": ([vp], ctypes.c_char_p),
            "tp_status_destroy": ([vp], None),
            "tp_session_options_create": ([ctypes.POINTER(vp)], vp),
            "tp_session_options_destroy": ([vp], None),
            "tp_session_options_set_threads": ([vp, ctypes.c_int], vp),
            "tp_session_options_set_device": ([vp, ctypes.c_char_p], vp),
            "tp_session_load": ([ctypes.c_char_p, vp, ctypes.POINTER(vp)], vp),
            "tp_session_destroy": ([vp], None),
            "tp_session_output_count": ([vp], sz),
            "tp_session_output_name": ([vp, sz], ctypes.c_char_p),
            "tp_session_run": ([vp, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(vp), sz,
                                ctypes.POINTER(ctypes.c_char_p), sz, ctypes.POINTER(vp)], vp),
            "tp_tensor_create_borrowed": ([vp, ctypes.c_int, i64p, sz, ctypes.POINTER(vp)], vp),
            "tp_tensor_destroy": ([vp], None),
            "tp_tensor_data": ([vp], vp),
            "tp_tensor_shape": ([vp], i64p),
            "tp_tensor_rank": ([vp], sz),
            "tp_tensor_dtype": ([vp], ctypes.c_int),
            "tp_tensor_byte_size": ([vp], sz),
        }
        for name, (args, res) in sigs.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = args, res
        self.lib = lib

    def check(self, status: int | None, what: str) -> None:
        if status:
            message = self.lib.tp_status_message(status).decode()
            self.lib.tp_status_destroy(status)
            raise RuntimeError(f"tensorpod: {what}: {message}")

    @property
    def version(self) -> str:
        return self.lib.tp_get_version_string().decode()


class TensorpodRunner:
    """One tensorpod session with fixed, borrowed inputs; ``run()`` is the timed call."""

    def __init__(self, tp: TensorpodLib, model_path: str, threads: int, inputs: dict[str, np.ndarray]) -> None:
        self.tp, lib = tp, tp.lib
        opts = ctypes.c_void_p()
        tp.check(lib.tp_session_options_create(ctypes.byref(opts)), "options")
        try:
            tp.check(lib.tp_session_options_set_threads(opts, threads), "set_threads")
            tp.check(lib.tp_session_options_set_device(opts, b"cpu"), "set_device")
            self.session = ctypes.c_void_p()
            tp.check(lib.tp_session_load(model_path.encode(), opts, ctypes.byref(self.session)), "load")
        finally:
            lib.tp_session_options_destroy(opts)
        self.n_out = lib.tp_session_output_count(self.session)
        self.output_names = [lib.tp_session_output_name(self.session, i).decode() for i in range(self.n_out)]
        self._arrays = [np.ascontiguousarray(a) for a in inputs.values()]  # keeps borrowed memory alive
        self._names = (ctypes.c_char_p * len(inputs))(*[n.encode() for n in inputs])
        self._inputs = (ctypes.c_void_p * len(inputs))()
        for i, a in enumerate(self._arrays):
            shape = (ctypes.c_int64 * a.ndim)(*a.shape)
            t = ctypes.c_void_p()
            tp.check(lib.tp_tensor_create_borrowed(a.ctypes.data, _NP_TO_TP[a.dtype], shape, a.ndim,
                                                   ctypes.byref(t)), "create_borrowed")
            self._inputs[i] = t.value
        self._outputs = (ctypes.c_void_p * self.n_out)()
        self._run = lib.tp_session_run
        self._destroy = lib.tp_tensor_destroy

    def _call(self) -> None:
        status = self._run(self.session, self._names, self._inputs, len(self._arrays), None, self.n_out,
                           self._outputs)
        if status:
            self.tp.check(status, "run")

    def run(self) -> None:
        self._call()
        for i in range(self.n_out):
            self._destroy(self._outputs[i])

    def outputs(self) -> dict[str, np.ndarray]:
        self._call()
        lib, result = self.tp.lib, {}
        for i, name in enumerate(self.output_names):
            t = self._outputs[i]
            shape = [lib.tp_tensor_shape(t)[d] for d in range(lib.tp_tensor_rank(t))]
            buf = (ctypes.c_char * lib.tp_tensor_byte_size(t)).from_address(lib.tp_tensor_data(t))
            result[name] = np.frombuffer(buf, dtype=_TP_TO_NP[lib.tp_tensor_dtype(t)]).reshape(shape).copy()
            lib.tp_tensor_destroy(t)
        return result

    def close(self) -> None:
        for i in range(len(self._arrays)):
            self.tp.lib.tp_tensor_destroy(self._inputs[i])
        self.tp.lib.tp_session_destroy(self.session)


class OrtRunner:
    def __init__(self, model_path: str, threads: int, inputs: dict[str, np.ndarray]) -> None:
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
        self.inputs = inputs
        self.output_names = [o.name for o in self.sess.get_outputs()]

    def run(self) -> None:
        self.sess.run(self.output_names, self.inputs)

    def outputs(self) -> dict[str, np.ndarray]:
        return dict(zip(self.output_names, self.sess.run(self.output_names, self.inputs)))


# The batch sizes each family is measured at; the keys are the families
# --models may name, in the default order.
BATCHES = {"mlp": (1, 32), "resnet_cnn": (1, 32), "minilm_encoder": (1, 8), "resnet18": (1, 32),
           "mobilenetv2": (1, 32), "minilm6_mask": (1, 8)}
ENCODERS = ("minilm_encoder", "minilm6_mask")
IMAGE_SIZES = {"resnet_cnn": 32, "resnet18": 224, "mobilenetv2": 224}

# Agreement bar: max |tp - ort| <= ATOL + RTOL * max |ort| per output. The
# relative part follows the output's scale (resnet18's random-weight logits
# reach about 70), so float32 reassociation over 20 or 50
# layers passes, while a wrong kernel, which is off by the order of the
# output itself, still fails.
ATOL, RTOL = 1e-3, 1e-3


def _inputs(family: str, batch: int, seq: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    if family == "mlp":
        return {"input": rng.standard_normal((batch, 784)).astype(np.float32)}
    if family in IMAGE_SIZES:
        image = IMAGE_SIZES[family]
        return {"input": rng.standard_normal((batch, 3, image, image)).astype(np.float32)}
    ids = rng.integers(0, 1000, size=(batch, seq), dtype=np.int64)
    mask = np.ones((batch, seq), dtype=np.int64)
    if family == "minilm_encoder":
        mask[1::2, seq - seq // 4:] = 0  # right padding on every other row
    else:  # every row padded, to a length in [seq/2, seq), so batch 1 is masked too
        for row, length in enumerate(rng.integers(seq // 2, seq, size=batch)):
            mask[row, length:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def check_outputs(got: dict[str, np.ndarray], want: dict[str, np.ndarray], what: str) -> tuple[float, float]:
    """Largest |got - want| over all outputs, absolute and relative to max |want|.

    Raises SystemExit naming ``what`` and the output when a shape differs or
    the difference exceeds ``ATOL + RTOL * max |want|``.

    Example::

        abs_err, rel_err = check_outputs(tpr.outputs(), ortr.outputs(), "resnet18 threads=1 batch=1")
    """
    worst_abs = worst_rel = 0.0
    for name, w in want.items():
        g = got[name]
        if g.shape != w.shape:
            raise SystemExit(f"MISMATCH {what} output {name}: shape {g.shape} vs {w.shape}")
        scale = float(np.abs(w).max()) if w.size else 0.0
        err = float(np.abs(g.astype(np.float64) - w).max()) if w.size else 0.0
        if not err <= ATOL + RTOL * scale:  # also catches NaN
            raise SystemExit(f"MISMATCH {what} output {name}: max |diff| {err:.3g}, max |onnxruntime| "
                             f"{scale:.3g}, allowed {ATOL:g} + {RTOL:g} * {scale:.3g}")
        worst_abs = max(worst_abs, err)
        worst_rel = max(worst_rel, err / scale if scale else 0.0)
    return worst_abs, worst_rel


def _timed(fn: Callable[[], None], n: int, into: list[float]) -> None:
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        into.append(time.perf_counter() - t0)


def warm_up(fns: dict[str, Callable[[], None]], warm_s: float = 0.5) -> None:
    """Runs each engine until its plans, buffers and caches are in place.

    Alternates single runs; stops after two rounds once an engine has spent
    ``warm_s``, else after four, so a ResNet-18 batch of 32 (0.5 s a run)
    costs two runs per engine rather than four.

    Example::

        warm_up({"tp": tpr.run, "ort": ortr.run})
    """
    warm: dict[str, list[float]] = {k: [] for k in fns}
    rounds = 0
    while rounds < 2 or (rounds < 4 and max(sum(v) for v in warm.values()) < warm_s):
        for k, fn in fns.items():
            _timed(fn, 1, warm[k])
        rounds += 1


# Idle time before each block of runs (see measure).
BLOCK_GAP_S = 0.05


def measure(fns: dict[str, Callable[[], None]], seconds: float, min_iters: int,
            block_s: float = 0.1) -> dict[str, tuple[float, int]]:
    """p50 latency (ms) of each engine and its number of timed runs, after ``warm_up``.

    Example::

        result = measure({"tp": tpr.run, "ort": ortr.run}, seconds=1.0, min_iters=5)
        tp_ms, tp_runs = result["tp"]
    """
    times: dict[str, list[float]] = {k: [] for k in fns}
    order = list(fns)
    while any(sum(times[k]) < seconds or len(times[k]) < min_iters for k in times):
        for k in order:
            # The engine that ran last leaves its pool threads spinning for a
            # while (onnxruntime's spin by default, OpenMP's before they
            # sleep); on a machine with as many cores as threads they would
            # take the next engine's cores. A pause lets them park first.
            time.sleep(BLOCK_GAP_S)
            end = time.perf_counter() + block_s
            _timed(fns[k], 1, times[k])
            while time.perf_counter() < end:
                _timed(fns[k], 1, times[k])
        order.reverse()
    return {k: (1e3 * float(np.median(v)), len(v)) for k, v in times.items()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lib", default=os.environ.get("TENSORPOD_LIB", str(REPO_ROOT / "build/src/libtensorpod.so")),
                        help="libtensorpod.so (default: $TENSORPOD_LIB or build/src/libtensorpod.so)")
    parser.add_argument("--quick", action="store_true", help="short run: 0.2 s per engine per row")
    parser.add_argument("--seconds", type=float, default=None, help="timed seconds per engine per row (default 2)")
    parser.add_argument("--seq", type=int, default=128, help="encoder sequence length")
    parser.add_argument("--models", default="mlp,resnet_cnn,minilm_encoder",
                        help=f"comma-separated families to run, from {', '.join(BATCHES)} (default: the three "
                             "small ones; the 224x224 CNNs and the 6-layer encoder take minutes)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure each row this many times and report the medians (default 1)")
    parser.add_argument("--markdown-out", help="also write the table, command, date and CPU to this file")
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else (0.2 if args.quick else 2.0)
    # Slow rows (ResNet-18 at batch 32 runs for about a second) take this many
    # timed runs even when --seconds is spent sooner.
    min_iters = 3 if args.quick else 5
    repeat = max(1, args.repeat)

    families = [f.strip() for f in args.models.split(",") if f.strip()]
    unknown = [f for f in families if f not in BATCHES]
    if unknown:
        parser.error(f"unknown models {', '.join(unknown)}; choose from {', '.join(BATCHES)}")
    tp = TensorpodLib(args.lib)
    load_before = os.getloadavg()
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in families:
            path = make_models.save(getattr(make_models, family)(seed=0), os.path.join(tmp, f"{family}.onnx"))
            label = f"{family} (seq {args.seq})" if family in ENCODERS else family
            for threads in (1, 2):
                for batch in BATCHES[family]:
                    row_started = time.perf_counter()
                    inputs = _inputs(family, batch, args.seq, rng)
                    tpr = TensorpodRunner(tp, path, threads, inputs)
                    ortr = OrtRunner(path, threads, inputs)
                    try:
                        abs_err, rel_err = check_outputs(tpr.outputs(), ortr.outputs(),
                                                         f"{label} threads={threads} batch={batch}")
                        fns = {"tp": tpr.run, "ort": ortr.run}
                        warm_up(fns)
                        runs = [measure(fns, seconds, min_iters) for _ in range(repeat)]
                    finally:
                        tpr.close()
                    tp_ms = float(np.median([r["tp"][0] for r in runs]))
                    ort_ms = float(np.median([r["ort"][0] for r in runs]))
                    n_tp, n_ort = sum(r["tp"][1] for r in runs), sum(r["ort"][1] for r in runs)
                    rows.append((label, threads, batch, tp_ms, ort_ms, abs_err, rel_err))
                    print(f"{label:28s} threads={threads} batch={batch:3d}  tensorpod {tp_ms:9.3f} ms ({n_tp} runs)"
                          f"  onnxruntime {ort_ms:9.3f} ms ({n_ort} runs)  ratio {tp_ms / ort_ms:.2f}"
                          f"  max|diff| {abs_err:.2g} ({rel_err:.1e} of max|out|)"
                          f"  [{time.perf_counter() - row_started:.0f} s]", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    print(f"total {elapsed:.0f} s", file=sys.stderr)

    table = ["| model | threads | batch | tensorpod p50 ms | onnxruntime p50 ms | ratio (tp/ort) | max abs diff |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    table += [f"| {m} | {t} | {b} | {tpm:.3f} | {orm:.3f} | {tpm / orm:.2f} | {err:.1e} |"
              for m, t, b, tpm, orm, err, _ in rows]
    print("\n".join(table))
    if args.markdown_out:
        env = [f"{k}={shlex.quote(v)}" for k, v in sorted(os.environ.items())
               if k.startswith(("OMP_", "GOMP_", "ONEDNN_", "DNNL_", "TENSORPOD_"))]
        command = " ".join(env + [shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]])
        load_after = os.getloadavg()
        meta = [
            f"- command: `{command}`",
            f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
            f"- CPU: {_cpu_model()} ({os.cpu_count()} logical cores visible); 1-min load average "
            f"{load_before[0]:.1f} at start, {load_after[0]:.1f} at end",
            f"- tensorpod {tp.version} ({args.lib}); onnxruntime {ort.__version__}; numpy {np.__version__}; "
            f"Python {platform.python_version()}",
            f"- timed {seconds:g} s (and at least {min_iters} runs) per engine per row after warm-up, "
            f"alternating ~0.1 s blocks each after a {1e3 * BLOCK_GAP_S:g} ms pause, {repeat} time(s) per row "
            "with the median p50 reported; "
            f"outputs checked to agree (max |diff| <= {ATOL:g} + {RTOL:g} * max |onnxruntime output|) on every "
            f"row; whole run {elapsed / 60:.1f} min",
        ]
        Path(args.markdown_out).write_text("\n".join(table + [""] + meta) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
