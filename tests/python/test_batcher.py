"""tensorpod.Batcher: futures, asyncio, every completion path, and the load report."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import numpy as np
import pytest

import tensorpod as tp
from conftest import affine_reference


def rows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 4)).astype(np.float32)


def test_submit_gets_its_own_rows(affine):
    with tp.Batcher(affine, max_batch_size=16, max_queue_delay_ms=5, instances=2) as b:
        xs = [rows(1 + i % 3, i) for i in range(40)]
        futs = [b.submit(x) for x in xs]
        assert all(isinstance(f, concurrent.futures.Future) for f in futs)
        for x, f in zip(xs, futs):
            out = f.result(timeout=30)
            y, z = affine_reference(x)
            np.testing.assert_allclose(out["y"], y, rtol=1e-6)
            np.testing.assert_allclose(out["z"], z, rtol=1e-6)
        report = b.load_report()
        assert isinstance(report, tp.LoadReport)
        assert report.queue_depth == 0 and report.recommended_replicas >= 1
        assert report.mean_batch_size > 1  # 40 requests in 5 ms windows share batches


def test_asyncio_infer(affine):
    async def main(b):
        xs = [rows(1, i) for i in range(100)]
        outs = await asyncio.gather(*(b.infer({"x": x}) for x in xs))
        for x, out in zip(xs, outs):
            np.testing.assert_allclose(out["y"], affine_reference(x)[0], rtol=1e-6)
        return len(outs)

    with tp.Batcher(affine, max_batch_size=32, max_queue_delay_ms=2) as b:
        assert asyncio.run(main(b)) == 100


def test_threads_submit_at_once(models):
    m = tp.load(models["mlp"], device="cpu", threads=1)
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((1, 784)).astype(np.float32) for _ in range(64)]
    want = [m(x) for x in xs]
    errors = []
    with tp.Batcher(m, max_batch_size=32, max_queue_delay_ms=1, instances=2) as b:
        def work(k):
            try:
                for i in range(64):
                    j = (i * 7 + k) % 64
                    np.testing.assert_allclose(b.submit(xs[j]).result(timeout=30), want[j], rtol=1e-5, atol=1e-6)
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        ts = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    assert not errors, errors[:3]


def test_queue_full_timeout_cancel_and_close(affine):
    b = tp.Batcher(affine, max_batch_size=8, max_queue_delay_ms=60_000, max_queue_size=3, priority_levels=2)
    x = rows(1, 0)
    cancelled = b.submit(x, priority=2)
    timed = b.submit(x, timeout_ms=20)
    queued = b.submit(x)
    with pytest.raises(tp.ResourceExhaustedError, match="full"):
        b.submit(x)
    with pytest.raises(tp.InvalidArgumentError, match="priority"):
        b.submit(x, priority=3)
    assert cancelled.cancel()
    assert cancelled.cancelled()
    assert not cancelled.cancel()
    with pytest.raises(tp.DeadlineExceededError) as e:
        timed.result(timeout=30)
    assert isinstance(e.value, TimeoutError)
    b.close()
    assert b.closed
    with pytest.raises(tp.UnavailableError):
        queued.result(timeout=30)
    with pytest.raises(tp.UnavailableError):
        b.submit(x)
    report_error = None
    try:
        b.load_report()
    except tp.UnavailableError as err:
        report_error = err
    assert report_error is not None
    b.close()  # idempotent


def test_bad_requests_and_options(affine):
    with pytest.raises(tp.InvalidArgumentError, match="max_batch_size"):
        tp.Batcher(affine, max_batch_size=-1)
    with pytest.raises(tp.InvalidArgumentError, match="utilization"):
        tp.Batcher(affine, target_utilization=2)
    with pytest.raises(tp.InvalidArgumentError, match="timeout_action"):
        tp.Batcher(affine, timeout_action="drop")
    with pytest.raises(tp.InvalidArgumentError, match="max_queue_delay_ms"):
        tp.Batcher(affine, max_queue_delay_ms=-1)
    with pytest.raises(tp.InvalidArgumentError, match="Model"):
        tp.Batcher("affine.onnx")
    with tp.Batcher(affine, max_batch_size=4) as b:
        with pytest.raises(tp.InvalidArgumentError, match="exceeds max_batch_size"):
            b.submit(rows(5, 0))
        with pytest.raises(tp.InvalidArgumentError, match='input "x"'):
            b.submit({"x": np.zeros((1, 3), np.float32)})


def test_slo_mode_and_report_fields(affine):
    with tp.Batcher(affine, max_batch_size=16, slo_p99_ms=5, target_utilization=0.5) as b:
        for f in [b.submit(rows(1, i)) for i in range(50)]:
            f.result(timeout=30)
        r = b.load_report()
        assert r.completed_per_s > 0 and r.window_s > 0
        assert r.total_p99_ms >= r.total_p50_ms >= 0


def test_callbacks_release_inputs(affine):
    import sys
    x = rows(2, 0)
    before = sys.getrefcount(x)
    with tp.Batcher(affine, max_batch_size=8) as b:
        for _ in range(20):
            b.submit(x).result(timeout=30)
    time.sleep(0.01)
    assert sys.getrefcount(x) == before
