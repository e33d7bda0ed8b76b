"""The three reference models through the Python package against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

import tensorpod as tp

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")


def _inputs(name: str, batch: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(batch)
    if name == "mlp":
        return {"input": (8 * rng.standard_normal((batch, 784))).astype(np.float32)}
    if name == "resnet_cnn":
        return {"input": rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)}
    seq = 32
    ids = rng.integers(0, 1000, size=(batch, seq), dtype=np.int64)
    mask = np.ones((batch, seq), np.int64)
    mask[:, seq - 5:] = 0
    return {"input_ids": ids, "attention_mask": mask}


@pytest.mark.parametrize("name", ["mlp", "resnet_cnn", "minilm_encoder"])
@pytest.mark.parametrize("batch", [1, 4])
def test_matches_onnxruntime(models, name, batch):
    path = str(models[name])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    ref = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    m = tp.load(path, device="cpu", threads=1)
    feeds = _inputs(name, batch)
    want = ref.run(None, feeds)
    got = m.run(None, feeds)
    assert [o.name for o in m.outputs] == [o.name for o in ref.get_outputs()]
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4)
