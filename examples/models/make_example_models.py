"""Generates the model bundled for the README quick start, reproducibly.

    .venv/bin/python examples/models/make_example_models.py

mlp.onnx
    A two-layer perceptron: "input" float32 [batch, 64] -> MatMul + Add ->
    Relu (32 hidden) -> MatMul + Add -> "logits" float32 [batch, 10].
    Weights are drawn from a fixed seed (He-style scaling), so the file is
    byte-identical on every run. IR version 8, opset 17.
"""

from __future__ import annotations

import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = pathlib.Path(__file__).resolve().parent
SEED = 20240601
IN_FEATURES, HIDDEN, CLASSES = 64, 32, 10


def mlp() -> onnx.ModelProto:
    """The quick-start MLP with weights from SEED."""
    rng = np.random.default_rng(SEED)
    w1 = (rng.standard_normal((IN_FEATURES, HIDDEN)) * np.sqrt(2.0 / IN_FEATURES)).astype(np.float32)
    b1 = (rng.standard_normal(HIDDEN) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((HIDDEN, CLASSES)) * np.sqrt(2.0 / HIDDEN)).astype(np.float32)
    b2 = (rng.standard_normal(CLASSES) * 0.1).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "fc1.weight"), (b1, "fc1.bias"),
                                                        (w2, "fc2.weight"), (b2, "fc2.bias"))]
    nodes = [
        helper.make_node("MatMul", ["input", "fc1.weight"], ["fc1.matmul"], name="fc1/MatMul"),
        helper.make_node("Add", ["fc1.matmul", "fc1.bias"], ["fc1.out"], name="fc1/Add"),
        helper.make_node("Relu", ["fc1.out"], ["hidden"], name="relu"),
        helper.make_node("MatMul", ["hidden", "fc2.weight"], ["fc2.matmul"], name="fc2/MatMul"),
        helper.make_node("Add", ["fc2.matmul", "fc2.bias"], ["logits"], name="fc2/Add"),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", IN_FEATURES])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", CLASSES])],
        initializer=inits,
    )
    model = helper.make_model(graph, producer_name="tensorpod-examples",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> None:
    path = HERE / "mlp.onnx"
    onnx.save_model(mlp(), str(path))
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
