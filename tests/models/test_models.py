"""End-to-end model tests: tensorpod's CLI against onnxruntime (CPU EP).

Each test builds a model with ``make_models``, feeds random inputs to
``tensorpod run`` and to onnxruntime, and compares the outputs. The CLI is
``$TENSORPOD_CLI`` or ``build/src/tensorpod`` under the repository root;
the tests skip, saying so, when neither exists.

Example::

    TENSORPOD_CLI=build/src/tensorpod .venv/bin/python -m pytest -q tests/models
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_models  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
ATOL = 1e-4
RTOL = 1e-3
# PyTorch's default Linear init shrinks activations layer by layer; larger
# inputs keep MLP logits O(1) so that ATOL is not loose relative to them.
MLP_INPUT_SCALE = 8.0


def _cli_path() -> Path | None:
    env = os.environ.get("TENSORPOD_CLI")
    path = Path(env) if env else REPO_ROOT / "build" / "src" / "tensorpod"
    return path if path.is_file() and os.access(path, os.X_OK) else None


@pytest.fixture(scope="session")
def cli() -> Path:
    path = _cli_path()
    if path is None:
        where = os.environ.get("TENSORPOD_CLI") or str(REPO_ROOT / "build" / "src" / "tensorpod")
        reason = f"tensorpod CLI not found at {where}; build it or set TENSORPOD_CLI"
        print(reason)
        pytest.skip(reason)
    return path


def _float_inputs(model: onnx.ModelProto, batch: int, seed: int, scale: float = 1.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    (inp,) = model.graph.input
    dims = [batch if d.dim_param else d.dim_value for d in inp.type.tensor_type.shape.dim]
    return {inp.name: (scale * rng.standard_normal(dims)).astype(np.float32)}


def _encoder_inputs(vocab: int, batch: int, seq: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, size=(batch, seq), dtype=np.int64)
    mask = np.ones((batch, seq), dtype=np.int64)
    # Right padding on odd rows (and on the only row of a batch of one), holes
    # on every third row; row 0 of a larger batch stays unmasked and token 0
    # always attends, so no row is fully masked.
    for b in range(batch):
        if batch == 1 or b % 2 == 1:
            mask[b, seq - int(rng.integers(1, seq // 2 + 1)):] = 0
        if b % 3 == 2:
            mask[b, rng.integers(1, seq, size=max(1, seq // 4))] = 0
    assert (mask == 0).any() and (mask[:, 0] == 1).all()
    return {"input_ids": ids, "attention_mask": mask}


def _reference(model_path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, inputs)))


def _run_cli(cli: Path, model_path: Path, inputs: dict[str, np.ndarray], work: Path) -> dict[str, np.ndarray]:
    args = [str(cli), "run", str(model_path), "--output-dir", str(work / "out"), "--threads", "2"]
    for name, value in inputs.items():
        path = work / f"in_{name}.npy"
        np.save(path, value)
        args += ["--input", f"{name}={path}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"tensorpod run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    model = onnx.load(str(model_path), load_external_data=False)
    return {o.name: np.load(work / "out" / f"{o.name}.npy") for o in model.graph.output}


def _check(cli: Path, model: onnx.ModelProto, inputs: dict[str, np.ndarray], tmp_path: Path) -> None:
    model_path = Path(make_models.save(model, str(tmp_path / "model.onnx")))
    expected = _reference(model_path, inputs)
    actual = _run_cli(cli, model_path, inputs, tmp_path)
    for name, want in expected.items():
        got = actual[name]
        assert got.dtype == want.dtype, f"{name}: dtype {got.dtype}, expected {want.dtype}"
        assert got.shape == want.shape, f"{name}: shape {got.shape}, expected {want.shape}"
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=RTOL, err_msg=f"output {name}")


@pytest.mark.parametrize("batch", [1, 5])
class TestMlp:
    def test_gemm(self, cli, tmp_path, batch):
        model = make_models.mlp(seed=11)
        _check(cli, model, _float_inputs(model, batch, seed=100 + batch, scale=MLP_INPUT_SCALE), tmp_path)

    def test_matmul_add(self, cli, tmp_path, batch):
        model = make_models.mlp(seed=12, linear="matmul")
        _check(cli, model, _float_inputs(model, batch, seed=200 + batch, scale=MLP_INPUT_SCALE), tmp_path)


@pytest.mark.parametrize("batch", [1, 5])
def test_resnet_cnn(cli, tmp_path, batch):
    model = make_models.resnet_cnn(seed=21)
    _check(cli, model, _float_inputs(model, batch, seed=300 + batch), tmp_path)


@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("seq", [7, 16])
def test_minilm_encoder(cli, tmp_path, batch, seq):
    model = make_models.minilm_encoder(seed=31)
    _check(cli, model, _encoder_inputs(1000, batch, seq, seed=400 + 10 * batch + seq), tmp_path)


class TestUnseenModels:
    """Seeds and shapes that no other test uses, so nothing can be tuned to them."""

    @pytest.mark.parametrize("batch", [1, 3])
    def test_mlp(self, cli, tmp_path, batch):
        model = make_models.mlp(seed=1001, in_features=100, hidden=(300,), classes=7, linear="matmul")
        _check(cli, model, _float_inputs(model, batch, seed=1100 + batch, scale=MLP_INPUT_SCALE), tmp_path)

    @pytest.mark.parametrize("batch", [1, 3])
    def test_mlp_deep_gemm(self, cli, tmp_path, batch):
        model = make_models.mlp(seed=1002, in_features=37, hidden=(65, 129, 33), classes=3)
        _check(cli, model, _float_inputs(model, batch, seed=1200 + batch, scale=MLP_INPUT_SCALE), tmp_path)

    @pytest.mark.parametrize("batch", [1, 3])
    def test_resnet_cnn(self, cli, tmp_path, batch):
        model = make_models.resnet_cnn(seed=1003, channels=(8, 24), image=40, classes=5, blocks_per_stage=2)
        _check(cli, model, _float_inputs(model, batch, seed=1300 + batch), tmp_path)

    @pytest.mark.parametrize("batch", [1, 3])
    def test_minilm_encoder(self, cli, tmp_path, batch):
        model = make_models.minilm_encoder(seed=1004, layers=1, hidden=128, heads=4, ffn=256, vocab=517,
                                           max_pos=64, positions="range", gelu="half_first")
        _check(cli, model, _encoder_inputs(517, batch, 11, seed=1400 + batch), tmp_path)


def _parse_inspect(text: str) -> tuple[dict[str, int], int]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"ops \(\d+ types\):", line))
    n_types = int(re.match(r"ops \((\d+) types\):", lines[start]).group(1))
    histogram = {}
    for line in lines[start + 1:start + 1 + n_types]:
        name, count = line.split()
        histogram[name] = int(count)
    params = next(int(m.group(1)) for line in lines if (m := re.match(r"parameters: (\d+)$", line)))
    return histogram, params


@pytest.mark.parametrize("family", ["mlp", "resnet_cnn", "minilm_encoder"])
def test_inspect(cli, tmp_path, family):
    sizes = {
        "mlp": dict(seed=5, in_features=50, hidden=(40, 30)),
        "resnet_cnn": dict(seed=6, channels=(8, 16), image=16),
        "minilm_encoder": dict(seed=7, layers=2, hidden=64, heads=4, ffn=96, vocab=100, max_pos=32),
    }[family]
    model = getattr(make_models, family)(**sizes)
    path = make_models.save(model, str(tmp_path / "model.onnx"))
    proc = subprocess.run([str(cli), "inspect", path], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    histogram, params = _parse_inspect(proc.stdout)
    assert histogram == dict(collections.Counter(n.op_type for n in model.graph.node))
    assert params == sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    assert f"nodes: {len(model.graph.node)}" in proc.stdout
