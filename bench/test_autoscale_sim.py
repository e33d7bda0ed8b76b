"""The HPA and fleet mechanics of autoscale_sim, on a synthetic service curve (no CLI run).

Run with::

    .venv/bin/python -m pytest bench/test_autoscale_sim.py -q
"""

from __future__ import annotations

import numpy as np
import pytest

import autoscale_sim as sim

CAPACITY = 100.0  # req/s per replica of the synthetic curve


def fleet(replicas: int = 1, queue_s: float = 2.0) -> sim.Fleet:
    return sim.Fleet(sim.ServiceCurve.synthetic(CAPACITY), sim.FleetConfig(min_replicas=1, queue_s=queue_s),
                     replicas, now=0)


@pytest.mark.parametrize("average, expected", [(1.09, 4), (0.91, 4), (1.11, 5), (0.89, 4), (0.74, 3)])
def test_pods_metric_tolerance_band(average: float, expected: int) -> None:
    # Within 10% of the target nothing changes; outside, ceil(4 x ratio).
    assert sim.pods_metric_replicas([average] * 4, target=1.0, current=4) == expected


def test_desired_replica_formula() -> None:
    assert sim.pods_metric_replicas([1.5] * 4, target=1.0, current=4) == 6
    assert sim.pods_metric_replicas([0.35] * 4, target=0.7, current=4) == 2
    assert sim.pods_metric_replicas([2.0, 1.0], target=0.5, current=2) == 6  # average 1.5 / 0.5 x 2
    assert sim.external_average_replicas(7.3, target=1.0, current=4) == 8
    assert sim.external_average_replicas(4.3, target=1.0, current=4) == 4  # ratio 1.075: tolerated
    assert sim.external_average_replicas(1.0, target=0.7, current=4) == 2
    assert sim.pods_metric_replicas([], target=1.0, current=4) is None


def test_unready_and_missing_pods_are_conservative() -> None:
    # Scale-up: a starting pod counts as 0, which here pulls the ratio into the band.
    assert sim.pods_metric_replicas([1.0] * 3, target=0.7, current=4, unready=1) == 4
    # Scale-up: a ready pod without a sample counts as 0 as well.
    assert sim.pods_metric_replicas([2.0] * 3, target=1.0, current=4, missing=1) == 6
    # Scale-down: a ready pod without a sample counts as at the target.
    assert sim.pods_metric_replicas([0.2] * 3, target=1.0, current=4, missing=1) == 2


def test_scale_up_rate_limit() -> None:
    hpa = sim.Hpa(sim.DEFAULT_BEHAVIOR, min_replicas=1, max_replicas=40)
    assert hpa.normalize(0, current=2, desired=50) == 6  # max(2 x 200%, 2 + 4 pods)
    assert hpa.normalize(5, current=6, desired=50) == 6  # same 15 s period: nothing more
    assert hpa.normalize(15, current=6, desired=50) == 12  # a new period: max(6 x 2, 6 + 4)
    assert hpa.normalize(30, current=12, desired=50) == 24
    assert hpa.normalize(45, current=24, desired=50) == 40  # max replicas


def test_scale_down_stabilization_window_holds_for_300_s() -> None:
    hpa = sim.Hpa(sim.DEFAULT_BEHAVIOR, min_replicas=1, max_replicas=100)
    assert hpa.normalize(0, current=10, desired=10) == 10
    for t in range(15, 300, 15):  # the recommendation of 10 at t = 0 is still in the window
        assert hpa.normalize(t, current=10, desired=2) == 10, t
    assert hpa.normalize(300, current=10, desired=2) == 9  # window passed; Percent 10 / 60 s: int(10 x 0.9)
    for t in range(315, 360, 15):
        assert hpa.normalize(t, current=9, desired=2) == 9, t  # the 60 s period counts from 10
    assert hpa.normalize(360, current=9, desired=2) == 8


