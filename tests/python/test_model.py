"""tensorpod.load and tensorpod.Model: metadata, call forms, dtypes, batches, zero copy, errors."""

from __future__ import annotations

import gc
import os
import sys
import threading

import numpy as np
import pytest

import tensorpod as tp
from conftest import affine_reference


def test_version_and_devices():
    assert tp.__version__ == (tp._C.__version__)
    assert tp.__version__.count(".") == 2
    devices = tp.devices()
    assert devices[0] == "cpu"
    assert all(d.startswith("cuda:") for d in devices[1:])


def test_public_names_are_documented():
    for name in tp.__all__:
        obj = getattr(tp, name)
        if name == "__version__":
            continue
        assert obj.__doc__ and "Example" in obj.__doc__, f"tensorpod.{name} lacks a docstring with an example"


def test_metadata(affine):
    assert [i.name for i in affine.inputs] == ["x"]
    assert affine.inputs[0].dtype == np.float32
    assert affine.inputs[0].shape == (None, 4)
    assert [(o.name, o.shape) for o in affine.outputs] == [("y", (None, 4)), ("z", (None, 4))]
    assert affine.device == "cpu"
    assert "x: float32[None, 4]" in repr(affine)


def test_call_forms(affine):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    y, z = affine_reference(x)
    for out in (affine(x), affine({"x": x}), affine(x=x)):
        assert list(out) == ["y", "z"]
        np.testing.assert_allclose(out["y"], y, rtol=1e-6)
        np.testing.assert_allclose(out["z"], z, rtol=1e-6)
    ys = affine.run(None, {"x": x})
    assert isinstance(ys, list) and len(ys) == 2
    [only_z] = affine.run(["z"], {"x": x})
    np.testing.assert_allclose(only_z, z, rtol=1e-6)
    # Lists convert to the input's dtype.
    np.testing.assert_allclose(affine([[1, 2, 3, 4]])["y"], affine_reference(np.array([[1, 2, 3, 4]], np.float32))[0])


@pytest.mark.parametrize("batch", [1, 5, 64, 257])
def test_dynamic_batch(affine, batch):
    x = np.random.default_rng(batch).standard_normal((batch, 4)).astype(np.float32)
    out = affine(x)
    assert out["y"].shape == (batch, 4)
    np.testing.assert_allclose(out["y"], affine_reference(x)[0], rtol=1e-6)


def test_float16(models):
    m = tp.load(models["half"], device="cpu")
    assert m.inputs[0].dtype == np.float16 and m.outputs[0].dtype == np.float16
    x = np.array([[1.5, -2.25, 65504 / 4]], np.float16)
    y = m(x)
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y, x + x)


def test_int64_and_bool(models):
    m = tp.load(models["ints"], device="cpu")
    assert [i.dtype for i in m.inputs] == [np.int64, np.int64, np.bool_]
    a = np.array([[1, -2], [2**40, 7]], np.int64)
    b = np.array([[3, 4], [5, -7]], np.int64)
    mask = np.array([[True, False], [False, True]])
    out = m(a, b, mask)
    assert out["s"].dtype == np.int64 and out["n"].dtype == np.bool_
    np.testing.assert_array_equal(out["s"], a + b)
    np.testing.assert_array_equal(out["n"], ~mask)


def test_inputs_are_borrowed_not_copied(affine):
    x = np.ones((2, 4), np.float32)
    before = tp._C.input_copies()
    for _ in range(10):
        affine(x)
    assert tp._C.input_copies() == before  # C-contiguous: borrowed
    # Non-contiguous (a transposed view) and big-endian arrays are copied once each, and still right.
    xt = np.ascontiguousarray(np.arange(8, dtype=np.float32).reshape(4, 2)).T
    assert not xt.flags.c_contiguous
    np.testing.assert_allclose(affine(xt)["y"], affine_reference(np.ascontiguousarray(xt))[0])
    xb = np.arange(8, dtype=">f4").reshape(2, 4)
    np.testing.assert_allclose(affine(xb)["y"], affine_reference(xb.astype(np.float32))[0])
    assert tp._C.input_copies() == before + 2
    # A Tensor made from an array views the same memory.
    t = tp.tensor(x)
    assert t.data_ptr == x.ctypes.data
    affine(t)
    assert tp._C.input_copies() == before + 2


