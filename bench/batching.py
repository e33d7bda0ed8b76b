"""Dynamic batching benchmark: what the batcher gains over fixed batches and over no batching.

Drives ``tensorpod bench`` (closed loop and ``--mode open-loop``) on the test
models from ``tests/models/make_models.py`` and reports, per model:

1. Closed loop, one request at a time at a fixed batch B in {1, 2, 4, 8, 16,
   32}: rows/s and p50. The *unbatched* throughput is B = 1, the *best
   fixed-batch* throughput the maximum over B.
2. Open loop (Poisson arrivals of one-row requests) at geometrically spaced
   rates from 10% of the unbatched throughput to 1.5x the best fixed-batch
   throughput, for two configurations:

   - ``batcher``: max batch 32, max queue delay = the batch-1 p50 clamped to
     [200, 500] us (long enough to gather a few requests at moderate load,
     short next to a millisecond latency budget; ``--max-delay-us`` overrides);
   - ``no batching``: max batch 1, delay 0.

   Both use the same ``--max-queue`` (default 4 x max batch = 128: a few
   batches' worth), so that overload rejects requests instead of queueing
   without bound; a deeper queue adds latency under overload and no throughput.
3. Summary: saturation throughput (the most completed req/s over the sweep)
   with the batcher against the best fixed batch and against unbatched
   (target >= 3x for the MLP); the batcher against the best fixed batch
   again as the median of 3 pairs of runs, each pair the closed loop at the
   best batch and the batcher offered 1.2x that with a 32-batch queue, back
   to back (target >= 0.95: the machine's stalls move single runs by several
   percent); and, at the points below saturation
   (offered rate <= 80% of that configuration's saturation throughput, nothing
   rejected), whether p99 <= max queue delay + 2 x service time, where the
   service time is the closed-loop p50 at ``mean_batch`` rows, linearly
   interpolated between the measured batch sizes.
4. Scheduling overhead on an identity-like model (one Relu on ``[batch, 4]``,
   whose compute is a fraction of a microsecond), see ``measure_overhead``.
5. ``--png``: p50 and p99 (log scale) against achieved throughput, batcher
   against no batching, one subplot per model.

The open-loop generator and the batcher worker are two threads, so on a
machine with few cores and other load the numbers are noisy: compare ratios
from the same run, and read the load averages that the report records.

Usage::

    .venv/bin/python bench/batching.py                      # mlp and cnn, 2 s per point
    .venv/bin/python bench/batching.py --quick --markdown-out /tmp/batching.md --png /tmp/batching.png
    .venv/bin/python bench/batching.py --models mlp --seconds 3 --threads 2
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import onnx
from onnx import TensorProto, helper

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "models"))
from make_models import IR_VERSION, OPSET, minilm_encoder, mlp, resnet_cnn  # noqa: E402

MODELS: dict[str, Callable[[], onnx.ModelProto]] = {"mlp": mlp, "cnn": resnet_cnn, "encoder": minilm_encoder}
# Extra `tensorpod bench` arguments per model: the encoder's sequence length.
MODEL_ARGS: dict[str, tuple[str, ...]] = {"encoder": ("--dim", "seq=128")}
BATCH_SIZES = (1, 2, 4, 8, 16, 32)
MAX_BATCH = 32
DELAY_RANGE_US = (200, 500)
BELOW_SATURATION = 0.8  # offered / saturation throughput at which the p99 bound is checked
SATURATION_TARGET = 0.95  # batcher saturation / best fixed batch
SPEEDUP_TARGETS = {"mlp": 3.0}  # batcher saturation / unbatched
SATURATION_OFFER = 1.2  # offered / best fixed-batch throughput in the paired saturation runs
SATURATION_PAIRS = 3
SATURATION_QUEUE = 32  # batches the paired saturation runs may queue
OVERHEAD_RATES = (1e5, 3e5, 1e6)  # req/s offered to the identity model


@dataclasses.dataclass
class Point:
    """One open-loop run: what was offered and what came back."""

    config: str
    offered: float  # req/s
    achieved: float  # completed req/s
    p50_ms: float
    p99_ms: float
    mean_batch: float
    rejected: int  # refused at submit: the queue was full
    failed: int  # accepted but failed or unfinished
    lag_ms: float  # how far the arrival generator fell behind; latencies count from the due time
    p99_submit_ms: float = math.nan  # p99 from submission: the batcher's share, without the generator's lag
    queue_p99_ms: float = math.nan  # the batcher's own report: time queued
    compute_p99_ms: float = math.nan  # and time in Session::Run
    bound_ms: float = math.nan  # max queue delay + 2 x service time at mean_batch
    checked: bool = False  # below saturation, so the bound applies


@dataclasses.dataclass
class ModelResult:
    """Everything measured on one model: closed-loop batch sizes and the open-loop sweep."""

    name: str
    closed: dict[int, dict]  # batch -> closed-loop JSON
    delay_us: int
    points: list[Point]
    # Paired saturation runs: (best fixed batch rows/s, batcher req/s at SATURATION_OFFER x that), back to back.
    pairs: list[tuple[float, float]] = dataclasses.field(default_factory=list)

    @property
    def paired_ratio(self) -> float:
        """Median over the pairs of batcher / best fixed batch, each pair measured back to back."""
        ratios = sorted(b / f for f, b in self.pairs)
        return ratios[len(ratios) // 2] if ratios else math.nan

    @property
    def unbatched(self) -> float:
        return self.closed[1]["throughput_per_s"]

    @property
    def best_batch(self) -> int:
        return max(self.closed, key=lambda b: self.closed[b]["throughput_per_s"])

    @property
    def best_fixed(self) -> float:
        return self.closed[self.best_batch]["throughput_per_s"]

    def saturation(self, config: str) -> float:
        return max(p.achieved for p in self.points if p.config == config)


class Cli:
    """Runs ``tensorpod bench ... --json`` and parses its one-line answer."""

    def __init__(self, path: Path, threads: int, seconds: float, device: str = "cpu", instances: int = 1) -> None:
        self.path = path
        self.threads = threads
        self.seconds = seconds
        self.device = device
        self.instances = instances

    def _bench(self, model: Path, *args: str) -> dict:
        cmd = [str(self.path), "bench", str(model), "--threads", str(self.threads), "--seconds",
               str(self.seconds), "--device", self.device, "--json", *MODEL_ARGS.get(model.stem, ()), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{shlex.join(cmd)} exited with {proc.returncode}: {proc.stderr.strip()}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def closed(self, model: Path, batch: int) -> dict:
        """Closed loop at a fixed batch.

        Example::

            cli.closed(Path("/tmp/mlp.onnx"), 8)["throughput_per_s"]  # rows/s
        """
        return self._bench(model, "--batch", str(batch))

    def open(self, model: Path, config: str, rate: float, max_batch: int, delay_us: int, max_queue: int) -> Point:
        """Open loop through the batcher at ``rate`` one-row requests per second.

        Example::

            cli.open(Path("/tmp/mlp.onnx"), "batcher", 20000, 32, 200, 128).p99_ms
        """
        r = self._bench(model, "--mode", "open-loop", "--rate", f"{rate:.1f}", "--max-batch", str(max_batch),
                        "--max-delay-us", str(delay_us), "--max-queue", str(max_queue),
                        "--instances", str(self.instances))
        return Point(config, r["rate"], r["throughput_per_s"], r["p50_ms"], r["p99_ms"], r["mean_batch"],
                     r["refused"], r["failed"], r["max_generator_lag_ms"], r.get("p99_from_submit_ms", math.nan),
                     r.get("queue_p99_ms", math.nan), r.get("compute_p99_ms", math.nan))

    def version(self) -> str:
        return subprocess.run([str(self.path), "version"], capture_output=True, text=True,
                              check=True).stdout.strip()


def find_cli(explicit: str | None) -> Path:
    """The CLI to run: ``explicit``, else the first of build/ and build-nocuda/ that has ``--mode open-loop``.

    A stale build/ (from before the batcher) is skipped rather than failing
    every open-loop point.

    Example::

        find_cli(None)  # PosixPath('/work/main/build-nocuda/src/tensorpod')
    """
    if explicit:
        return Path(explicit)
    candidates = [REPO / "build" / "src" / "tensorpod", REPO / "build-nocuda" / "src" / "tensorpod"]
    for path in candidates:
        if path.is_file():
            usage = subprocess.run([str(path), "help"], capture_output=True, text=True).stdout
            if "open-loop" in usage:
                return path
    raise SystemExit(f"no tensorpod CLI with --mode open-loop in {', '.join(map(str, candidates))}; "
                     "build one (ninja -C build-nocuda tensorpod_cli) or pass --cli")


def identity_model() -> onnx.ModelProto:
    """``output = Relu(input)`` on ``[batch, 4]``: a model whose run costs almost nothing.

    Example::

        onnx.save(identity_model(), "/tmp/identity.onnx")
    """
    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["output"])], "identity",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tensorpod-bench")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def geometric(lo: float, hi: float, n: int) -> list[float]:
    """``n`` rates from ``lo`` to ``hi`` in equal ratios.

    Example::

        geometric(10, 1000, 3)  # [10.0, 100.0, 1000.0]
    """
    if n == 1:
        return [hi]
    return [lo * (hi / lo) ** (i / (n - 1)) for i in range(n)]


def service_ms(closed: dict[int, dict], rows: float) -> float:
    """Closed-loop p50 of a batch of ``rows`` rows, linear between the measured batch sizes.

    Example::

        service_ms({1: {"p50_ms": 0.02}, 2: {"p50_ms": 0.03}}, 1.5)  # 0.025
    """
    sizes = sorted(closed)
    rows = min(max(rows, sizes[0]), sizes[-1])
    for lo, hi in zip(sizes, sizes[1:]):
        if rows <= hi:
            f = (rows - lo) / (hi - lo)
            return (1 - f) * closed[lo]["p50_ms"] + f * closed[hi]["p50_ms"]
    return closed[sizes[-1]]["p50_ms"]


def check_bounds(result: ModelResult) -> None:
    """Marks the points below saturation and computes their p99 bound."""
    delays = {"batcher": result.delay_us, "no batching": 0}
    for p in result.points:
        p.bound_ms = delays[p.config] / 1e3 + 2 * service_ms(result.closed, max(p.mean_batch, 1.0))
        p.checked = p.rejected + p.failed == 0 and p.offered <= BELOW_SATURATION * result.saturation(p.config)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bench_model(cli: Cli, name: str, path: Path, rates_n: int, delay_us: int | None, max_queue: int) -> ModelResult:
    """Closed-loop batch sizes, then the open-loop sweep of both configurations."""
    closed = {}
    for b in BATCH_SIZES:
        closed[b] = cli.closed(path, b)
        log(f"{name} closed B={b}: {closed[b]['throughput_per_s']:.0f} rows/s, p50 {closed[b]['p50_ms']:.4f} ms")
    if delay_us is None:
        delay_us = int(min(max(closed[1]["p50_ms"] * 1e3, DELAY_RANGE_US[0]), DELAY_RANGE_US[1]))
    result = ModelResult(name, closed, delay_us, [])
    rates = geometric(0.1 * result.unbatched, 1.5 * result.best_fixed, rates_n)
    for rate in rates:
        # Alternate the configurations so that drifting background load hits both alike.
        for config, max_batch, delay in (("batcher", MAX_BATCH, delay_us), ("no batching", 1, 0)):
            p = cli.open(path, config, rate, max_batch, delay, max_queue)
            result.points.append(p)
            log(f"{name} {config} {rate:.0f}/s: {p.achieved:.0f}/s, p50 {p.p50_ms:.3f} p99 {p.p99_ms:.3f} ms, "
                f"batch {p.mean_batch:.1f}, rejected {p.rejected}, failed {p.failed}, lag {p.lag_ms:.1f} ms")
    # The machine's stalls move single runs by several percent: measure the
    # saturation ratio in pairs, the best fixed batch and the batcher back to
    # back, and take the median.
    for i in range(SATURATION_PAIRS):
        fixed = cli.closed(path, result.best_batch)["throughput_per_s"]
        # A queue of SATURATION_QUEUE batches rides out the load generator's
        # own stalls (a drained queue idles the worker, which a production
        # queue fed by many clients would not).
        p = cli.open(path, "batcher", SATURATION_OFFER * fixed, MAX_BATCH, delay_us, SATURATION_QUEUE * MAX_BATCH)
        result.pairs.append((fixed, p.achieved))
        log(f"{name} saturation pair {i + 1}: fixed B={result.best_batch} {fixed:.0f} rows/s, batcher {p.achieved:.0f} "
            f"req/s ({p.achieved / fixed:.3f})")
    check_bounds(result)
    return result


def measure_overhead(cli: Cli, path: Path, max_queue: int) -> dict:
    """Per-request cost of going through the batcher, on the identity model.

    Closed loop at batch 1 gives the engine's own time per run (p50, and the
    mean 1e6 / throughput, which includes the bench loop). Open loop, offered
    far more than it can serve (each rate in OVERHEAD_RATES; the best achieved
    counts, and it is saturated only if requests were rejected), gives the
    time per request through the batcher, 1e6 / achieved. The arrival
    generator is one thread too: where it lags by far more than a batch time
    it, not the batcher, set the pace, and the time is an upper bound. With
    max batch 1 and no delay the difference is the scheduling overhead per
    request:

        overhead_us = 1e6 / achieved(open loop, max batch 1) - closed-loop p50 (us)

    With max batch 32 and no delay, 1e6 / achieved is the amortized time per
    request when requests share batches, to compare with the closed-loop
    batch-32 time per row.

    Example::

        measure_overhead(cli, Path("/tmp/identity.onnx"), 128)["overhead_us"]
    """
    c1, c32 = cli.closed(path, 1), cli.closed(path, MAX_BATCH)
    out: dict = {"closed_p50_us": c1["p50_ms"] * 1e3, "closed_mean_us": 1e6 / c1["throughput_per_s"],
                 "closed32_per_row_us": 1e6 / c32["throughput_per_s"], "points": []}
    for config, max_batch in (("max batch 1", 1), (f"max batch {MAX_BATCH}", MAX_BATCH)):
        best = None
        for rate in OVERHEAD_RATES:
            p = cli.open(path, config, rate, max_batch, 0, max_queue)
            out["points"].append(p)
            log(f"identity {config} {rate:.0f}/s: {p.achieved:.0f}/s, batch {p.mean_batch:.1f}, rejected {p.rejected}")
            if best is None or p.achieved > best.achieved:
                best = p
        out[config] = best
    out["overhead_us"] = 1e6 / out["max batch 1"].achieved - out["closed_p50_us"]
    out["overhead_vs_mean_us"] = 1e6 / out["max batch 1"].achieved - out["closed_mean_us"]
    out["amortized_us"] = 1e6 / out[f"max batch {MAX_BATCH}"].achieved
    return out


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table; the first column left-aligned, the others right."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def closed_table(r: ModelResult) -> str:
    return table(["batch", "p50 ms", "p99 ms", "rows/s"],
                 [[b, f"{c['p50_ms']:.4f}", f"{c['p99_ms']:.4f}", f"{c['throughput_per_s']:.0f}"]
                  for b, c in sorted(r.closed.items())])


def points_table(r: ModelResult) -> str:
    rows = []
    for p in sorted(r.points, key=lambda p: (p.config != "batcher", p.offered)):
        within = verdict(p.p99_ms <= p.bound_ms) if p.checked else "-"
        rows.append([p.config, f"{p.offered:.0f}", f"{p.achieved:.0f}", f"{p.p50_ms:.3f}", f"{p.p99_ms:.3f}",
                     f"{p.p99_submit_ms:.3f}", f"{p.queue_p99_ms:.3f}", f"{p.compute_p99_ms:.3f}",
                     f"{p.mean_batch:.2f}", p.rejected, p.failed, f"{p.lag_ms:.2f}", f"{p.bound_ms:.3f}", within])
    return table(["config", "offered req/s", "achieved req/s", "p50 ms", "p99 ms", "p99 from submit ms",
                  "queue p99 ms", "compute p99 ms", "mean batch", "rejected", "failed", "generator lag ms",
                  "p99 bound ms", "p99 <= bound"], rows)


def summary_table(results: Sequence[ModelResult]) -> str:
    rows = []
    for r in results:
        sat = r.saturation("batcher")
        vs_best, vs_unbatched = sat / r.best_fixed, sat / r.unbatched
        target = SPEEDUP_TARGETS.get(r.name)
        checked = [p for p in r.points if p.config == "batcher" and p.checked]
        held = sum(p.p99_ms <= p.bound_ms for p in checked)
        pairs = ", ".join(f"{b / f:.3f}" for f, b in r.pairs)
        rows.append([
            r.name, r.delay_us, f"{r.unbatched:.0f}", f"{r.best_fixed:.0f} (B={r.best_batch})", f"{sat:.0f}",
            f"{r.saturation('no batching'):.0f}",
            f"{vs_best:.2f}",
            f"{r.paired_ratio:.3f} {verdict(r.paired_ratio >= SATURATION_TARGET)} ({pairs})",
            f"{vs_unbatched:.2f}" + (f" {verdict(vs_unbatched >= target)}" if target else ""),
            f"{held}/{len(checked)}",
        ])
    return table(["model", "delay us", "unbatched rows/s", "best fixed rows/s", "batcher sat. req/s",
                  "no-batching sat. req/s", "sweep: batcher / best",
                  f"paired runs: median batcher / best (>= {SATURATION_TARGET})",
                  "batcher / unbatched (MLP >= 3)", "batcher p99 <= bound"], rows)


def overhead_section(o: dict) -> str:
    one, many = o["max batch 1"], o[f"max batch {MAX_BATCH}"]
    rows = [
        ["closed loop, batch 1: p50 / mean per run", f"{o['closed_p50_us']:.2f} / {o['closed_mean_us']:.2f}"],
        [f"open loop, max batch 1, delay 0: 1e6 / {one.achieved:.0f} req/s"
         + ("" if one.rejected else " (not saturated: nothing rejected)"), f"{1e6 / one.achieved:.2f}"],
        ["**overhead per request** (open loop max batch 1 - closed-loop p50)", f"**{o['overhead_us']:.2f}**"],
        ["overhead against the closed-loop mean", f"{o['overhead_vs_mean_us']:.2f}"],
        [f"open loop, max batch {MAX_BATCH}, delay 0: 1e6 / {many.achieved:.0f} req/s "
         f"(mean batch {many.mean_batch:.2f})" + ("" if many.rejected else " (not saturated)"),
         f"{o['amortized_us']:.2f}"],
        [f"closed loop, batch {MAX_BATCH}: time per row", f"{o['closed32_per_row_us']:.3f}"],
    ]
    runs = table(["config", "offered req/s", "achieved req/s", "p50 ms", "p99 ms", "mean batch", "rejected",
                  "generator lag ms"],
                 [[p.config, f"{p.offered:.0f}", f"{p.achieved:.0f}", f"{p.p50_ms:.3f}", f"{p.p99_ms:.3f}",
                   f"{p.mean_batch:.2f}", p.rejected, f"{p.lag_ms:.1f}"] for p in o["points"]])
    return table(["measure", "us"], rows) + "\n\nOpen-loop runs on the identity model:\n\n" + runs


def plot(results: Sequence[ModelResult], path: str) -> None:
    """p50 and p99 against achieved throughput, batcher against no batching, one subplot per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5), squeeze=False)
    for ax, r in zip(axes[0], results):
        for config, color in (("batcher", "tab:blue"), ("no batching", "tab:orange")):
            pts = sorted((p for p in r.points if p.config == config), key=lambda p: p.offered)
            x = [p.achieved for p in pts]
            ax.plot(x, [p.p50_ms for p in pts], "o-", color=color, label=f"{config} p50")
            ax.plot(x, [p.p99_ms for p in pts], "s--", color=color, label=f"{config} p99")
        ax.axvline(r.best_fixed, color="gray", linestyle=":", label=f"best fixed batch (B={r.best_batch})")
        ax.axvline(r.unbatched, color="gray", linestyle="-.", label="closed loop, batch 1")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("achieved throughput (req/s)")
        ax.set_ylabel("latency (ms)")
        ax.set_title(f"{r.name}: max batch {MAX_BATCH}, delay {r.delay_us} us")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def git_revision() -> str:
    proc = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return proc.stdout.strip() or "unknown"


