"""Dynamic batching from asyncio: many concurrent one-row requests become a few full batches.

    python examples/python/batching_asyncio.py
"""

import asyncio
import time
from pathlib import Path

import numpy as np

import tensorpod as tp

MODEL = Path(__file__).resolve().parents[1] / "models" / "mlp.onnx"


async def client(batcher: tp.Batcher, rng: np.random.Generator, n: int) -> list[float]:
    """One simulated user: n requests, one row each, returning each one's latency in ms."""
    latencies = []
    for _ in range(n):
        x = rng.standard_normal((1, 64)).astype(np.float32)
        start = time.perf_counter()
        logits = await batcher.infer({"input": x})
        latencies.append((time.perf_counter() - start) * 1e3)
        assert logits.shape == (1, 10)
    return latencies


async def main() -> None:
    model = tp.load(MODEL, device="auto")
    with tp.Batcher(model, max_batch_size=32, max_queue_delay_ms=1.0, max_queue_size=1024) as batcher:
        rngs = [np.random.default_rng(i) for i in range(64)]
        start = time.perf_counter()
        results = await asyncio.gather(*(client(batcher, r, 20) for r in rngs))
        elapsed = time.perf_counter() - start
        report = batcher.load_report()
    latencies = np.concatenate(results)
    print(f"{latencies.size} requests from 64 clients in {elapsed:.2f} s ({latencies.size / elapsed:.0f} req/s)")
    print(f"latency p50 {np.percentile(latencies, 50):.2f} ms, p99 {np.percentile(latencies, 99):.2f} ms")
    print(f"mean batch {report.mean_batch_size:.1f} rows, busy {report.instance_busy_fraction:.2f}, "
          f"recommended replicas {report.recommended_replicas}")
    assert report.mean_batch_size > 1
    print("ok")


if __name__ == "__main__":
    asyncio.run(main())
