"""Autoscaling simulator: which tensorpod signal should a Kubernetes HPA scale on?

A fleet of tensorpod replicas behind an even load balancer is driven by a
load trace; a simulated Horizontal Pod Autoscaler (``autoscaling/v2``) sizes
the fleet from one of the three load signals the server exports on
``/metrics``; the report gives, per trace and signal, the share of requests
served under the p99 latency target (SLO attainment), the requests dropped,
the replica-minutes paid and the most replicas used.

Service model
=============

Each replica is a fluid queue fed and drained in 1 s steps, with its speed and
latency taken from a *service curve measured on the real batcher*: ``tensorpod
bench MODEL --mode open-loop --rate R ... --json`` at a sweep of Poisson
arrival rates (``--measure`` runs it and saves the curve; ``--curve FILE``
reuses a saved one). From the curve:

- capacity C (req/s): the highest measured rate, counting up from the lowest,
  at which the replica still keeps up (throughput >= 97% of the offered rate,
  nothing refused) and its p99 is under the target;
- latency against utilisation u = served / C: p50 and p99 from submission
  (the batcher's own share, without the load generator's lag), interpolated
  between the points; a request's service time is drawn from the log-normal
  through that p50 and p99;
- what the batcher's ``LoadReport`` would see: the busy fraction, the
  per-request compute time (the CLI's compute p50 stands in for the mean) and
  the in-batcher queue time (p50 from submission minus compute p50, standing
  in for the mean), each interpolated against the served rate.

``--capacity-scale S`` makes a replica S times faster than the measured one
(rates x S, times / S); the report says which scale it used. Ratios (busy
fraction, queue/compute) do not change with S, and the traces are written in
units of C, so S moves only latencies against the fixed SLO target.

In a step, each ready replica gets an equal share of the arrivals. Beyond C
they queue, up to ``--queue-s`` seconds of work (the batcher's
``max_queue_size``); beyond that they are dropped, as the batcher answers
RESOURCE_EXHAUSTED (HTTP 429). The queue moves linearly inside a step, so an
arrival at time tau waits queue(tau) / C on top of its service time; that is
integrated over ``SUBSTEPS`` points per step. A request meets the SLO when
wait + service <= the target; dropped requests count as misses.

Signals
=======

The ``LoadReport`` of each replica is modelled as the server computes it
(``src/batching/load_report.cc``): sums over 1 s slices in a 10 s window; at a
scrape on a slice boundary it covers the last 9 s, or the time since the model
loaded if shorter. Its arrival rate counts every request submitted, those
the full queue refused included (the demand), and its capacity is completed
requests per *busy* second, where busy is a worker's whole time on a batch
(forming it, gathering inputs, ``Session::Run``, splitting outputs, completion
callbacks). Prometheus scrapes every 15 s;
the adapter serves the latest sample of each gauge, as ``deploy/monitoring`` configures it
(``--query-window-s 60`` models an ``avg_over_time(gauge[1m])`` query instead).

- ``busy`` -- ``tensorpod_instance_busy_ratio`` as a Pods metric with an
  AverageValue target (like GPU utilisation). It stops growing once the
  replica is saturated, at whatever busy fraction the curve reaches at C.
- ``queue_compute`` -- ``tensorpod_queue_compute_ratio`` (mean queue time /
  mean compute time over the window) as a Pods metric. Its default target is
  twice the largest ratio the replica shows on the curve while keeping up:
  queueing that no sustainable load produces means a backlog is building, and
  the factor 2 keeps noise and the 10% tolerance band from firing it. Below
  saturation the ratio reflects batching and wake-up delays and need not
  grow with load (on the CNN curve it is flat from 20% to 100%), so the HPA
  formula acts on it as an overload alarm more than as a utilisation.
- ``recommended`` -- the server's ``tensorpod_recommended_replicas`` is
  ceil(arrival / (capacity x 0.7)) *per replica*: each replica sees 1/n of the
  traffic and reports at least 1, so the sum over n replicas never drops
  below n, and no HPA form of the per-replica gauge can scale down. The
  fleet-wide version of the same formula is what an HPA can act on: an
  External metric ``sum(arrival_rate) / avg(capacity_requests_per_second)``
  (the fleet's load in the server's replica-capacities) with an AverageValue
  target equal to the target utilisation (default 0.7, the batcher's
  ``target_utilization``), so that desired = ceil(sum arrivals / (capacity x
  target)). Note that arrival / (completed per busy second) is the busy
  fraction times arrivals / completions: below saturation the two agree; in
  overload the busy fraction stops at its saturation value while arrivals,
  refused requests included, keep growing with the demand.

Targets: the defaults above, and per signal the cheapest target of a grid
that keeps >= 99% attainment on the spike trace (see ``sweep``). A candidate
is what the signal reads, on the measured curve, at a replica utilisation u
in ``UTILIZATION_GRID`` -- the calibration an operator does to hold replicas
at u -- so every signal gets the same candidates in its own units;
queue/compute also gets multiples of its reference (``ALARM_GRID``), as its
default is one.

Kubernetes behaviour modelled
=============================

From the Kubernetes documentation, "Horizontal Pod Autoscaling" (algorithm
details, scaling policies, stabilization window, missing metrics and
not-yet-ready pods), checked against the controller
(``pkg/controller/podautoscaler``: ``replica_calculator.go``,
``horizontal.go``):

- one reconcile every 15 s (controller sync period);
- Pods metric, AverageValue target: desired = ceil(ready pods x average /
  target), no change while |average / target - 1| <= 0.1; pods still starting
  are unready (the whole start-up counts as Pending): on a scale-up they
  count as 0 in the average;
  ready pods without a sample yet are missing: 0 on a scale-up, exactly the
  target on a scale-down; the recomputed ratio must not flip direction or
  fall into the tolerance band, else no change; pods being deleted are
  ignored; no sample at all from a ready pod means no scaling this round;
- External metric, AverageValue target: desired = ceil(total / target),
  unless total / (target x current pods) is within the tolerance;
- behaviour: the stabilization windows (a scale-up goes to at most the
  lowest recommendation of its window, a scale-down to at least the highest
  of its window, the current recommendation included), then the rate
  policies measured from the replica count at the start of each policy
  period (Percent rounds up on the way up and down on the way down; Pods
  adds or removes a fixed count), combined with selectPolicy Max, and
  min/max replicas; defaults: up window 0 s, Percent 100 and Pods 4 per 15 s;
  down window 300 s, Percent 10 per 60 s;
- a new pod takes ``--startup-s`` (image pull + model load) before it is
  ready and gets traffic; scale-down picks starting pods first, then the
  newest ready ones, and a removed ready pod leaves the load balancer at
  once but serves its queue before it terminates (no request is lost).

Not modelled: service beyond C (a replica serves at most C; a real one
saturates somewhat higher, with its busy fraction
rising towards its saturation value, so in overload the modelled busy
fraction and recommended metric read lower than a real replica's would),
the ReplicaSet controller's and the kubelet's own latencies,
the CPU-only readiness rules (``cpu-initialization-period``), per-HPA
configurable tolerances (Kubernetes 1.33+), more than one metric per HPA,
the custom-metrics adapter's caching, node autoscaling (pods start on
available GPU nodes), pod failures, request retries after a 429, clients
that slow down, uneven load balancing, and the batcher's SLO mode.

Usage::

    .venv/bin/python bench/autoscale_sim.py --measure          # sweep mlp.onnx, save the curve, simulate
    .venv/bin/python bench/autoscale_sim.py --measure --model cnn --rate-start 250   # a compute-bound model
    .venv/bin/python bench/autoscale_sim.py --curve bench/autoscale/curve_mlp_cpu.json \\
        --markdown-out bench/autoscale/results_mlp_cpu.md --png-dir bench/autoscale
    .venv/bin/python bench/autoscale_sim.py --traces spike --no-sweep --slo-ms 20
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "bench" / "autoscale"
DEFAULT_MODEL = REPO / "examples" / "models" / "mlp.onnx"

# Measurement: a point keeps up when it completes this share of the offered rate.
TRACKING = 0.97
MAX_RATE = 1e7  # the CLI's --rate limit
REFINE_POINTS = 3  # extra rates between the last point that kept up and the first that did not
CURVE_FIELDS = ("rate", "throughput_per_s", "p50_ms", "p99_ms", "p50_from_submit_ms", "p99_from_submit_ms",
                "batch_compute_p50_ms", "busy_fraction", "queue_p99_ms", "compute_p99_ms", "mean_batch",
                "refused", "failed", "max_generator_lag_ms")

SUBSTEPS = 10  # points per 1 s step at which arrivals' waits are evaluated
Z99 = 2.3263478740408408  # standard normal quantile of 0.99
SIGNALS = ("busy", "queue_compute", "recommended")
SIGNAL_LABELS = {"busy": "busy fraction", "queue_compute": "queue/compute ratio",
                 "recommended": "recommended replicas (fleet)"}
SIGNAL_COLORS = {"busy": "tab:orange", "queue_compute": "tab:blue", "recommended": "tab:green"}
# Candidate targets: what each signal reads at these utilisations on the
# measured curve, and for queue/compute also these multiples of its
# reference (an overload alarm, which no sustainable load sets off).
UTILIZATION_GRID = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
ALARM_GRID = (1.5, 2.0, 3.0)
ATTAINMENT_GOAL = 0.99
START_UTILIZATION = 0.5  # fleets start the warm-up sized for this utilisation


# --------------------------------------------------------------------------
# Measuring the service curve


def run_point(cli: Path, model: Path, rate: float, args: argparse.Namespace) -> dict:
    """One rate of the sweep: the median of ``args.repeats`` open-loop runs, field by field.

    Example::

        run_point(cli, DEFAULT_MODEL, 10000, args)["p99_from_submit_ms"]
    """
    cmd = [str(cli), "bench", str(model), "--mode", "open-loop", "--rate", f"{rate:.1f}",
           "--max-batch", str(args.max_batch), "--max-delay-us", str(args.max_delay_us),
           "--max-queue", str(args.max_queue), "--instances", "1", "--seconds", str(args.seconds),
           "--threads", str(args.threads), "--device", args.device, "--json"]
    runs = []
    for _ in range(args.repeats):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{shlex.join(cmd)} exited with {proc.returncode}: {proc.stderr.strip()}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    point = {k: statistics.median(r[k] for r in runs) for k in CURVE_FIELDS}
    point["runs"] = len(runs)
    return point


def keeps_up(point: dict) -> bool:
    return point["throughput_per_s"] >= TRACKING * point["rate"] and point["refused"] == 0


def kept_points(points: Sequence[dict], slo_s: float, scale: float) -> list[dict]:
    """The points, counting up from the lowest rate, until the first that falls behind or misses the SLO.

    Example::

        kept_points(curve["points"], slo_s=0.05, scale=1.0)[-1]["rate"]  # the capacity
    """
    kept = []
    for p in sorted(points, key=lambda p: p["rate"]):
        if not keeps_up(p) or p["p99_from_submit_ms"] / 1e3 / scale > slo_s:
            break
        kept.append(p)
    return kept


def model_file(model: str, tmp: Path) -> tuple[Path, str]:
    """The ONNX file to measure and its name for the report: a path, or a model of tests/models written to ``tmp``.

    Example::

        model_file("cnn", Path("/tmp"))  # (PosixPath('/tmp/cnn.onnx'), 'cnn (tests/models/make_models.py)')
    """
    from batching import MODELS  # imports onnx: only when measuring
    if model in MODELS:
        import onnx
        path = tmp / f"{model}.onnx"
        onnx.save(MODELS[model](), path)
        return path, f"{model} (tests/models/make_models.py)"
    path = Path(model).resolve()
    return path, str(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


def measure_curve(args: argparse.Namespace) -> dict:
    """Sweeps the open-loop rate until the replica stops keeping up, then refines the last octave.

    Rates double from ``args.rate_start``; between the last rate that kept up
    and the first that did not, ``REFINE_POINTS`` more at equal ratios.

    Example::

        curve = measure_curve(parse_args(["--measure"]))
        len(curve["points"])  # about 14 for the MLP
    """
    from batching import cpu_model, find_cli, git_revision

    cli = find_cli(args.cli)
    with tempfile.TemporaryDirectory(prefix="tp-autoscale-") as tmp:
        model, name = model_file(args.model, Path(tmp))
        return _sweep(cli, model, args) | {
            "model": name,
            "device": args.device,
            "tensorpod": subprocess.run([str(cli), "version"], capture_output=True, text=True,
                                        check=True).stdout.strip(),
            "git": git_revision(),
            "cpu": cpu_model(),
            "bench_args": {"max_batch": args.max_batch, "max_delay_us": args.max_delay_us,
                           "max_queue": args.max_queue, "seconds": args.seconds, "threads": args.threads,
                           "repeats": args.repeats, "instances": 1},
        }


def _sweep(cli: Path, model: Path, args: argparse.Namespace) -> dict:
    """The rates of ``measure_curve``, with when and under what machine load they ran."""
    from batching import loadavg

    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    load_start = loadavg()
    points: list[dict] = []
    rate = args.rate_start
    while rate <= MAX_RATE:
        p = run_point(cli, model, rate, args)
        points.append(p)
        log(f"rate {rate:.0f}/s: {p['throughput_per_s']:.0f}/s, p50 {p['p50_from_submit_ms']:.3f} "
            f"p99 {p['p99_from_submit_ms']:.3f} ms, busy {p['busy_fraction']:.3f}, refused {p['refused']}")
        if not keeps_up(p):
            break
        rate *= 2
    if len(points) < 2 or keeps_up(points[-1]):
        raise SystemExit(f"the sweep from {args.rate_start:g}/s did not bracket saturation; "
                         f"change --rate-start ({len(points)} points)")
    lo, hi = points[-2]["rate"], points[-1]["rate"]
    for i in range(1, REFINE_POINTS + 1):
        p = run_point(cli, model, lo * (hi / lo) ** (i / (REFINE_POINTS + 1)), args)
        points.append(p)
        log(f"refine {p['rate']:.0f}/s: {p['throughput_per_s']:.0f}/s, p99 {p['p99_from_submit_ms']:.3f} ms, "
            f"refused {p['refused']}")
    points.sort(key=lambda p: p["rate"])
    return {"date": started, "loadavg": [load_start, loadavg()], "points": points}


# --------------------------------------------------------------------------
# The per-replica service model


@dataclasses.dataclass
class ServiceCurve:
    """One replica's speed, latency and load signals against its served rate (simulated units).

    ``rate`` holds the served rates (req/s) of the measured points up to
    ``capacity``; the other arrays are the values at those rates. Latency is
    in seconds.

    Example::

        c = ServiceCurve.synthetic(capacity=1000.0)
        c.busy_at(np.array([500.0]))  # array([0.5])
    """

    capacity: float
    rate: np.ndarray
    p50_s: np.ndarray
    p99_s: np.ndarray
    busy: np.ndarray
    queue_s: np.ndarray  # in-batcher queue time per request
    compute_s: np.ndarray  # compute time per request
    scale: float = 1.0
    source: str = "synthetic"

    @classmethod
    def from_measured(cls, curve: dict, slo_s: float, scale: float = 1.0) -> ServiceCurve:
        """The curve of a ``measure_curve`` result, ``scale`` times faster, capacity judged against ``slo_s``.

        Example::

            ServiceCurve.from_measured(json.load(open("curve.json")), slo_s=0.05).capacity
        """
        kept = kept_points(curve["points"], slo_s, scale)
        if not kept:
            raise SystemExit(f"no point of the curve keeps up with p99 under {slo_s * 1e3:g} ms "
                             f"(capacity scale {scale:g}); measure from a lower --rate-start")
        ms = 1e-3 / scale
        compute = np.array([p["batch_compute_p50_ms"] for p in kept]) * ms
        return cls(
            capacity=kept[-1]["rate"] * scale,
            rate=np.array([p["throughput_per_s"] for p in kept]) * scale,
            p50_s=np.array([p["p50_from_submit_ms"] for p in kept]) * ms,
            p99_s=np.array([p["p99_from_submit_ms"] for p in kept]) * ms,
            busy=np.array([p["busy_fraction"] for p in kept]),
            queue_s=np.maximum(np.array([p["p50_from_submit_ms"] for p in kept]) * ms - compute, 0.0),
            compute_s=compute,
            scale=scale,
            source=f"{curve['model']} on {curve['device']}",
        )

    @classmethod
    def synthetic(cls, capacity: float, p50_s: float = 0.005, p99_s: float = 0.010, compute_s: float = 0.002,
                  queue_s: float = 0.001) -> ServiceCurve:
        """A replica whose busy fraction equals its utilisation and whose latency does not depend on load.

        Example::

            ServiceCurve.synthetic(capacity=100.0).capacity  # 100.0
        """
        rate = np.array([0.1, 1.0]) * capacity
        return cls(capacity, rate, np.full(2, p50_s), np.full(2, p99_s), rate / capacity, np.full(2, queue_s),
                   np.full(2, compute_s))

    def busy_at(self, served: np.ndarray) -> np.ndarray:
        """Busy fraction at ``served`` req/s: linear from (0, 0) to the first point, then between points."""
        return np.interp(served, np.concatenate([[0.0], self.rate]), np.concatenate([[0.0], self.busy]))

    def queue_at(self, served: np.ndarray) -> np.ndarray:
        return np.interp(served, self.rate, self.queue_s)

    def compute_at(self, served: np.ndarray) -> np.ndarray:
        return np.interp(served, self.rate, self.compute_s)

    def lognormal_at(self, served: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mu, sigma) of the log-normal service time through the interpolated p50 and p99."""
        p50 = np.interp(served, self.rate, self.p50_s)
        p99 = np.maximum(np.interp(served, self.rate, self.p99_s), p50)
        return np.log(p50), np.maximum(np.log(p99 / p50) / Z99, 1e-3)

    def reading(self, signal: str, utilization: float) -> float:
        """What ``signal`` reads on a replica serving ``utilization`` x capacity in steady state.

        The recommended-replicas metric per replica is arrival / (completed per
        busy second); with arrivals = completions that is the busy fraction.

        Example::

            ServiceCurve.synthetic(100.0).reading("busy", 0.5)  # 0.5
        """
        served = np.array([utilization * self.capacity])
        if signal == "queue_compute":
            return float((self.queue_at(served) / self.compute_at(served))[0])
        return float(self.busy_at(served)[0])

    @property
    def busy_at_capacity(self) -> float:
        return self.reading("busy", 1.0)

    @property
    def queue_compute_reference(self) -> float:
        """The largest queue/compute ratio of the points that keep up."""
        return float(np.max(self.queue_s / self.compute_s))


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF (Abramowitz and Stegun 7.1.26, error < 2e-7), without scipy.

    Example::

        normal_cdf(np.array([0.0]))  # array([0.5])
    """
    x = np.abs(z) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-x * x)
    return 0.5 * (1.0 + np.sign(z) * erf)


# --------------------------------------------------------------------------
# The Horizontal Pod Autoscaler


@dataclasses.dataclass(frozen=True)
class ScalingPolicy:
    kind: str  # "Pods" or "Percent"
    value: int
    period_s: int


@dataclasses.dataclass(frozen=True)
class ScalingRules:
    window_s: int  # stabilizationWindowSeconds
    policies: tuple[ScalingPolicy, ...]
    select: str = "Max"  # selectPolicy: Max or Min

    def describe(self) -> str:
        pols = ", ".join(f"{p.kind} {p.value} / {p.period_s} s" for p in self.policies)
        return f"stabilization {self.window_s} s, {pols}, select {self.select}"


@dataclasses.dataclass(frozen=True)
class Behavior:
    up: ScalingRules
    down: ScalingRules


DEFAULT_BEHAVIOR = Behavior(
    up=ScalingRules(0, (ScalingPolicy("Percent", 100, 15), ScalingPolicy("Pods", 4, 15))),
    down=ScalingRules(300, (ScalingPolicy("Percent", 10, 60),)),
)


def pods_metric_replicas(values: Sequence[float], target: float, current: int, unready: int = 0,
                         missing: int = 0, tolerance: float = 0.1) -> int | None:
    """Desired replicas for a Pods metric with an AverageValue target, as the HPA controller computes them.

    ``values`` are the ready pods' metrics; ``unready`` pods are still
    starting, ``missing`` pods are ready without a metric. None when no pod
    has a metric (the HPA does not scale then).

    Example::

        pods_metric_replicas([1.5, 1.5, 1.5, 1.5], target=1.0, current=4)  # 6
        pods_metric_replicas([1.05] * 4, target=1.0, current=4)           # 4: within the tolerance
    """
    if not values:
        return None
    ratio = sum(values) / len(values) / target
    scale_up_with_unready = unready > 0 and ratio > 1.0
    if not scale_up_with_unready and missing == 0:
        if abs(ratio - 1.0) <= tolerance:
            return current
        return math.ceil(ratio * len(values))
    filled = list(values)
    if missing:
        # A scale-down assumes the missing pods sit at the target, a scale-up at 0.
        filled += [target if ratio < 1.0 else 0.0] * missing
    if scale_up_with_unready:
        filled += [0.0] * unready
    new_ratio = sum(filled) / len(filled) / target
    if abs(new_ratio - 1.0) <= tolerance or (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio):
        return current
    return math.ceil(new_ratio * len(filled))


def external_average_replicas(total: float, target: float, current: int, tolerance: float = 0.1) -> int:
    """Desired replicas for an External metric with an AverageValue target (per-pod share of ``total``).

    Example::

        external_average_replicas(7.3, target=1.0, current=4)  # 8
        external_average_replicas(4.2, target=1.0, current=4)  # 4: within the tolerance
    """
    if abs(total / (target * current) - 1.0) <= tolerance:
        return current
    return math.ceil(total / target)


class Hpa:
    """The HPA's behaviour step: stabilization windows, rate policies and min/max replicas.

    Keeps the recommendations and the scale events that the windows and the
    policies look back on. Times are seconds; not thread-safe.

    Example::

        hpa = Hpa(DEFAULT_BEHAVIOR, min_replicas=1, max_replicas=100)
        hpa.normalize(now=0, current=2, desired=20)  # 6: max(2 x 200%, 2 + 4)
    """

    def __init__(self, behavior: Behavior, min_replicas: int, max_replicas: int) -> None:
        self.behavior = behavior
        self.min_replicas = min_replicas
        self.max_replicas = max_replicas
        self.recommendations: list[tuple[float, int]] = []
        self.up_events: list[tuple[float, int]] = []
        self.down_events: list[tuple[float, int]] = []

    def normalize(self, now: float, current: int, desired: int) -> int:
        """The replica count to set, given the metric's ``desired`` count; records the scale event."""
        if current > self.max_replicas or current < self.min_replicas:
            new = min(max(current, self.min_replicas), self.max_replicas)
        else:
            new = self._rate_limited(now, current, self._stabilized(now, current, desired))
        if new != current:
            (self.up_events if new > current else self.down_events).append((now, abs(new - current)))
        return new

    def _stabilized(self, now: float, current: int, desired: int) -> int:
        up_cutoff = now - self.behavior.up.window_s
        down_cutoff = now - self.behavior.down.window_s
        up, down = desired, desired
        for t, r in self.recommendations:
            if t > up_cutoff:
                up = min(up, r)
            if t > down_cutoff:
                down = max(down, r)
        horizon = min(up_cutoff, down_cutoff)
        self.recommendations = [(t, r) for t, r in self.recommendations if t >= horizon]
        self.recommendations.append((now, desired))
        return min(max(current, up), down)

    def _changed_since(self, events: list[tuple[float, int]], cutoff: float) -> int:
        return sum(n for t, n in events if t > cutoff)

    def _limit(self, now: float, current: int, rules: ScalingRules, up: bool) -> int:
        pick = max if (rules.select == "Max") == up else min
        result = None
        for p in rules.policies:
            cutoff = now - p.period_s
            start = current - self._changed_since(self.up_events, cutoff) + self._changed_since(
                self.down_events, cutoff)
            if p.kind == "Pods":
                proposed = start + p.value if up else start - p.value
            elif up:
                proposed = math.ceil(start * (1 + p.value / 100))
            else:
                proposed = int(start * (1 - p.value / 100))
            result = proposed if result is None else pick(result, proposed)
        return current if result is None else result

    def _rate_limited(self, now: float, current: int, desired: int) -> int:
        if desired > current:
            ceiling = min(self.max_replicas, max(self._limit(now, current, self.behavior.up, True), current))
            return min(desired, ceiling)
        if desired < current:
            floor = max(self.min_replicas, min(self._limit(now, current, self.behavior.down, False), current))
            return max(desired, floor)
        return desired


