"""Fixtures for the Python package's tests, which run against the installed package.

The models are built here with onnx's helpers (and the reference models with
tests/models/make_models.py), written once per session.

Example::

    .venv-py/bin/python -m pytest -q tests/python
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "models"))
import make_models  # noqa: E402

import tensorpod as tp  # noqa: E402

OPSET = make_models.OPSET


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tensorpod-tests")
    model.ir_version = make_models.IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return path


def affine_graph() -> onnx.GraphProto:
    """x [batch, 4] -> y = x * [1, 2, 3, 4] + [0.5, -1, 0, -10], z = Relu(y)."""
    scale = numpy_helper.from_array(np.array([1, 2, 3, 4], np.float32), "scale")
    bias = numpy_helper.from_array(np.array([0.5, -1, 0, -10], np.float32), "bias")
    return helper.make_graph(
        [helper.make_node("Mul", ["x", "scale"], ["xs"]), helper.make_node("Add", ["xs", "bias"], ["y"]),
         helper.make_node("Relu", ["y"], ["z"])],
        "affine", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4])], [scale, bias])


def affine_reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = x * np.array([1, 2, 3, 4], np.float32) + np.array([0.5, -1, 0, -10], np.float32)
    return y, np.maximum(y, 0)


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    """Small models with each dtype the package maps, and the three reference models."""
    d = tmp_path_factory.mktemp("models")
    out = {"affine": _save(affine_graph(), d / "affine.onnx")}
    # float16 in and out: y = x + x.
    out["half"] = _save(helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["y"])], "half",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["batch", 3])]), d / "half.onnx")
    # int64 and bool: s = a + b, n = Not(m).
    out["ints"] = _save(helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Not", ["m"], ["n"])], "ints",
        [helper.make_tensor_value_info("a", TensorProto.INT64, ["batch", 2]),
         helper.make_tensor_value_info("b", TensorProto.INT64, ["batch", 2]),
         helper.make_tensor_value_info("m", TensorProto.BOOL, ["batch", 2])],
        [helper.make_tensor_value_info("s", TensorProto.INT64, ["batch", 2]),
         helper.make_tensor_value_info("n", TensorProto.BOOL, ["batch", 2])]), d / "ints.onnx")
    # A slow one (a chain of large MatMuls) to observe the GIL released during Run.
    w = numpy_helper.from_array(np.eye(512, dtype=np.float32), "w")
    nodes, prev = [], "x"
    for i in range(40):
        nodes.append(helper.make_node("MatMul", [prev, "w"], [f"h{i}"]))
        prev = f"h{i}"
    nodes.append(helper.make_node("Identity", [prev], ["y"]))
    out["slow"] = _save(helper.make_graph(
        nodes, "slow", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 512])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 512])], [w]), d / "slow.onnx")
    out["mlp"] = Path(make_models.save(make_models.mlp(seed=5), str(d / "mlp.onnx")))
    out["resnet_cnn"] = Path(make_models.save(make_models.resnet_cnn(seed=6), str(d / "resnet_cnn.onnx")))
    out["minilm_encoder"] = Path(make_models.save(make_models.minilm_encoder(seed=7), str(d / "minilm_encoder.onnx")))
    return out


@pytest.fixture(scope="session")
def affine(models) -> tp.Model:
    return tp.load(models["affine"], device="cpu", threads=1)