def _spin_gaps(seconds: float, threshold_us: float, out) -> None:
    """Spins reading the clock; sends (gaps over threshold, their total us, the worst us)."""
    import time
    gaps, total, worst = 0, 0.0, 0.0
    end = time.perf_counter_ns() + int(seconds * 1e9)
    last = time.perf_counter_ns()
    while last < end:
        now = time.perf_counter_ns()
        gap = (now - last) / 1e3
        if gap > threshold_us:
            gaps, total, worst = gaps + 1, total + gap, max(worst, gap)
        last = now
    out.put((gaps, total, worst))


def stall_probe(seconds: float = 3.0, threshold_us: float = 100.0) -> str:
    """How often this machine takes a running thread off its core: one spinning process per core.

    Latency tails below saturation come from such stalls when they last
    longer than a batch: a request that arrives during one waits it out.

    Example::

        stall_probe(1.0)  # '2 cores, 1.0 s: 14 stalls > 100 us, 3.2 ms in all, worst 1.10 ms'
    """
    import multiprocessing as mp
    n = os.cpu_count() or 1
    q = mp.Queue()
    procs = [mp.Process(target=_spin_gaps, args=(seconds, threshold_us, q)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    gaps = sum(r[0] for r in results)
    total_ms = sum(r[1] for r in results) / 1e3
    worst_ms = max(r[2] for r in results) / 1e3
    return (f"{n} cores, {seconds:g} s: {gaps} stalls > {threshold_us:g} us, {total_ms:.1f} ms in all, "
            f"worst {worst_ms:.2f} ms")


def modified(path: Path) -> str:
    return datetime.datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds")


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def gpu_name() -> str:
    """``nvidia-smi -L``'s first line, or why there is none."""
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"unknown ({e})"
    return out.splitlines()[0] if out else "unknown"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cli", help="tensorpod binary (default: build/src/tensorpod, else build-nocuda/src/tensorpod; "
                                 "the first that has --mode open-loop)")
    p.add_argument("--models", default="mlp,cnn", help=f"comma-separated, from {','.join(MODELS)} (default mlp,cnn)")
    p.add_argument("--seconds", type=float, help="seconds per point (default 2; 1 with --quick)")
    p.add_argument("--threads", type=int, default=1, help="engine threads (default 1)")
    p.add_argument("--device", default="cpu", help="tensorpod device: cpu (default), cuda, cuda:N")
    p.add_argument("--instances", type=int, default=1,
                   help="batcher execution instances in the open loop (default 1; closed loop is one caller)")
    p.add_argument("--quick", action="store_true", help="5 rates instead of 8, 1 s per point")
    p.add_argument("--max-delay-us", type=int, help="batcher max queue delay (default: batch-1 p50 in [200, 500])")
    p.add_argument("--max-queue", type=int, default=4 * MAX_BATCH,
                   help=f"queued requests beyond which submits are rejected (default {4 * MAX_BATCH})")
    p.add_argument("--markdown-out", help="write the report here")
    p.add_argument("--png", help="write the latency/throughput plot here")
    args = p.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    if args.seconds is None:
        args.seconds = 1.0 if args.quick else 2.0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([sys.executable, *sys.argv])
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = loadavg()
    stalls = stall_probe()
    log(f"stall probe: {stalls}")
    cli = Cli(find_cli(args.cli), args.threads, args.seconds, args.device, args.instances)
    version = cli.version()
    built = modified(cli.path)
    log(f"{version} at {cli.path}; load {load_start}")

    results = []
    with tempfile.TemporaryDirectory(prefix="tp-batching-") as tmp:
        for name in args.models:
            path = Path(tmp) / f"{name}.onnx"
            onnx.save(MODELS[name](), path)
            results.append(bench_model(cli, name, path, 5 if args.quick else 8, args.max_delay_us, args.max_queue))
        identity = Path(tmp) / "identity.onnx"
        onnx.save(identity_model(), identity)
        overhead = measure_overhead(cli, identity, args.max_queue)
    load_end = loadavg()
    rebuilt = modified(cli.path) != built

    report = [
        "# Dynamic batching benchmark",
        "",
        f"- command: `{command}`",
        f"- date: {started.isoformat(timespec='seconds')}",
        f"- CPU: {cpu_model()}, nproc {os.cpu_count()}; /proc/loadavg at start `{load_start}`, "
        f"at end `{load_end}`",
        *([f"- GPU: {gpu_name()}"] if args.device != "cpu" else []),
        f"- stall probe before the run (one spinning process per core, gaps in its clock readings): {stalls}",
        f"- {version} ({cli.path}, built {built}; source at git {git_revision()}); device {args.device}, "
        f"{args.threads} engine thread(s), {args.instances} batcher instance(s), {args.seconds:g} s per point, "
        f"max queue {args.max_queue}",
        *(["- **the CLI was rebuilt during the run: the points mix two builds**"] if rebuilt else []),
        f"- batcher: max batch {MAX_BATCH}, max queue delay as listed; no batching: max batch 1, delay 0. "
        f"The p99 bound is the delay + 2 x the closed-loop p50 at the mean batch, checked where offered <= "
        f"{BELOW_SATURATION:g} x that configuration's saturation and nothing was rejected or failed. Latencies "
        f"count from each request's due time, so they include the arrival generator's lag; \"p99 from submit\" "
        f"leaves that lag out, and the queue and compute p99 are the batcher's own load report (10 s window).",
        "",
        "## Summary",
        "",
        summary_table(results),
        "",
        "## Scheduling overhead (identity model)",
        "",
        overhead_section(overhead),
    ]
    for r in results:
        report += ["", f"## {r.name}", "", "Closed loop:", "", closed_table(r), "", "Open loop:", "",
                   points_table(r)]
    text = "\n".join(report) + "\n"
    print(text)
    if args.markdown_out:
        Path(args.markdown_out).write_text(text)
    if args.png:
        plot(results, args.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
