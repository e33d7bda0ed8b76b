"""tensorpod's exceptions: one class per status code of the engine.

Every error the engine reports is raised as the class for its code, with the
engine's message (which names what is at fault). They share the base class
:class:`TensorpodError`, and each also derives from the built-in exception a
Python user would expect (``ValueError`` for bad input, ``TimeoutError`` for a
deadline, ...), so existing ``except`` clauses keep working.

Example::

    import tensorpod as tp
    try:
        tp.load("missing.onnx")
    except tp.NotFoundError as e:
        print(e.code, e)      # NOT_FOUND cannot open file "missing.onnx"
"""

from __future__ import annotations

__all__ = [
    "TensorpodError",
    "InvalidArgumentError",
    "FailedPreconditionError",
    "NotFoundError",
    "AlreadyExistsError",
    "UnimplementedError",
    "ResourceExhaustedError",
    "UnavailableError",
    "DeadlineExceededError",
    "CancelledError",
    "InternalError",
]


class TensorpodError(Exception):
    """Base class of every error the engine reports; ``code`` names the status code.

    Example::

        except tp.TensorpodError as e:
            log.warning("tensorpod said %s: %s", e.code, e)
    """

    code = "UNKNOWN"


class InvalidArgumentError(TensorpodError, ValueError):
    """Bad input: a wrong shape, dtype, name or option (HTTP 400).

    Example::

        model({"x": np.zeros((2, 3), np.float32)})  # raises: input "x": expected shape [-1,4], got [2,3]
    """

    code = "INVALID_ARGUMENT"


class FailedPreconditionError(TensorpodError):
    """The request is valid but the system is not in a state to run it (e.g. no GPU for ``device="cuda"``).

    Example::

        tp.load("model.onnx", device="cuda")  # on a machine without a GPU
    """

    code = "FAILED_PRECONDITION"


class NotFoundError(TensorpodError, LookupError):
    """Something named does not exist: a model file, an output name.

    Example::

        tp.load("missing.onnx")
    """

    code = "NOT_FOUND"


class AlreadyExistsError(TensorpodError):
    """Something to be created exists already.

    Example::

        except tp.AlreadyExistsError: ...
    """

    code = "ALREADY_EXISTS"


class UnimplementedError(TensorpodError, NotImplementedError):
    """The model uses an operator or type tensorpod does not implement.

    Example::

        tp.load("model_with_unknown_op.onnx")
    """

    code = "UNIMPLEMENTED"


class ResourceExhaustedError(TensorpodError):
    """Out of memory, or the batcher's queue is full: retry later (HTTP 429).

    Example::

        batcher.submit(feeds)  # raises when max_queue_size requests are waiting
    """

    code = "RESOURCE_EXHAUSTED"


class UnavailableError(TensorpodError):
    """Not serving: the batcher is closed or shutting down (HTTP 503).

    Example::

        batcher.close(); batcher.submit(feeds)  # raises
    """

    code = "UNAVAILABLE"


class DeadlineExceededError(TensorpodError, TimeoutError):
    """A request's timeout passed while it waited in the batcher's queue (HTTP 504).

    Example::

        batcher.submit(feeds, timeout_ms=1).result()
    """

    code = "DEADLINE_EXCEEDED"


class CancelledError(TensorpodError):
    """A queued request was cancelled.

    Example::

        except tp.CancelledError: ...
    """

    code = "CANCELLED"


class InternalError(TensorpodError, RuntimeError):
    """A bug in tensorpod: please report it with the message.

    Example::

        except tp.InternalError as e: report(e)
    """

    code = "INTERNAL"
