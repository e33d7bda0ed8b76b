"""tensorpod: fast ONNX inference on CPUs and NVIDIA GPUs, with dynamic batching.

Example::

    import numpy as np
    import tensorpod as tp

    model = tp.load("mlp.onnx", device="auto")          # the first GPU, else the CPU
    y = model(np.random.rand(8, 784).astype(np.float32))  # numpy in, numpy out, no copies

    with tp.Batcher(model, max_batch_size=32, max_queue_delay_ms=2) as batcher:
        y = batcher.submit(np.random.rand(1, 784).astype(np.float32)).result()

See :func:`load`, :class:`Model`, :class:`Batcher`, :func:`from_dlpack` and
the exception classes (one per engine status code, e.g. :class:`InvalidArgumentError`).
"""

from __future__ import annotations

from . import _C, _errors
from ._batcher import Batcher, LoadReport
from ._errors import *  # noqa: F401,F403  (one exception class per status code, listed in _errors.__all__)
from ._model import IOInfo, Model, devices, load
from ._tensor import Tensor, from_dlpack, tensor

__version__: str = _C.__version__

__all__ = [
    "__version__",
    "load",
    "Model",
    "IOInfo",
    "devices",
    "Batcher",
    "LoadReport",
    "Tensor",
    "tensor",
    "from_dlpack",
    *_errors.__all__,
]
