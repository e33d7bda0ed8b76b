"""Generates the tiny ONNX models under tests/data, reproducibly.

Run from anywhere with the project's virtual environment:

    .venv/bin/python tests/data/make_test_models.py

Models (IR version 8, opset 17, so the ONNX checker bundled with the C++
library validates them):

affine.onnx
    x: float32 [batch, 4] -> y = x * scale + bias, z = Relu(y), with
    scale = [1, 2, 3, 4] and bias = [0.5, -1, 0, -10]. Exact in float32, so
    tests can check values with ==. Used by tests/c_api/c_api_test.c.
"""

from __future__ import annotations

import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = pathlib.Path(__file__).resolve().parent
OPSET = 17
IR_VERSION = 8


def save(model: onnx.ModelProto, name: str) -> None:
    """Checks `model` and writes it next to this script."""
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    path = HERE / name
    onnx.save_model(model, str(path))
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def affine() -> onnx.ModelProto:
    """y = x * scale + bias and z = Relu(y) over a dynamic batch."""
    scale = numpy_helper.from_array(np.array([1, 2, 3, 4], dtype=np.float32), "scale")
    bias = numpy_helper.from_array(np.array([0.5, -1, 0, -10], dtype=np.float32), "bias")
    nodes = [
        helper.make_node("Mul", ["x", "scale"], ["scaled"], name="mul"),
        helper.make_node("Add", ["scaled", "bias"], ["y"], name="add"),
        helper.make_node("Relu", ["y"], ["z"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes,
        "affine",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4]),
            helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4]),
        ],
        initializer=[scale, bias],
    )
    return helper.make_model(graph, producer_name="tensorpod-tests",
                             opset_imports=[helper.make_opsetid("", OPSET)])


def main() -> None:
    save(affine(), "affine.onnx")


if __name__ == "__main__":
    main()
