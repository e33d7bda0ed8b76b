"""Engine tensors and DLPack: :func:`from_dlpack`, :func:`tensor`."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _C
from ._errors import InvalidArgumentError

Tensor = _C.Tensor
Tensor.__doc__ = """A tensor in host memory that the engine can read without a copy.

It borrows the memory of what it was made from (a numpy array, another
library's tensor through DLPack) and keeps that alive. Pass it as a model
input like an array; export it with ``np.from_dlpack(t)``,
``torch.from_dlpack(t)`` or ``t.numpy()`` (all zero-copy).

Attributes: ``shape`` (tuple), ``dtype`` (numpy dtype), ``device`` ("cpu"),
``nbytes``, ``data_ptr`` (the buffer's address).

Example::

    t = tp.from_dlpack(torch.arange(6, dtype=torch.float32).reshape(2, 3))
    y = model({"x": t})
    back = np.from_dlpack(t)          # shares the memory
"""


def tensor(array: Any) -> Tensor:
    """A :class:`Tensor` viewing a numpy array (copied once if it is not C-contiguous).

    Example::

        t = tp.tensor(np.zeros((2, 3), np.float32))
        t.data_ptr == arr.ctypes.data   # True for a C-contiguous array
    """
    return Tensor.from_numpy(np.asarray(array))


def from_dlpack(x: Any) -> Tensor:
    """Imports a DLPack producer (numpy, PyTorch, CuPy on the host, JAX ...) without a copy.

    Host (CPU) tensors only; a tensor with non-compact strides is copied
    once into a contiguous one.

    Raises:
        InvalidArgumentError: a device tensor, or a dtype tensorpod has no type for.

    Example::

        import torch, tensorpod as tp
        t = tp.from_dlpack(torch.ones(4, 784))
        y = model(t)
    """
    if isinstance(x, Tensor):
        return x
    if not hasattr(x, "__dlpack__"):
        if type(x).__name__ == "PyCapsule":
            return _C.from_dlpack_capsule(x)
        raise InvalidArgumentError(f"from_dlpack takes an object with __dlpack__, got {type(x).__name__}")
    if hasattr(x, "__dlpack_device__"):
        device_type, _ = x.__dlpack_device__()
        if int(device_type) not in (1, 3):  # kDLCPU, kDLCUDAHost
            raise InvalidArgumentError(
                f"from_dlpack: the tensor is on DLPack device type {int(device_type)}; tensorpod borrows host "
                "memory only (copy it to the CPU first)")
    try:
        return _C.from_dlpack_capsule(x.__dlpack__())
    except InvalidArgumentError as e:
        if "non-contiguous" not in str(e):
            raise
    # Non-compact strides: one contiguous copy, through numpy.
    return Tensor.from_numpy(np.ascontiguousarray(np.from_dlpack(x)))