# --------------------------------------------------------------------------
# The fleet


@dataclasses.dataclass(frozen=True)
class FleetConfig:
    """Everything about the fleet, its metrics pipeline and its HPA that is not the signal."""

    slo_s: float = 0.050
    queue_s: float = 2.0  # the batcher's max_queue_size, in seconds of work at capacity
    startup_s: int = 60  # image pull + model load before a new pod is ready
    min_replicas: int = 2
    max_replicas: int = 100
    sync_s: int = 15  # HPA controller sync period
    sync_offset_s: int = 7  # syncs fall between scrapes, not on them
    scrape_s: int = 15  # Prometheus scrape interval
    # The adapter's query covers samples in (t - window, t]: 15 s is the latest
    # sample only, as deploy/monitoring/prometheus-adapter-values.yaml queries
    # the recorded series; 60 s models an avg_over_time(...[1m]) query.
    query_window_s: int = 15
    report_slices: int = 10  # LoadTrackerOptions: 10 s window in 1 s slices
    tolerance: float = 0.1
    behavior: Behavior = DEFAULT_BEHAVIOR


@dataclasses.dataclass(frozen=True)
class Signal:
    """A signal and its HPA target; where the target came from, for the report."""

    name: str  # one of SIGNALS
    target: float
    utilization: float | None = None  # the target is what the signal reads at this utilisation
    alarm: float | None = None  # the target is this multiple of the queue/compute reference

    def describe(self) -> str:
        if self.utilization is not None:
            return f"{self.target:.3g} (reads so at u = {self.utilization:g})"
        if self.alarm is not None:
            return f"{self.target:.3g} ({self.alarm:g} x ref)"
        return f"{self.target:.3g}"