def test_outputs_own_the_engine_buffer(affine):
    out = affine(np.ones((3, 4), np.float32))["y"]
    assert not out.flags.owndata
    base = out.base
    assert type(base).__name__ == "PyCapsule"
    assert tp._C.capsule_data_ptr(base) == out.ctypes.data  # the engine's buffer, not a copy
    assert out.flags.writeable
    out[0, 0] = 42  # the caller owns it
    # It outlives everything else.
    del base
    gc.collect()
    assert out[0, 0] == 42 and out[1, 1] == 1.0


@pytest.mark.parametrize("feeds, words", [
    ({"x": np.zeros((2, 3), np.float32)}, ['input "x"', "[-1,4]", "[2,3]"]),
    ({"x": np.zeros((2, 4), np.float64)}, ['input "x"', "float32", "float64"]),
    ({"nope": np.zeros((2, 4), np.float32)}, ["nope"]),
    ({}, ['"x"']),
    ({"x": np.zeros((2, 4), np.complex64)}, ["complex64", "not supported"]),
    ({"x": "text"}, ['input "x"']),
])
def test_bad_inputs_name_what_is_wrong(affine, feeds, words):
    with pytest.raises(tp.InvalidArgumentError) as e:
        affine(feeds)
    assert isinstance(e.value, ValueError)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_positional_count_and_mixed_forms(affine):
    x = np.zeros((1, 4), np.float32)
    with pytest.raises(tp.InvalidArgumentError, match="1 inputs, got 2"):
        affine(x, x)
    with pytest.raises(tp.InvalidArgumentError, match="not both"):
        affine(x, x=x)


def test_load_errors(tmp_path, models):
    with pytest.raises(tp.NotFoundError) as e:
        tp.load(tmp_path / "missing.onnx")
    assert isinstance(e.value, LookupError) and "missing.onnx" in str(e.value)
    with pytest.raises(tp.InvalidArgumentError):
        tp.load(b"this is not an onnx model")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(tp.TensorpodError):
        tp.load(garbage)
    with pytest.raises(tp.InvalidArgumentError, match="tpu"):
        tp.load(models["affine"], device="tpu")
    with pytest.raises(tp.InvalidArgumentError, match="precision"):
        tp.load(models["affine"], precision="fp8")
    with pytest.raises(tp.InvalidArgumentError, match="threads"):
        tp.load(models["affine"], threads=-1)
    with pytest.raises(tp.InvalidArgumentError, match="takes a path"):
        tp.load(12345)
    if len(tp.devices()) == 1:
        with pytest.raises(tp.FailedPreconditionError, match="CUDA"):
            tp.load(models["affine"], device="cuda")


def test_load_from_bytes_and_modelproto(models):
    import onnx
    data = models["affine"].read_bytes()
    x = np.ones((1, 4), np.float32)
    want = affine_reference(x)[0]
    np.testing.assert_allclose(tp.load(data)(x)["y"], want)
    np.testing.assert_allclose(tp.load(onnx.load(models["affine"]))(x)["y"], want)


def test_threads_share_one_model(models):
    m = tp.load(models["mlp"], device="cpu", threads=1)
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((1 + i % 4, 784)).astype(np.float32) for i in range(16)]
    want = [m(x) for x in xs]
    errors = []

    def work(k):
        try:
            for i in range(50):
                j = (i + k) % len(xs)
                np.testing.assert_array_equal(m(xs[j]), want[j])
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_gil_is_released_while_running(models):
    m = tp.load(models["slow"], device="cpu", threads=1)
    x = np.ones((256, 512), np.float32)
    m(x)  # warm up
    running = threading.Event()
    done = threading.Event()
    ticks = [0]

    def run():
        running.set()
        for _ in range(3):
            m(x)
        done.set()

    def count():
        running.wait()
        while not done.is_set():
            ticks[0] += 1

    sys.setswitchinterval(0.001)
    try:
        t1, t2 = threading.Thread(target=run), threading.Thread(target=count)
        t2.start()
        t1.start()
        t1.join()
        t2.join()
    finally:
        sys.setswitchinterval(0.005)
    # Held for three 40-matmul runs, the GIL would allow the counter only the
    # moments between them; released, it counts all along.
    assert ticks[0] > 10000, ticks[0]


def test_no_leak_over_many_calls(affine):
    def rss_kb() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

    x = np.ones((4, 4), np.float32)
    for _ in range(1000):
        affine(x)
    gc.collect()
    start = rss_kb()
    for _ in range(10000):
        out = affine(x)
        del out
    gc.collect()
    grown = rss_kb() - start
    assert grown < 4096, f"RSS grew by {grown} KiB over 10,000 calls"
