"""Dynamic batching from Python: :class:`Batcher` and its :class:`LoadReport`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import weakref
from typing import Any, Sequence

from . import _C
from ._errors import InvalidArgumentError
from ._model import Model, _feeds


@dataclasses.dataclass(frozen=True)
class LoadReport:
    """The batcher's load over its sliding window (what the server exports for autoscaling).

    Example::

        r = batcher.load_report()
        r.queue_depth, r.mean_batch_size, r.total_p99_ms, r.recommended_replicas
    """

    queue_depth: int
    in_flight: int
    arrival_rate_per_s: float
    completed_per_s: float
    batches_per_s: float
    mean_batch_size: float
    mean_batch_fill: float
    queue_compute_ratio: float
    instance_busy_fraction: float
    queue_p50_ms: float
    queue_p95_ms: float
    queue_p99_ms: float
    compute_p50_ms: float
    compute_p95_ms: float
    compute_p99_ms: float
    total_p50_ms: float
    total_p95_ms: float
    total_p99_ms: float
    capacity_per_s: float
    recommended_replicas: int
    rejected: int
    window_s: float


class _RequestFuture(concurrent.futures.Future):
    """A submitted request; ``cancel()`` takes it out of the queue if it has not started."""

    def __init__(self, batcher: "_C.Batcher") -> None:
        super().__init__()
        self._batcher = batcher
        self._id: int | None = None
        self._cancelling = False

    def cancel(self) -> bool:
        if self.done() or self._id is None:
            return False
        self._cancelling = True
        if not self._batcher.cancel(self._id):
            self._cancelling = False
            return False  # already running: it completes normally
        return super().cancel()


def _us(ms: float | None, what: str) -> int:
    if ms is None:
        return 0
    if not isinstance(ms, (int, float)) or ms < 0:
        raise InvalidArgumentError(f"{what} must be a number of milliseconds >= 0, got {ms!r}")
    return int(round(ms * 1000))


class Batcher:
    """Many small requests in, full batches out: a dynamic batcher over a :class:`Model`.

    Requests submitted from any thread (or coroutine) queue up and run
    together, concatenated along the batch (first) dimension, when a batch is
    full, reaches a preferred size, or its oldest request has waited
    ``max_queue_delay_ms``. Each caller gets its own rows of the outputs.

    Args:
        model: the model (its inputs need a dynamic first dimension when max_batch_size > 1).
        max_batch_size: rows per batch; 0 for a model without a batch dimension (requests run one at a time).
        max_queue_delay_ms: how long a partial batch may wait for more requests.
        max_queue_size: queued requests beyond which ``submit`` raises ResourceExhaustedError (0: unbounded).
        preferred_batch_sizes: batch sizes dispatched as soon as they can be formed.
        priority_levels: levels 1 (highest) .. priority_levels; ``default_priority`` 0 is the middle one.
        default_timeout_ms: queue timeout for requests without their own (``None``: none).
        timeout_action: ``"reject"`` (DeadlineExceededError) or ``"delay"`` (behind all others).
        instances: batches that may run at once.
        preserve_ordering: complete requests in submission order.
        slo_p99_ms: SLO mode: adapt the delay and batch cap online so the p99 latency stays under this.
        target_utilization: the utilization ``recommended_replicas`` aims at.

    Example::

        import asyncio, numpy as np, tensorpod as tp
        m = tp.load("mlp.onnx")
        with tp.Batcher(m, max_batch_size=32, max_queue_delay_ms=2) as b:
            fut = b.submit(np.zeros((1, 784), np.float32))     # concurrent.futures.Future
            y = fut.result()
            y = asyncio.run(b.infer(np.zeros((1, 784), np.float32)))
    """

    def __init__(self, model: Model, *, max_batch_size: int = 8, max_queue_delay_ms: float = 0.0,
                 max_queue_size: int = 0, preferred_batch_sizes: Sequence[int] = (), priority_levels: int = 1,
                 default_priority: int = 0, default_timeout_ms: float | None = None, timeout_action: str = "reject",
                 instances: int = 1, preserve_ordering: bool = False, slo_p99_ms: float | None = None,
                 target_utilization: float = 0.7) -> None:
        if not isinstance(model, Model):
            raise InvalidArgumentError(f"Batcher takes a tensorpod.Model, got {type(model).__name__}")
        if timeout_action not in ("reject", "delay"):
            raise InvalidArgumentError(f"timeout_action must be 'reject' or 'delay', got {timeout_action!r}")
        self._model = model
        self._b = _C.Batcher(
            model._session, int(max_batch_size), [int(s) for s in preferred_batch_sizes],
            _us(max_queue_delay_ms, "max_queue_delay_ms"), int(max_queue_size), int(priority_levels),
            int(default_priority), _us(default_timeout_ms, "default_timeout_ms"), timeout_action == "reject",
            int(instances), bool(preserve_ordering), float(slo_p99_ms or 0.0), float(target_utilization))
        # Closed when collected or at interpreter exit, whichever is first.
        self._finalizer = weakref.finalize(self, self._b.close)

    def submit(self, *args: Any, priority: int = 0, timeout_ms: float | None = None,
               **named: Any) -> concurrent.futures.Future:
        """Queues one request; returns a ``concurrent.futures.Future`` of its outputs.

        The inputs are given as for :meth:`Model.__call__` (a dict, positionally,
        or by keyword); each is ``[rows, ...]`` with rows <= max_batch_size, and
        arrays stay borrowed until the request completes. The result is an
        array (one output) or a dict of arrays. ``priority`` 0 and
        ``timeout_ms`` None take the batcher's defaults; a timeout may only
        shorten the default.

        Raises (at once, nothing queued): InvalidArgumentError for bad inputs,
        ResourceExhaustedError when the queue is full, UnavailableError when closed.

        Example::

            fut = b.submit({"input": x}, priority=1, timeout_ms=50)
            y = fut.result(timeout=1)
        """
        feeds = _feeds(args, named)
        fut = _RequestFuture(self._b)
        result = self._model._result

        def done(outputs: list | None, error: BaseException | None) -> None:
            if fut._cancelling:
                return  # cancel() marks it cancelled
            try:
                if error is not None:
                    fut.set_exception(error)
                else:
                    fut.set_result(result(outputs))
            except concurrent.futures.InvalidStateError:
                pass  # cancelled meanwhile

        fut._id = self._b.submit(feeds, done, int(priority), _us(timeout_ms, "timeout_ms"))
        return fut

    async def infer(self, *args: Any, priority: int = 0, timeout_ms: float | None = None, **named: Any) -> Any:
        """The asyncio form of :meth:`submit`: ``await b.infer(x)``; cancelling the task cancels the request.

        Example::

            ys = await asyncio.gather(*(b.infer(x) for x in xs))
        """
        return await asyncio.wrap_future(self.submit(*args, priority=priority, timeout_ms=timeout_ms, **named))

    def load_report(self) -> LoadReport:
        """The batcher's load now (cheap: for metrics scrapes and autoscalers).

        Example::

            print(b.load_report().recommended_replicas)
        """
        return LoadReport(**self._b.load_report())

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran.

        Example::

            b.close(); b.closed  # True
        """
        return self._b.closed

    def close(self) -> None:
        """Stops the batcher: running batches finish, queued requests fail with UnavailableError.

        Example::

            b.close()
        """
        self._finalizer()

    def __enter__(self) -> "Batcher":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<tensorpod.Batcher over {self._model!r}{' (closed)' if self.closed else ''}>"