FREE, STARTING, READY, DRAINING = 0, 1, 2, 3
# Per-second LoadReport slice fields, and scraped gauges.
ARRIVED, SERVED, BUSY, QUEUE_SUM, COMPUTE_SUM = range(5)
G_BUSY, G_QUEUE_COMPUTE, G_ARRIVAL, G_CAPACITY = range(4)


class Fleet:
    """The replicas of one deployment: their queues, LoadReport slices and scraped samples.

    Pods live in numpy slots; a slot is FREE, STARTING (no traffic, no
    metrics), READY (in the load balancer, scraped) or DRAINING (out of the
    load balancer, finishing its queue). Time is integer seconds.

    Example::

        fleet = Fleet(ServiceCurve.synthetic(100.0), FleetConfig(min_replicas=1), replicas=1, now=0)
        fleet.step(0, arrivals=300.0)  # (300.0, good, dropped)
    """

    def __init__(self, curve: ServiceCurve, cfg: FleetConfig, replicas: int, now: int) -> None:
        self.curve = curve
        self.cfg = cfg
        n = 2 * cfg.max_replicas + 8  # room for the draining pods
        self.state = np.full(n, FREE, dtype=np.int8)
        self.ready_at = np.zeros(n)
        self.queue = np.zeros(n)
        self.slices = np.zeros((cfg.report_slices, n, 5))
        self.samples_at = np.full((cfg.query_window_s // cfg.scrape_s + 1, n), -np.inf)
        self.samples = np.zeros((cfg.query_window_s // cfg.scrape_s + 1, n, 4))
        self.scrapes = 0
        self.add(replicas, now, ready_at=now)

    def count(self, state: int) -> int:
        return int(np.count_nonzero(self.state == state))

    @property
    def spec_replicas(self) -> int:
        return self.count(STARTING) + self.count(READY)

    def add(self, k: int, now: int, ready_at: int) -> None:
        slots = np.nonzero(self.state == FREE)[0][:k]
        if len(slots) < k:
            raise RuntimeError("no free pod slot: raise the slot count")
        self.state[slots] = READY if ready_at <= now else STARTING
        self.ready_at[slots] = ready_at
        self.queue[slots] = 0.0
        self.slices[:, slots] = 0.0
        self.samples_at[:, slots] = -np.inf

    def remove(self, k: int) -> None:
        """Deletes ``k`` pods as a ReplicaSet picks them: starting ones first, then the newest ready ones."""
        starting = np.nonzero(self.state == STARTING)[0]
        starting = starting[np.argsort(-self.ready_at[starting], kind="stable")][:k]
        self.state[starting] = FREE
        k -= len(starting)
        if k > 0:
            ready = np.nonzero(self.state == READY)[0]
            ready = ready[np.argsort(-self.ready_at[ready], kind="stable")][:k]
            self.state[ready] = np.where(self.queue[ready] > 0, DRAINING, FREE)

    def promote(self, now: int) -> None:
        self.state[(self.state == STARTING) & (self.ready_at <= now)] = READY

    def step(self, now: int, arrivals: float) -> tuple[float, float, float]:
        """Serves the second [now, now + 1): returns (requests, requests under the SLO, dropped)."""
        c = self.curve
        cap = c.capacity
        qmax = self.cfg.queue_s * cap
        ready = self.state == READY
        n_ready = int(np.count_nonzero(ready))
        idx = np.nonzero(ready | (self.state == DRAINING))[0]
        slice_ = self.slices[now % self.cfg.report_slices]
        slice_[:] = 0.0
        if len(idx) == 0:
            return arrivals, 0.0, arrivals
        lam = np.where(ready[idx], arrivals / max(n_ready, 1), 0.0)
        q0 = self.queue[idx]
        # Inside the step the queue moves linearly at lam - cap, clamped to [0, qmax].
        q1_free = q0 + lam - cap
        dropped = np.maximum(q1_free - qmax, 0.0)
        q1 = np.clip(q1_free, 0.0, qmax)
        accepted = lam - dropped
        served = q0 + accepted - q1
        tau = (np.arange(SUBSTEPS) + 0.5) / SUBSTEPS
        q_tau = np.clip(q0 + np.outer(tau, lam - cap), 0.0, qmax)  # (SUBSTEPS, pods)
        # Once the queue is full only `cap` per second get in; the weights sum to `accepted`.
        weight = np.where((q_tau >= qmax) & (lam > cap), cap, lam)
        total = weight.sum(axis=0)
        weight *= np.divide(accepted, total, out=np.zeros_like(total), where=total > 0)
        wait = q_tau / cap
        mu, sigma = c.lognormal_at(served)
        budget = self.cfg.slo_s - wait
        ok = normal_cdf((np.log(np.maximum(budget, 1e-12)) - mu) / sigma) * (budget > 0)
        good = float((weight * ok).sum())
        slice_[idx, ARRIVED] = lam  # the server counts refused requests as arrivals (demand)
        slice_[idx, SERVED] = served
        slice_[idx, BUSY] = c.busy_at(served)
        slice_[idx, QUEUE_SUM] = served * (c.queue_at(served) + wait.mean(axis=0))
        slice_[idx, COMPUTE_SUM] = served * c.compute_at(served)
        self.queue[idx] = q1
        self.state[idx[(self.state[idx] == DRAINING) & (q1 <= 1e-9)]] = FREE  # drained: the pod terminates
        lost = arrivals if n_ready == 0 else 0.0
        return arrivals, good, float(dropped.sum()) + lost

    def scrape(self, now: int) -> None:
        """Prometheus reads every ready pod's LoadReport gauges at ``now`` (a slice boundary)."""
        ready = np.nonzero(self.state == READY)[0]
        if len(ready) == 0:
            return
        # The window is the empty current slice and the slices - 1 full ones
        # before it, or the time since the model loaded.
        window = np.clip(now - self.ready_at[ready], 1e-3, self.cfg.report_slices - 1)
        current = now % self.cfg.report_slices
        past = [i for i in range(self.cfg.report_slices) if i != current]
        s = self.slices[past][:, ready].sum(axis=0)
        gauges = np.zeros((len(ready), 4))
        gauges[:, G_BUSY] = np.clip(s[:, BUSY] / window, 0.0, 1.0)
        np.divide(s[:, QUEUE_SUM], s[:, COMPUTE_SUM], out=gauges[:, G_QUEUE_COMPUTE], where=s[:, COMPUTE_SUM] > 0)
        gauges[:, G_ARRIVAL] = s[:, ARRIVED] / window
        np.divide(s[:, SERVED], s[:, BUSY], out=gauges[:, G_CAPACITY], where=s[:, BUSY] > 0)
        slot = self.scrapes % self.samples.shape[0]
        self.samples_at[slot, ready] = now
        self.samples[slot, ready] = gauges
        self.scrapes += 1

    def query(self, now: int) -> tuple[np.ndarray, np.ndarray]:
        """``avg_over_time(gauge[window])`` for every ready pod: (means, has-a-sample mask)."""
        ready = np.nonzero(self.state == READY)[0]
        at = self.samples_at[:, ready]
        valid = (at > now - self.cfg.query_window_s) & (at <= now)
        n = valid.sum(axis=0)
        total = (self.samples[:, ready] * valid[:, :, None]).sum(axis=0)
        return total / np.maximum(n, 1)[:, None], n > 0

    def desired(self, signal: Signal, now: int) -> int | None:
        """The HPA's metric step for ``signal``: desired replicas, or None without metrics."""
        means, has = self.query(now)
        current = self.spec_replicas
        if not has.any():
            return None
        if signal.name == "recommended":
            capacity = means[has, G_CAPACITY]
            capacity = capacity[capacity > 0]
            total = means[has, G_ARRIVAL].sum() / capacity.mean() if len(capacity) else 0.0
            return external_average_replicas(total, signal.target, current, self.cfg.tolerance)
        column = G_BUSY if signal.name == "busy" else G_QUEUE_COMPUTE
        return pods_metric_replicas(list(means[has, column]), signal.target, current,
                                    unready=self.count(STARTING), missing=int(np.count_nonzero(~has)),
                                    tolerance=self.cfg.tolerance)


# --------------------------------------------------------------------------
# Traces and runs


def trace(name: str, peak: float, spike_minutes: int = 5, spike_at_s: int = 600) -> np.ndarray:
    """Demand in req/s for each second of trace ``name``, peaking at ``peak``.

    - ``diurnal``: a 2 h "day", a cosine from 20% of the peak up to it and back;
    - ``spike``: 20% of the peak, then from ``spike_at_s`` (10 min) ``spike_minutes`` at the peak
      (x5), then back at 20%, 25 min + the spike in all (the onset moves, the length does not);
    - ``ramp``: 5 min at 20% of the peak, a linear rise to it over 30 min, 10 min held.

    Example::

        trace("spike", 1000.0)[[0, 600, 900]]  # array([ 200., 1000.,  200.])
    """
    low = 0.2 * peak
    if name == "diurnal":
        t = np.arange(7200)
        return peak * (0.6 - 0.4 * np.cos(2 * np.pi * t / 7200))
    if name == "spike":
        return np.concatenate([np.full(spike_at_s, low), np.full(60 * spike_minutes, peak),
                               np.full(1500 - spike_at_s, low)])
    if name == "ramp":
        return np.concatenate([np.full(300, low), np.linspace(low, peak, 1800), np.full(600, peak)])
    raise ValueError(f"unknown trace {name!r}")


TRACES = ("diurnal", "spike", "ramp")


@dataclasses.dataclass
class RunResult:
    """One trace under one signal: totals and per-second series (after the warm-up)."""

    signal: Signal
    requests: float
    good: float
    dropped: float
    replica_minutes: float
    max_replicas: int
    pods: np.ndarray  # pods that exist (starting, ready or draining), per second
    ready: np.ndarray
    per_second_requests: np.ndarray
    per_second_good: np.ndarray
    # Over the same trace at several spike onsets (``sweep``): the worst
    # attainment and the mean replica-minutes; this run is the 10 min onset.
    worst_attainment: float | None = None
    mean_replica_minutes: float | None = None

    @property
    def attainment(self) -> float:
        return self.good / self.requests if self.requests else 1.0

    @property
    def robust_attainment(self) -> float:
        return self.attainment if self.worst_attainment is None else self.worst_attainment

    @property
    def robust_replica_minutes(self) -> float:
        return self.replica_minutes if self.mean_replica_minutes is None else self.mean_replica_minutes


def simulate(curve: ServiceCurve, demand: np.ndarray, signal: Signal, cfg: FleetConfig, warmup_s: int = 3600,
             seed: int | None = 1) -> RunResult:
    """Runs the fleet and its HPA over ``demand`` (req/s per second), after ``warmup_s`` at its first value.

    Every fleet starts the warm-up at the same size, half loaded
    (``START_UTILIZATION``), and the warm-up is long enough for the slow
    scale-down to settle, so no signal carries its start into the trace.
    Arrivals per second are Poisson with a fixed ``seed`` (None: exactly the
    demand), so every signal sees the same requests.

    Example::

        r = simulate(ServiceCurve.synthetic(1000.0), trace("spike", 10000.0), Signal("busy", 0.7), FleetConfig())
        r.attainment, r.replica_minutes
    """
    full = np.concatenate([np.full(warmup_s, demand[0]), demand])
    arrivals = np.random.default_rng(seed).poisson(full).astype(float) if seed is not None else full
    start = -warmup_s
    first = math.ceil(demand[0] / (START_UTILIZATION * curve.capacity))
    fleet = Fleet(curve, cfg, min(max(first, cfg.min_replicas), cfg.max_replicas), start)
    hpa = Hpa(cfg.behavior, cfg.min_replicas, cfg.max_replicas)
    n = len(demand)
    pods, ready = np.zeros(n, dtype=int), np.zeros(n, dtype=int)
    requests, good, dropped = np.zeros(n), np.zeros(n), 0.0
    for i, a in enumerate(arrivals):
        now = start + i
        fleet.promote(now)
        if now % cfg.scrape_s == 0:
            fleet.scrape(now)
        if now % cfg.sync_s == cfg.sync_offset_s:
            desired = fleet.desired(signal, now)
            if desired is not None:
                current = fleet.spec_replicas
                new = hpa.normalize(now, current, desired)
                if new > current:
                    fleet.add(new - current, now, ready_at=now + cfg.startup_s)
                elif new < current:
                    fleet.remove(current - new)
        live, n_ready = int(np.count_nonzero(fleet.state != FREE)), fleet.count(READY)
        total, ok, lost = fleet.step(now, a)
        if now >= 0:  # the trace proper; second `now` of it
            pods[now], ready[now] = live, n_ready
            requests[now], good[now] = total, ok
            dropped += lost
    return RunResult(signal, float(requests.sum()), float(good.sum()), dropped, float(pods.sum()) / 60.0,
                     int(pods.max()), pods, ready, requests, good)


def default_signals(curve: ServiceCurve, args: argparse.Namespace) -> list[Signal]:
    if args.queue_compute_target:
        qc = Signal("queue_compute", args.queue_compute_target)
    else:
        qc = Signal("queue_compute", 2.0 * curve.queue_compute_reference, alarm=2.0)
    return [Signal("busy", args.busy_target), qc, Signal("recommended", args.recommended_target)]


def grid(curve: ServiceCurve, name: str) -> list[Signal]:
    """The candidate targets of signal ``name``: its readings over UTILIZATION_GRID (+ alarms for queue/compute).

    Example::

        [s.target for s in grid(ServiceCurve.synthetic(100.0), "busy")][:2]  # [0.1, 0.15]
    """
    out = [Signal(name, curve.reading(name, u), u) for u in UTILIZATION_GRID]
    if name == "queue_compute":
        out += [Signal(name, f * curve.queue_compute_reference, alarm=f) for f in ALARM_GRID]
    return out


# Spike onsets (s into the trace) of the sweep. A fleet that oscillates (a
# signal that only fires on overload shrinks the fleet until it does) can be
# large or small when the spike comes; a target must meet the goal whenever
# it comes, so the sweep judges the worst of these onsets, which span more
# than such a cycle.
SPIKE_ONSETS_S = (360, 480, 600, 720, 840)


def sweep(curve: ServiceCurve, peak: float, spike_minutes: int, cfg: FleetConfig, warmup_s: int,
          seed: int | None, progress: Callable[[str], None]) -> dict[str, list[RunResult]]:
    """Every grid target of every signal on the spike trace, at every onset of SPIKE_ONSETS_S.

    Each result is the run at the 10 min onset, carrying the worst attainment and the mean
    replica-minutes over all onsets.

    Example::

        runs = sweep(curve, 10 * curve.capacity, 5, FleetConfig(), 1200, 1, print)
        cheapest(runs["busy"])
    """
    out = {}
    for name in SIGNALS:
        out[name] = []
        for signal in grid(curve, name):
            runs = {at: simulate(curve, trace("spike", peak, spike_minutes, at), signal, cfg, warmup_s, seed)
                    for at in SPIKE_ONSETS_S}
            r = dataclasses.replace(runs[600], worst_attainment=min(x.attainment for x in runs.values()),
                                    mean_replica_minutes=statistics.fmean(x.replica_minutes
                                                                          for x in runs.values()))
            out[name].append(r)
            progress(f"sweep {name} target {signal.describe()}: worst attainment "
                     f"{100 * r.robust_attainment:.3f}%, {r.robust_replica_minutes:.0f} replica-min (mean), "
                     f"max {r.max_replicas}")
    return out


def cheapest(results: list[RunResult]) -> tuple[RunResult, bool]:
    """The run with the fewest replica-minutes among those meeting the goal; else the best attainment.

    Runs from ``sweep`` are judged on their worst onset and their mean replica-minutes.
    """
    meeting = [r for r in results if r.robust_attainment >= ATTAINMENT_GOAL]
    if meeting:
        return min(meeting, key=lambda r: r.robust_replica_minutes), True
    return max(results, key=lambda r: r.robust_attainment), False


# --------------------------------------------------------------------------
# Report


def curve_section(curve: ServiceCurve, raw: dict, slo_s: float) -> str:
    from batching import table
    kept = {id(p) for p in kept_points(raw["points"], slo_s, curve.scale)}
    rows = []
    for p in sorted(raw["points"], key=lambda p: p["rate"]):
        qc = max(p["p50_from_submit_ms"] - p["batch_compute_p50_ms"], 0) / p["batch_compute_p50_ms"]
        rows.append([f"{p['rate']:.0f}", f"{p['throughput_per_s']:.0f}", f"{p['p50_from_submit_ms']:.4f}",
                     f"{p['p99_from_submit_ms']:.4f}", f"{p['batch_compute_p50_ms']:.4f}",
                     f"{p['busy_fraction']:.3f}", f"{qc:.1f}", f"{p['mean_batch']:.1f}", f"{p['refused']:.0f}",
                     f"{p['max_generator_lag_ms']:.1f}", "yes" if id(p) in kept else "-"])
    return table(["offered req/s", "throughput req/s", "p50 ms", "p99 ms", "compute p50 ms", "busy",
                  "queue/compute", "mean batch", "refused", "generator lag ms", "in curve"], rows)


def report(args: argparse.Namespace, command: str, curve: ServiceCurve, raw: dict, cfg: FleetConfig,
           sweep_results: dict[str, list[RunResult]] | None, chosen: dict[str, tuple[RunResult, bool]],
           finals: dict[str, list[tuple[str, RunResult]]]) -> str:
    """The markdown report: setup, results per trace and signal, the sweep, the measured curve."""
    from batching import table
    b = raw["bench_args"]
    capacity_est = curve.capacity / curve.busy_at_capacity
    scale = ("a replica serves exactly as the measured replica did" if curve.scale == 1 else
             f"a replica is {curve.scale:g} x the measured one (rates x {curve.scale:g}, latencies / "
             f"{curve.scale:g})")
    lines = [
        "# Autoscaling signals: HPA simulation on the measured batcher curve",
        "",
        f"- command: `{command}`",
        f"- curve: {curve.source}, measured {raw['date']} with {raw['tensorpod']} (git {raw['git']}) on "
        f"{raw['cpu']}: `tensorpod bench --mode open-loop --max-batch {b['max_batch']} --max-delay-us "
        f"{b['max_delay_us']} --max-queue {b['max_queue']} --threads {b['threads']} --seconds {b['seconds']}`, "
        f"median of {b['repeats']} runs per rate; load averages at start / end `{raw['loadavg'][0]}` / "
        f"`{raw['loadavg'][1]}`",
        f"- **capacity scale {curve.scale:g}: {scale}**",
        f"- replica capacity C = {curve.capacity:.0f} req/s (highest rate that keeps up with p99 under "
        f"{cfg.slo_s * 1e3:g} ms); busy fraction at C = {curve.busy_at_capacity:.3f}; the server's own "
        f"capacity estimate there (completed requests per busy second) = {capacity_est:.0f} req/s = "
        f"{capacity_est / curve.capacity:.1f} x C; largest queue/compute ratio while keeping up "
        f"(ref) = {curve.queue_compute_reference:.2f}",
        f"- traces: demand peaks at {args.peak_replicas:g} x C = {args.peak_replicas * curve.capacity:.0f} req/s; "
        + ("arrivals exactly the demand" if args.no_noise else f"Poisson arrivals, seed {args.seed}")
        + f"; {args.warmup_s} s warm-up at the first second's demand, not counted; "
        f"the spike holds x5 for {args.spike_minutes} min",
        f"- SLO: latency (queue wait + service) <= {cfg.slo_s * 1e3:g} ms; dropped requests count as misses; "
        f"queue bound {cfg.queue_s:g} s of work at C",
        f"- fleet: min {cfg.min_replicas}, max {cfg.max_replicas} replicas; start-up {cfg.startup_s} s; "
        f"HPA sync {cfg.sync_s} s ({cfg.sync_offset_s} s after each scrape), tolerance {cfg.tolerance:g}; "
        f"scale-up {cfg.behavior.up.describe()}; scale-down {cfg.behavior.down.describe()}",
        f"- metrics: LoadReport window {cfg.report_slices} x 1 s slices, Prometheus scrape {cfg.scrape_s} s, "
        + ("the adapter reads the latest sample" if cfg.query_window_s <= cfg.scrape_s else
           f"adapter query avg_over_time over {cfg.query_window_s} s"),
        "",
        "Signals: busy fraction and queue/compute ratio are Pods metrics (AverageValue target); recommended "
        "replicas is the fleet form of the server's formula, an External metric sum(arrival) / avg(capacity) "
        "with an AverageValue target equal to the target utilisation (the module docstring says why not the "
        "per-replica gauge).",
        "",
        "## Results",
        "",
        "`default` targets: busy 0.7 (the usual GPU-utilisation target), recommended 0.7 (the batcher's "
        "`target_utilization`), queue/compute 2 x ref. `cheapest` targets: per signal, the grid target with the "
        "fewest replica-minutes among those keeping >= 99% of the spike trace's requests under the SLO target "
        "(`best, < 99%` where none does: the best attainment instead), then run unchanged on every trace.",
        "",
        table(["trace", "signal", "target kind", "target", "SLO attainment %", "dropped", "replica-min",
               "max replicas"],
              [[t, SIGNAL_LABELS[r.signal.name], kind, r.signal.describe(), f"{100 * r.attainment:.2f}",
                f"{r.dropped:.3g}", f"{r.replica_minutes:.0f}", r.max_replicas]
               for t, runs in finals.items() for kind, r in runs]),
    ]
    if sweep_results:
        lines += ["", "## Spike verdict", "", verdict(chosen)]
        rows = []
        for name in SIGNALS:
            for r in sweep_results[name]:
                mark = " **<- cheapest**" if chosen[name][0] is r and chosen[name][1] else ""
                rows.append([SIGNAL_LABELS[name], r.signal.describe(), f"{100 * r.attainment:.3f}",
                             f"{100 * r.robust_attainment:.3f}", f"{r.replica_minutes:.0f}",
                             f"{r.robust_replica_minutes:.0f}{mark}", r.max_replicas])
        lines += [
            "",
            "## Target sweep on the spike trace",
            "",
            "Why this is the fair comparison: a signal is only as good as the target an operator would set on it, "
            "and each signal reads in its own units, so one shared number (0.7) compares the units, not the "
            "signals. Every signal gets the same candidates: what it reads on the measured curve when a replica "
            f"serves u x C, u in {', '.join(f'{u:g}' for u in UTILIZATION_GRID)} (the calibration an operator does "
            "to hold replicas at u), queue/compute also "
            f"{', '.join(f'{f:g}' for f in ALARM_GRID)} x ref (its default is such an overload alarm); the "
            "same arrivals (same seed), the same HPA, and the same rule: the cheapest target that meets 99% on "
            "the hardest trace (the x5 step) whenever the spike comes: each target runs with the spike starting "
            f"at {', '.join(f'{t // 60:g}' for t in SPIKE_ONSETS_S)} min, and is judged on its worst onset and "
            "its mean replica-minutes (a fleet that shrinks until it overloads is large or small by chance when "
            "the spike arrives). The chosen targets then run unchanged on the other traces, so a target bought "
            "for the spike pays for it there.",
            "",
            table(["signal", "target", "attainment % (10 min onset)", "attainment % (worst onset)",
                   "replica-min (10 min onset)", "replica-min (mean)", "max replicas"], rows),
        ]
    lines += ["", "## Measured curve", "", curve_section(curve, raw, cfg.slo_s)]
    return "\n".join(lines) + "\n"


def verdict(chosen: dict[str, tuple[RunResult, bool]]) -> str:
    """Whether scaling on queue/compute or recommended replicas meets the goal on the spike for fewer
    replica-minutes than busy fraction, each at its cheapest target that meets it.

    Example::

        verdict({name: cheapest(runs) for name, runs in sweep_results.items()})
    """
    busy, busy_met = chosen["busy"]
    lines = []
    wins = []
    for name in ("queue_compute", "recommended"):
        r, met = chosen[name]
        if not met:
            lines.append(f"- {SIGNAL_LABELS[name]}: no target meets {100 * ATTAINMENT_GOAL:g}% at every onset "
                         f"(best worst-onset attainment {100 * r.robust_attainment:.2f}%)")
            continue
        cheaper = not busy_met or r.robust_replica_minutes < busy.robust_replica_minutes
        wins.append(cheaper)
        lines.append(f"- {SIGNAL_LABELS[name]}: {r.robust_replica_minutes:.0f} replica-min (mean over onsets) at "
                     f"{r.signal.describe()}, "
                     + (f"{r.robust_replica_minutes / busy.robust_replica_minutes:.2f} x busy fraction's"
                        if busy_met else "busy fraction meets no target"))
    head = (f"Busy fraction: {busy.robust_replica_minutes:.0f} replica-min (mean over onsets) at "
            f"{busy.signal.describe()}." if busy_met
            else f"Busy fraction: no target meets {100 * ATTAINMENT_GOAL:g}% at every onset.")
    holds = "**holds**" if any(wins) else "**does not hold**"
    return "\n".join([f"{head} On this curve, \"queue/compute or recommended replicas keeps >= "
                      f"{100 * ATTAINMENT_GOAL:g}% for fewer replica-minutes than busy fraction\" {holds}:", "",
                      *lines])


def plot(trace_name: str, demand: np.ndarray, curve: ServiceCurve, runs: list[tuple[str, RunResult]],
         path: Path) -> None:
    """Demand, replicas per signal and per-minute SLO attainment over the trace; default targets dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = np.arange(len(demand)) / 60.0
    per_min = len(demand) // 60
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True, gridspec_kw={"height_ratios": [1, 2, 2]})
    axes[0].plot(minutes, demand / 1e3, color="black", lw=1)
    axes[0].set_ylabel("demand (k req/s)")
    axes[0].set_title(f"{trace_name}: {curve.source}, C = {curve.capacity:.0f} req/s per replica, "
                      f"capacity scale {curve.scale:g}")
    axes[1].fill_between(minutes, demand / curve.capacity, color="0.85", label="demand / C")
    for kind, r in runs:
        name = r.signal.name
        style = ":" if kind == "default" else "-"
        label = f"{SIGNAL_LABELS[name]}, {kind} {r.signal.target:.3g}"
        axes[1].plot(minutes, r.pods, style, color=SIGNAL_COLORS[name], lw=1.2, label=label)
        req = r.per_second_requests[:per_min * 60].reshape(per_min, 60).sum(axis=1)
        ok = r.per_second_good[:per_min * 60].reshape(per_min, 60).sum(axis=1)
        axes[2].plot(np.arange(per_min) + 0.5, 100 * ok / req, style, color=SIGNAL_COLORS[name], lw=1.2,
                     label=label)
    axes[1].set_ylabel("pods (starting, ready, draining)")
    axes[1].legend(fontsize=7, ncol=2)
    axes[2].set_ylabel("requests under SLO, per minute (%)")
    axes[2].set_ylim(-2, 102)
    axes[2].set_xlabel("minutes")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    m = p.add_argument_group("service curve")
    m.add_argument("--model", default=str(DEFAULT_MODEL),
                   help="ONNX model for --measure, or mlp, cnn, encoder from tests/models (default %(default)s)")
    m.add_argument("--curve", help="curve JSON to read, or with --measure to write "
                                   "(default bench/autoscale/curve_<model>_<device>.json)")
    m.add_argument("--measure", action="store_true", help="run the open-loop sweep with the CLI and save the curve")
    m.add_argument("--cli", help="tensorpod binary (default: build/ or build-nocuda/, the first with open-loop)")
    m.add_argument("--device", default="cpu", help="tensorpod device (default cpu)")
    m.add_argument("--threads", type=int, default=1, help="engine threads (default 1: one CPU replica)")
    m.add_argument("--max-batch", type=int, default=32, help="batcher max batch (default 32)")
    m.add_argument("--max-delay-us", type=int, default=0, help="batcher max queue delay (default 0, the batcher's)")
    m.add_argument("--max-queue", type=int, default=65536,
                   help="batcher queue during the sweep, big enough not to refuse below saturation")
    m.add_argument("--seconds", type=float, default=3.0, help="seconds per run (default 3)")
    m.add_argument("--repeats", type=int, default=3, help="runs per rate, median taken (default 3)")
    m.add_argument("--rate-start", type=float, default=1000.0, help="first rate of the sweep (default 1000/s)")
    m.add_argument("--capacity-scale", type=float, default=1.0,
                   help="a replica is this many times faster than the measured one (default 1)")
    s = p.add_argument_group("simulation")
    s.add_argument("--traces", default=",".join(TRACES), help="comma-separated, from %(default)s")
    s.add_argument("--slo-ms", type=float, default=50.0, help="p99 latency target (default 50 ms)")
    s.add_argument("--peak-replicas", type=float, default=10.0,
                   help="peak demand in replica capacities (default 10)")
    s.add_argument("--min-replicas", type=int, default=2)
    s.add_argument("--max-replicas", type=int, default=100)
    s.add_argument("--startup-s", type=int, default=60, help="pod start-up until ready (default 60 s)")
    s.add_argument("--query-window-s", type=int, default=15,
                   help="samples the adapter's query averages over (default 15: the latest, as deployed)")
    s.add_argument("--spike-minutes", type=int, default=5, help="how long the spike trace holds x5 (default 5)")
    s.add_argument("--queue-s", type=float, default=2.0, help="queue bound in seconds of work (default 2)")
    s.add_argument("--warmup-s", type=int, default=3600, help="warm-up at the first demand, not counted")
    s.add_argument("--seed", type=int, default=1, help="Poisson arrivals' seed")
    s.add_argument("--no-noise", action="store_true", help="arrivals exactly the demand, no Poisson noise")
    s.add_argument("--busy-target", type=float, default=0.7, help="default busy-fraction target")
    s.add_argument("--recommended-target", type=float, default=0.7,
                   help="default target utilisation of the recommended-replicas metric")
    s.add_argument("--queue-compute-target", type=float,
                   help="default queue/compute target (default 2 x the curve's largest ratio while keeping up)")
    s.add_argument("--no-sweep", action="store_true", help="only the default targets")
    o = p.add_argument_group("output")
    o.add_argument("--markdown-out", help="write the report here")
    o.add_argument("--png-dir", help="write <model>_<trace>.png here (the curve's model)")
    args = p.parse_args(argv)
    args.traces = [t.strip() for t in args.traces.split(",") if t.strip()]
    unknown = [t for t in args.traces if t not in TRACES]
    if unknown:
        p.error(f"unknown trace(s) {unknown}; choose from {list(TRACES)}")
    if not args.no_sweep and "spike" not in args.traces:
        p.error("the target sweep runs on the spike trace: add it to --traces or pass --no-sweep")
    if args.curve is None:
        args.curve = str(OUT_DIR / f"curve_{Path(args.model).stem}_{args.device}.json")
    return args


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([sys.executable, *sys.argv])
    if args.measure:
        raw = measure_curve(args)
        Path(args.curve).parent.mkdir(parents=True, exist_ok=True)
        Path(args.curve).write_text(json.dumps(raw, indent=1) + "\n")
        log(f"curve saved to {args.curve}")
    else:
        raw = json.loads(Path(args.curve).read_text())
    cfg = FleetConfig(slo_s=args.slo_ms / 1e3, queue_s=args.queue_s, startup_s=args.startup_s,
                      min_replicas=args.min_replicas, max_replicas=args.max_replicas,
                      query_window_s=args.query_window_s)
    curve = ServiceCurve.from_measured(raw, cfg.slo_s, args.capacity_scale)
    seed = None if args.no_noise else args.seed
    log(f"capacity {curve.capacity:.0f} req/s, busy at C {curve.busy_at_capacity:.3f}, "
        f"queue/compute ref {curve.queue_compute_reference:.2f}")
    demands = {t: trace(t, args.peak_replicas * curve.capacity, args.spike_minutes) for t in args.traces}
    sweep_results, chosen = None, {}
    if not args.no_sweep:
        sweep_results = sweep(curve, args.peak_replicas * curve.capacity, args.spike_minutes, cfg,
                              args.warmup_s, seed, log)
        chosen = {name: cheapest(rs) for name, rs in sweep_results.items()}
    finals: dict[str, list[tuple[str, RunResult]]] = {}
    for t, demand in demands.items():
        finals[t] = [("default", simulate(curve, demand, signal, cfg, args.warmup_s, seed))
                     for signal in default_signals(curve, args)]
        for name, (r, met) in chosen.items():
            run = r if t == "spike" else simulate(curve, demand, r.signal, cfg, args.warmup_s, seed)
            finals[t].append(("cheapest" if met else "best, < 99%", run))
        log(f"{t}: done")
    text = report(args, command, curve, raw, cfg, sweep_results, chosen, finals)
    print(text)
    if args.markdown_out:
        Path(args.markdown_out).write_text(text)
    if args.png_dir:
        Path(args.png_dir).mkdir(parents=True, exist_ok=True)
        stem = Path(raw["model"].split()[0]).stem
        for t, runs in finals.items():
            plot(t, demands[t], curve, runs, Path(args.png_dir) / f"{stem}_{t}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