def test_scale_up_stabilization_takes_the_lowest_recommendation() -> None:
    rules = sim.ScalingRules(60, sim.DEFAULT_BEHAVIOR.up.policies)
    hpa = sim.Hpa(sim.Behavior(up=rules, down=sim.DEFAULT_BEHAVIOR.down), min_replicas=1, max_replicas=100)
    assert hpa.normalize(0, current=4, desired=4) == 4
    assert hpa.normalize(15, current=4, desired=8) == 4  # 4 is still in the 60 s window
    assert hpa.normalize(60, current=4, desired=8) == 8  # only 8s left in (0, 60]


def test_new_pod_gets_no_traffic_until_ready() -> None:
    f = fleet(replicas=1, queue_s=60.0)  # room for the whole backlog
    f.add(2, now=0, ready_at=60)
    for t in range(60):
        f.promote(t)
        assert f.count(sim.READY) == 1
        f.step(t, arrivals=150.0)  # 1.5 x one replica's capacity, all of it on the ready one
    starting = f.state == sim.STARTING
    assert np.all(f.queue[starting] == 0)
    assert f.queue[f.state == sim.READY][0] == pytest.approx(60 * 50.0)
    f.promote(60)
    assert f.count(sim.READY) == 3


def test_start_up_delay_in_a_simulation() -> None:
    demand = np.concatenate([np.full(60, 50.0), np.full(600, 400.0)])
    cfg = sim.FleetConfig(min_replicas=1, startup_s=60)
    r = sim.simulate(sim.ServiceCurve.synthetic(CAPACITY), demand, sim.Signal("recommended", 0.7), cfg,
                     warmup_s=300, seed=None)
    first = int(np.argmax(r.pods > r.pods[0]))  # the first scale-up
    assert first > 0
    assert r.ready[first + 59] == r.ready[first - 1]
    assert r.ready[first + 60] == r.pods[first]


def test_queue_overflow_drops() -> None:
    f = fleet(replicas=1, queue_s=0.5)  # room for 50 requests
    total, good, dropped = f.step(0, arrivals=300.0)
    assert (total, dropped) == (300.0, pytest.approx(150.0))  # 300 in, 100 served, 50 queued
    assert f.queue[f.state == sim.READY][0] == pytest.approx(50.0)
    assert good < 0.01 * total  # every accepted request waited longer than the 50 ms target
    assert f.step(1, arrivals=100.0)[2] == 0.0  # at capacity: the queue holds, nothing dropped


def test_scale_down_drains_without_loss() -> None:
    f = fleet(replicas=2)
    f.step(0, arrivals=300.0)  # 50 queued on each
    f.remove(1)
    assert f.count(sim.DRAINING) == 1
    _, _, dropped = f.step(1, arrivals=100.0)  # all to the one ready pod; the draining one serves its 50
    assert dropped == 0.0
    assert f.count(sim.DRAINING) == 0 and f.count(sim.READY) == 1


def test_load_report_gauges() -> None:
    f = fleet(replicas=1)
    for t in range(30):
        f.step(t, arrivals=50.0)
    f.scrape(30)
    means, has = f.query(30)
    assert has.all()
    busy, _, arrival, capacity = means[0]
    assert busy == pytest.approx(0.5)
    assert arrival == pytest.approx(50.0)
    assert capacity == pytest.approx(CAPACITY)  # completed per busy second


def test_spike_onset_moves_without_changing_the_trace_length():
    base = sim.trace("spike", 1000.0)
    for at in sim.SPIKE_ONSETS_S:
        t = sim.trace("spike", 1000.0, spike_at_s=at)
        assert len(t) == len(base)
        assert t[at - 1] == 200.0 and t[at] == 1000.0 and t[at + 299] == 1000.0 and t[at + 300] == 200.0
        assert t.sum() == base.sum()


def test_cheapest_judges_the_worst_onset():
    import dataclasses
    curve = sim.ServiceCurve.synthetic(1000.0)
    r = sim.simulate(curve, sim.trace("spike", 2000.0), sim.Signal("busy", 0.5), sim.FleetConfig(), 600)
    lucky = dataclasses.replace(r, worst_attainment=0.5, mean_replica_minutes=1.0)
    steady = dataclasses.replace(r, worst_attainment=0.995, mean_replica_minutes=50.0)
    chosen, met = sim.cheapest([lucky, steady])
    assert met and chosen is steady
