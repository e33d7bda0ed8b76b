"""GPU model tests: ``tensorpod run --device cuda`` against onnxruntime (CPU EP).

The three reference models of ``tests/models/make_models.py`` (mlp,
resnet_cnn, minilm_encoder) run on cuda:0 in each precision and are compared
with onnxruntime's float32 outputs:

- ``fp32``: ``|got - want| <= 1e-3 + 1e-3 * |want|`` element-wise;
- ``tf32``, ``fp16``, ``bf16``: normalized error ``max|got - want| / max|want|``
  at most 1e-2, 2e-2 and 5e-2 (inputs and outputs stay float32; the session
  computes in the reduced type with float32 accumulation).

The CLI's own report of each output (``NAME DTYPE SHAPE -> PATH``) is checked
against the file it wrote. Every test skips, printing why, when the CLI says
that no GPU is usable (``FAILED_PRECONDITION`` from ``--device cuda``); any
other failure of the probe fails the tests. The CLI is ``$TENSORPOD_CLI`` or
``build/src/tensorpod``.

Example::

    TENSORPOD_CLI=build/src/tensorpod .venv/bin/python -m pytest -q -rs tests/gpu/test_models_gpu.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "models"))
import make_models  # noqa: E402
import test_models as cpu_model_tests  # noqa: E402  (shared input makers and the onnxruntime reference)

# Normalized-error bounds for the reduced precisions (see the module docstring).
BOUNDS = {"tf32": 1e-2, "fp16": 2e-2, "bf16": 5e-2}
FP32_ATOL = 1e-3
FP32_RTOL = 1e-3
ENCODER_SEQ = 32
ENCODER_VOCAB = 1000


def _cli_or_skip() -> Path:
    path = cpu_model_tests._cli_path()
    if path is None:
        reason = "tensorpod CLI not found; build it or set TENSORPOD_CLI"
        print(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    """The three reference models, written once per session."""
    out = tmp_path_factory.mktemp("gpu_models")
    built = {
        "mlp": make_models.mlp(seed=11),
        "resnet_cnn": make_models.resnet_cnn(seed=21),
        "minilm_encoder": make_models.minilm_encoder(seed=31, vocab=ENCODER_VOCAB),
    }
    return {name: Path(make_models.save(m, str(out / f"{name}.onnx"))) for name, m in built.items()}


@pytest.fixture(scope="session")
def gpu_cli(models) -> Path:
    """The CLI, after checking that it runs a model on cuda:0; skips when no GPU is usable."""
    cli = _cli_or_skip()
    args = [str(cli), "bench", str(models["mlp"]), "--device", "cuda", "--batch", "1", "--seconds", "0.05",
            "--json"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        if "FAILED_PRECONDITION" in proc.stderr:
            reason = f"no usable GPU: {proc.stderr.strip()}"
            print(reason)
            pytest.skip(reason)
        pytest.fail(f"probe {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report.get("device", "").startswith("cuda"), f"--device cuda ran on {report.get('device')!r}"
    return cli


def _inputs(family: str, model: onnx.ModelProto, batch: int, seed: int) -> dict[str, np.ndarray]:
    if family == "minilm_encoder":
        return cpu_model_tests._encoder_inputs(ENCODER_VOCAB, batch, ENCODER_SEQ, seed)
    scale = cpu_model_tests.MLP_INPUT_SCALE if family == "mlp" else 1.0
    return cpu_model_tests._float_inputs(model, batch, seed, scale=scale)


def _run_on_gpu(cli: Path, model_path: Path, inputs: dict[str, np.ndarray], work: Path,
                precision: str) -> dict[str, np.ndarray]:
    out_dir = work / "out"
    args = [str(cli), "run", str(model_path), "--device", "cuda", "--precision", precision,
            "--output-dir", str(out_dir), "--threads", "2"]
    for name, value in inputs.items():
        path = work / f"in_{name}.npy"
        np.save(path, value)
        args += ["--input", f"{name}={path}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"tensorpod run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    model = onnx.load(str(model_path), load_external_data=False)
    outputs = {}
    for o in model.graph.output:
        arr = np.load(out_dir / f"{o.name}.npy")
        # The CLI's line for this output: "NAME DTYPE [d0,d1,...] -> PATH".
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(o.name + " ")), None)
        assert line is not None, f"tensorpod run did not report output {o.name}:\n{proc.stdout}"
        m = re.match(rf"{re.escape(o.name)} (\S+) \[([0-9,]*)\] -> (.+)$", line)
        assert m, f"unexpected report line {line!r}"
        shape = tuple(int(d) for d in m.group(2).split(",") if d)
        assert shape == arr.shape, f"{o.name}: reported shape {shape}, file has {arr.shape}"
        assert Path(m.group(3)) == out_dir / f"{o.name}.npy"
        outputs[o.name] = arr
    return outputs


@pytest.mark.parametrize("family", ["mlp", "resnet_cnn", "minilm_encoder"])
@pytest.mark.parametrize("precision,batch", [("fp32", 1), ("fp32", 3), ("tf32", 3), ("fp16", 1), ("fp16", 3),
                                             ("bf16", 3)])
def test_model_on_gpu(gpu_cli, models, tmp_path, family, precision, batch):
    model_path = models[family]
    model = onnx.load(str(model_path))
    inputs = _inputs(family, model, batch, seed=500 + 10 * batch + len(family))
    expected = cpu_model_tests._reference(model_path, inputs)
    actual = _run_on_gpu(gpu_cli, model_path, inputs, tmp_path, precision)
    for name, want in expected.items():
        got = actual[name]
        assert got.dtype == want.dtype, f"{name}: dtype {got.dtype}, expected {want.dtype}"
        assert got.shape == want.shape, f"{name}: shape {got.shape}, expected {want.shape}"
        assert np.isfinite(got).all(), f"{name}: non-finite values on cuda in {precision}"
        if precision == "fp32":
            np.testing.assert_allclose(got, want, atol=FP32_ATOL, rtol=FP32_RTOL,
                                       err_msg=f"{family} output {name} on cuda in fp32")
        else:
            err = float(np.max(np.abs(got.astype(np.float64) - want)) / max(np.max(np.abs(want)), 1e-30))
            print(f"{family} {precision} batch {batch}: normalized error {err:.3g}")
            assert err <= BOUNDS[precision], (
                f"{family} output {name} on cuda in {precision}: normalized error {err:.3g} > {BOUNDS[precision]}")
