"""DLPack in both directions: numpy always, PyTorch when it is importable."""

from __future__ import annotations

import numpy as np
import pytest

import tensorpod as tp
from conftest import affine_reference


def test_numpy_round_trip_without_copies(affine):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = tp.from_dlpack(x)
    assert isinstance(t, tp.Tensor)
    assert t.shape == (3, 4) and t.dtype == np.float32 and t.device == "cpu"
    assert t.data_ptr == x.ctypes.data
    assert t.__dlpack_device__() == (1, 0)
    back = np.from_dlpack(t)
    assert back.ctypes.data == x.ctypes.data
    np.testing.assert_array_equal(back, x)
    np.testing.assert_array_equal(t.numpy(), x)
    np.testing.assert_array_equal(np.asarray(t), x)
    # As a model input.
    np.testing.assert_allclose(affine({"x": t})["y"], affine_reference(x)[0])
    assert "shape=(3, 4)" in repr(t)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, np.int64, np.int32, np.int8, np.uint8, np.bool_])
def test_dtypes_survive(dtype):
    x = (np.arange(6) % 2).astype(dtype).reshape(2, 3)
    t = tp.from_dlpack(x)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(np.from_dlpack(t), x)


def test_strided_input_is_copied_once():
    x = np.arange(16, dtype=np.float32).reshape(4, 4)[:, ::2]
    t = tp.from_dlpack(x)
    assert t.data_ptr != x.ctypes.data
    np.testing.assert_array_equal(t.numpy(), x)


def test_keeps_the_producer_alive():
    t = tp.from_dlpack(np.full((1000,), 7, np.int64))
    import gc
    gc.collect()
    assert int(t.numpy().sum()) == 7000


def test_bad_inputs():
    with pytest.raises(tp.InvalidArgumentError, match="__dlpack__"):
        tp.from_dlpack([1, 2, 3])
    x = np.zeros(3, np.complex64)
    with pytest.raises(tp.InvalidArgumentError, match="not supported"):
        tp.from_dlpack(x)
    cap = np.zeros(3, np.float32).__dlpack__()
    tp.from_dlpack(cap)
    with pytest.raises(tp.InvalidArgumentError, match="used once"):
        tp.from_dlpack(cap)


def test_torch_both_ways(affine):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    x = torch.arange(8, dtype=torch.float32).reshape(2, 4)
    t = tp.from_dlpack(x)
    assert t.data_ptr == x.data_ptr()
    out = affine({"x": t})
    np.testing.assert_allclose(out["y"], affine_reference(x.numpy())[0])
    back = torch.from_dlpack(tp.tensor(out["y"]))
    assert back.data_ptr() == out["y"].ctypes.data
    assert torch.equal(back, torch.from_numpy(out["y"]))
