"""Loading a model and running it: :func:`load`, :class:`Model`, :func:`devices`."""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping, Sequence, Union

import numpy as np

from . import _C

ModelSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Any]

_PRECISIONS = ("fp32", "tf32", "fp16", "bf16")


@dataclasses.dataclass(frozen=True)
class IOInfo:
    """A model input or output: name, numpy dtype and shape (``None`` for a dynamic dimension).

    Example::

        m.inputs[0]  # IOInfo(name='input', dtype=dtype('float32'), shape=(None, 784))
    """

    name: str
    dtype: Any  # numpy dtype; the type's name where numpy has none (bfloat16 without ml_dtypes)
    shape: tuple


def _io_infos(raw: list) -> list[IOInfo]:
    infos = []
    for name, dtype_name, code, shape in raw:
        try:
            dtype = _C.numpy_dtype(code)
        except Exception:  # noqa: BLE001 - bfloat16 without ml_dtypes: keep the name
            dtype = dtype_name
        infos.append(IOInfo(name, dtype, tuple(shape)))
    return infos


class Model:
    """A loaded model, ready to run from any number of threads at once.

    Make one with :func:`load`. Call it with the inputs as a dict, positionally
    in input order, or as keyword arguments; C-contiguous numpy arrays are
    borrowed, not copied, and the outputs are numpy arrays that own the
    engine's buffers (no copy either). A model with one output returns that
    array; one with several returns a dict of name -> array, in model order.
    The GIL is released while the model runs.

    Example::

        import numpy as np, tensorpod as tp
        m = tp.load("mlp.onnx")
        logits = m(np.zeros((8, 784), np.float32))        # positional
        logits = m({"input": np.zeros((8, 784), np.float32)})
        [logits] = m.run(None, {"input": x})               # onnxruntime's signature
    """

    __slots__ = ("_session", "_inputs", "_outputs", "_output_names", "_single", "__weakref__")

    def __init__(self, session: "_C.Session") -> None:
        self._session = session
        self._inputs = _io_infos(session.inputs)
        self._outputs = _io_infos(session.outputs)
        self._output_names = [o.name for o in self._outputs]
        self._single = len(self._outputs) == 1

    @property
    def inputs(self) -> list[IOInfo]:
        """The model's inputs, in order.

        Example::

            [(i.name, i.dtype, i.shape) for i in m.inputs]  # [('input', dtype('float32'), (None, 784))]
        """
        return list(self._inputs)

    @property
    def outputs(self) -> list[IOInfo]:
        """The model's outputs, in order.

        Example::

            m.outputs[0].name  # 'logits'
        """
        return list(self._outputs)

    @property
    def device(self) -> str:
        """Where the model runs: ``"cpu"`` or ``"cuda:N"``.

        Example::

            tp.load("mlp.onnx", device="auto").device  # 'cpu' on a machine without a GPU
        """
        return self._session.device

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Runs the model: ``m(x)``, ``m(x1, x2)``, ``m({"a": x1, "b": x2})`` or ``m(a=x1, b=x2)``.

        Example::

            y = m(np.ones((1, 784), np.float32))
        """
        return self._result(self._session.run(_feeds(args, kwargs), None))

    def _result(self, outs: list) -> Any:
        """The outputs as ``__call__`` returns them: the array of a one-output model, else a dict."""
        return outs[0] if self._single else dict(zip(self._output_names, outs))

    def run(self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any],
            run_options: Any = None) -> list[np.ndarray]:
        """onnxruntime's ``InferenceSession.run``: the named outputs (all when ``None``), as a list.

        Example::

            [y] = m.run(["logits"], {"input": x})
        """
        names = None if output_names is None else list(output_names)
        if not isinstance(input_feed, dict):
            input_feed = dict(input_feed)
        return self._session.run(input_feed, names)

    def __repr__(self) -> str:
        ins = ", ".join(f"{i.name}: {i.dtype}{list(i.shape)}" for i in self._inputs)
        outs = ", ".join(f"{o.name}: {o.dtype}{list(o.shape)}" for o in self._outputs)
        return f"<tensorpod.Model on {self.device}: ({ins}) -> ({outs})>"


def _feeds(args: tuple, kwargs: dict) -> Any:
    """The inputs of a call: a dict (given, or from keywords) or the positional tuple."""
    if kwargs:
        if args:
            raise _C_invalid("pass the inputs either by name or positionally, not both")
        return kwargs
    if len(args) == 1 and isinstance(args[0], Mapping):
        return args[0] if isinstance(args[0], dict) else dict(args[0])
    return args


def _C_invalid(message: str) -> Exception:
    from ._errors import InvalidArgumentError
    return InvalidArgumentError(message)


def load(model: ModelSource, *, device: str = "auto", threads: int | None = None, precision: str = "fp32",
         max_batch: int | None = None, cuda_graphs: bool = True, optimize: bool = True,
         allow_cpu_fallback: bool = True, log_level: str | None = None) -> Model:
    """Loads an ONNX model from a path, from bytes, or from an ``onnx.ModelProto``.

    Args:
        model: a file path, the serialized model, or an ``onnx.ModelProto``.
        device: ``"auto"`` (the first GPU, else the CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        threads: CPU threads for one run (``None``: the engine's default).
        precision: ``"fp32"``, ``"tf32"``, ``"fp16"`` or ``"bf16"`` (reduced ones on GPUs);
            inputs and outputs keep the model's dtypes.
        max_batch: the largest batch to reserve memory for at load (``None``: the model's own).
        cuda_graphs: record and replay CUDA graphs on GPUs.
        optimize: run the graph optimizations (fusions, constant folding).
        allow_cpu_fallback: run nodes the GPU cannot on the CPU (else loading fails).
        log_level: ``"trace"`` ... ``"off"``; ``None`` keeps ``TENSORPOD_LOG_LEVEL`` or the default.

    Raises:
        NotFoundError: no such file. InvalidArgumentError: a bad option or a malformed model.
        UnimplementedError: an operator tensorpod does not implement.
        FailedPreconditionError: ``device="cuda"`` without a usable GPU.

    Example::

        import tensorpod as tp
        m = tp.load("resnet.onnx", device="auto", threads=2)
    """
    if precision not in _PRECISIONS:
        raise _C_invalid(f"precision must be one of {', '.join(_PRECISIONS)}, got {precision!r}")
    if threads is not None and (not isinstance(threads, int) or threads < 0):
        raise _C_invalid(f"threads must be an int >= 0 or None, got {threads!r}")
    if max_batch is not None and (not isinstance(max_batch, int) or max_batch < 1):
        raise _C_invalid(f"max_batch must be an int >= 1 or None, got {max_batch!r}")
    args = (device, 0 if threads is None else threads, precision, 0 if max_batch is None else max_batch,
            bool(cuda_graphs), bool(optimize), bool(allow_cpu_fallback), log_level or "")
    if isinstance(model, (bytes, bytearray, memoryview)):
        return Model(_C.Session.load_bytes(bytes(model), *args))
    if hasattr(model, "SerializeToString"):
        return Model(_C.Session.load_bytes(model.SerializeToString(), *args))
    if isinstance(model, (str, os.PathLike)):
        return Model(_C.Session.load(os.fspath(model), *args))
    raise _C_invalid(f"load() takes a path, bytes or an onnx.ModelProto, got {type(model).__name__}")


def devices() -> list[str]:
    """The devices a model can run on: ``"cpu"``, then ``"cuda:0"``, ``"cuda:1"``, ...

    Example::

        tp.devices()  # ['cpu'] without a GPU
    """
    return ["cpu"] + [f"cuda:{i}" for i in range(_C.cuda_device_count())]
