"""Builds small ONNX models shaped the way PyTorch exports them.

Three families, each a function of a seed and its sizes so that tests can
build models no other test has seen:

- ``mlp``: Linear/ReLU stack on ``input [batch, in_features]``.
- ``resnet_cnn``: a small ResNet (stem Conv-BN-ReLU-MaxPool, basic blocks,
  GlobalAveragePool, Flatten, Gemm) on ``input [batch, 3, image, image]``.
- ``minilm_encoder``: a BERT/MiniLM encoder on ``input_ids`` and
  ``attention_mask`` (int64 ``[batch, seq]``) with the dynamic-shape
  Reshape plumbing (Shape -> Gather -> Unsqueeze -> Concat) that
  ``torch.onnx.export`` emits, returning ``last_hidden_state``.

and three full-size models for ``bench/compare_ort.py``, random weights but
the layer layout of the real networks:

- ``resnet18``: torchvision's ResNet-18 (a ``resnet_cnn`` with a 7x7/2 stem,
  64/128/256/512 channels, two blocks per stage) on ``[batch, 3, 224, 224]``.
- ``mobilenetv2``: torchvision's MobileNetV2 (inverted residual blocks with
  depthwise convolutions, ReLU6 as ``Clip(x, 0, 6)``) on
  ``[batch, 3, 224, 224]``.
- ``minilm6_mask``: a 6-layer ``minilm_encoder`` whose additive padding mask
  is ``(1 - mask) * finfo(float32).min``, as current Hugging Face BERT
  exports write it.

Convolutions and BatchNormalization stay separate nodes (an export without
BN folding), so the engine's own fusions are what gets measured.

Models use opset 17 and IR version 8 and pass ``onnx.checker``. Weights are
initializers; scalars and shape pieces are ``Constant`` nodes, as the
exporter writes them.

Example::

    python tests/models/make_models.py --out /tmp/models
    python tests/models/make_models.py --out /tmp/models --models resnet18,mobilenetv2,minilm6_mask

    from make_models import mlp
    model = mlp(seed=3, in_features=100, hidden=(300,))
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Iterable, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8

__all__ = ["mlp", "resnet_cnn", "minilm_encoder", "resnet18", "mobilenetv2", "minilm6_mask", "save", "main"]


class _Builder:
    """Accumulates nodes and initializers with unique, export-like names."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._counts: dict[str, int] = {}

    def _name(self, op: str) -> str:
        n = self._counts.get(op, 0)
        self._counts[op] = n + 1
        return f"/{op}_{n}" if n else f"/{op}"

    def op(self, op_type: str, inputs: Sequence[str], n_out: int = 1, **attrs) -> str | list[str]:
        """Adds a node; returns its output name (or names when n_out > 1)."""
        name = self._name(op_type)
        outputs = [f"{name}_output_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=name, **attrs))
        return outputs[0] if n_out == 1 else outputs

    def const(self, value, dtype=np.int64) -> str:
        """A Constant node holding ``value`` (scalar or list)."""
        arr = np.array(value, dtype=dtype)
        return self.op("Constant", [], value=numpy_helper.from_array(arr))

    def rename_output(self, value: str, name: str) -> None:
        """Renames ``value`` (the output of the last node) to ``name``, the graph output."""
        outputs = self.nodes[-1].output
        if outputs[0] != value:
            raise ValueError(f"{value} is not the last node's output")
        outputs[0] = name

    def param(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name=name))
        return name

    def uniform(self, name: str, shape: Sequence[int], bound: float) -> str:
        return self.param(name, self.rng.uniform(-bound, bound, size=shape).astype(np.float32))

    def normal(self, name: str, shape: Sequence[int], std: float, mean: float = 0.0) -> str:
        return self.param(name, (mean + std * self.rng.standard_normal(size=shape)).astype(np.float32))

    def model(self, name: str, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto]) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, initializer=self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="tensorpod-tests")
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model


def _linear_gemm(b: _Builder, x: str, prefix: str, n_in: int, n_out: int) -> str:
    # nn.Linear on a 2-D input exports as Gemm(x, W[out, in], b, transB=1).
    bound = 1.0 / math.sqrt(n_in)
    w = b.uniform(f"{prefix}.weight", (n_out, n_in), bound)
    bias = b.uniform(f"{prefix}.bias", (n_out,), bound)
    return b.op("Gemm", [x, w, bias], alpha=1.0, beta=1.0, transB=1)


def _linear_matmul(b: _Builder, x: str, prefix: str, n_in: int, n_out: int, std: float | None = None) -> str:
    # nn.Linear on an N-D input exports as MatMul(x, W^T[in, out]) + Add(bias).
    bound = 1.0 / math.sqrt(n_in)
    if std is None:
        w = b.uniform(f"{prefix}.weight_t", (n_in, n_out), bound)
    else:
        w = b.normal(f"{prefix}.weight_t", (n_in, n_out), std)
    bias = b.uniform(f"{prefix}.bias", (n_out,), bound)
    return b.op("Add", [b.op("MatMul", [x, w]), bias])


def mlp(seed: int = 0, in_features: int = 784, hidden: Iterable[int] = (512, 256), classes: int = 10,
        linear: str = "gemm") -> onnx.ModelProto:
    """Linear/ReLU stack: ``input [batch, in_features]`` -> ``logits [batch, classes]``.

    ``linear`` is ``"gemm"`` (Gemm transB=1, what the exporter writes for 2-D
    inputs) or ``"matmul"`` (MatMul + Add).

    Example::

        m = mlp(seed=1, in_features=100, hidden=(300,), linear="matmul")
    """
    if linear not in ("gemm", "matmul"):
        raise ValueError(f"linear must be 'gemm' or 'matmul', got {linear!r}")
    b = _Builder(seed)
    x = "input"
    n_in = in_features
    for i, h in enumerate(hidden):
        fn = _linear_gemm if linear == "gemm" else _linear_matmul
        x = b.op("Relu", [fn(b, x, f"layers.{i}", n_in, h)])
        n_in = h
    fn = _linear_gemm if linear == "gemm" else _linear_matmul
    logits = fn(b, x, "head", n_in, classes)
    b.rename_output(logits, "logits")
    return b.model(
        "mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", in_features])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
    )


def _conv_bn(b: _Builder, x: str, prefix: str, c_in: int, c_out: int, kernel: int, stride: int,
             group: int = 1) -> str:
    # Conv(bias=False) + BatchNorm2d in eval mode, with running statistics far
    # from (0, 1) so that folding BN into the conv is actually exercised.
    fan_in = (c_in // group) * kernel * kernel
    w = b.normal(f"{prefix}.conv.weight", (c_out, c_in // group, kernel, kernel), math.sqrt(2.0 / fan_in))
    pad = kernel // 2
    y = b.op("Conv", [x, w], dilations=[1, 1], group=group, kernel_shape=[kernel, kernel],
             pads=[pad, pad, pad, pad], strides=[stride, stride])
    scale = b.param(f"{prefix}.bn.weight", b.rng.uniform(0.5, 1.5, c_out).astype(np.float32))
    bias = b.param(f"{prefix}.bn.bias", (0.2 * b.rng.standard_normal(c_out)).astype(np.float32))
    mean = b.param(f"{prefix}.bn.running_mean", (0.3 * b.rng.standard_normal(c_out)).astype(np.float32))
    var = b.param(f"{prefix}.bn.running_var", b.rng.uniform(0.5, 2.0, c_out).astype(np.float32))
    return b.op("BatchNormalization", [y, scale, bias, mean, var], epsilon=1e-5, momentum=0.9)


def resnet_cnn(seed: int = 0, channels: Sequence[int] = (16, 32, 64), image: int = 32, classes: int = 10,
               blocks_per_stage: int = 1, stem_kernel: int = 3, stem_stride: int = 1,
               name: str = "resnet_cnn") -> onnx.ModelProto:
    """Small ResNet: ``input [batch, 3, image, image]`` -> ``logits [batch, classes]``.

    Stem Conv(``stem_kernel``, ``stem_stride``)-BN-ReLU-MaxPool(3, 2, pad 1),
    then one stage per entry of
    ``channels`` (the first at stride 1 with identity shortcuts, the others
    at stride 2 with a 1x1 strided Conv-BN projection), GlobalAveragePool,
    Flatten, Gemm.

    Example::

        m = resnet_cnn(seed=2, channels=(8, 24), image=40)
    """
    b = _Builder(seed)
    x = b.op("Relu", [_conv_bn(b, "input", "stem", 3, channels[0], stem_kernel, stem_stride)])
    x = b.op("MaxPool", [x], ceil_mode=0, dilations=[1, 1], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
             strides=[2, 2])
    c_in = channels[0]
    for s, c_out in enumerate(channels):
        for k in range(blocks_per_stage):
            stride = 2 if (s > 0 and k == 0) else 1
            prefix = f"layer{s + 1}.{k}"
            y = b.op("Relu", [_conv_bn(b, x, f"{prefix}.a", c_in, c_out, 3, stride)])
            y = _conv_bn(b, y, f"{prefix}.b", c_out, c_out, 3, 1)
            if stride != 1 or c_in != c_out:
                shortcut = _conv_bn(b, x, f"{prefix}.downsample", c_in, c_out, 1, stride)
            else:
                shortcut = x
            x = b.op("Relu", [b.op("Add", [y, shortcut])])
            c_in = c_out
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    logits = _linear_gemm(b, x, "fc", c_in, classes)
    b.rename_output(logits, "logits")
    return b.model(
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, image, image])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
    )


def resnet18(seed: int = 0, image: int = 224, classes: int = 1000) -> onnx.ModelProto:
    """torchvision ResNet-18: ``input [batch, 3, image, image]`` -> ``logits [batch, classes]``.

    Conv7x7/2-BN-ReLU-MaxPool3x3/2, four stages of two basic blocks with
    64/128/256/512 channels (stride-2 1x1 Conv-BN shortcut where a stage
    starts), GlobalAveragePool, Flatten, Gemm: about 1.8 GFLOP per 224x224
    image.

    Example::

        m = resnet18(seed=1, image=64, classes=10)
    """
    return resnet_cnn(seed=seed, channels=(64, 128, 256, 512), image=image, classes=classes, blocks_per_stage=2,
                      stem_kernel=7, stem_stride=2, name="resnet18")


# torchvision's MobileNetV2 inverted-residual settings: expand ratio t, output
# channels c, repeats n, stride s of the first repeat.
MOBILENETV2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                      (6, 320, 1, 1))


def _relu6(b: _Builder, x: str) -> str:
    # nn.ReLU6 exports (opset >= 11) as Clip with min and max as Constant inputs.
    return b.op("Clip", [x, b.const(0.0, np.float32), b.const(6.0, np.float32)])


def mobilenetv2(seed: int = 0, image: int = 224, classes: int = 1000,
                blocks: Sequence[tuple[int, int, int, int]] = MOBILENETV2_BLOCKS, stem: int = 32,
                last: int = 1280) -> onnx.ModelProto:
    """torchvision MobileNetV2: ``input [batch, 3, image, image]`` -> ``logits [batch, classes]``.

    Conv3x3/2-BN-ReLU6 with ``stem`` channels, then per ``(t, c, n, s)`` in
    ``blocks`` ``n`` inverted residual blocks: a 1x1 expand Conv-BN-ReLU6 to
    ``t`` times the input channels (absent when ``t == 1``), a 3x3 depthwise
    Conv-BN-ReLU6 (stride ``s`` on the first repeat), a 1x1 project Conv-BN,
    and a residual Add where the stride is 1 and the channels match. Then a
    1x1 Conv-BN-ReLU6 to ``last`` channels, GlobalAveragePool, Flatten, Gemm
    (the classifier's Dropout is gone in an eval export). The defaults are
    the standard 17 blocks, about 0.3 GFLOP per 224x224 image.

    Example::

        m = mobilenetv2(seed=1, image=32, classes=10, blocks=((1, 8, 1, 1), (6, 16, 2, 2)), stem=8, last=64)
    """
    b = _Builder(seed)
    x = _relu6(b, _conv_bn(b, "input", "features.0", 3, stem, 3, 2))
    c_in, index = stem, 1
    for t, c, n, s in blocks:
        for r in range(n):
            stride = s if r == 0 else 1
            prefix = f"features.{index}.conv"
            hidden = c_in * t
            y = x
            if t != 1:
                y = _relu6(b, _conv_bn(b, y, f"{prefix}.expand", c_in, hidden, 1, 1))
            y = _relu6(b, _conv_bn(b, y, f"{prefix}.depthwise", hidden, hidden, 3, stride, group=hidden))
            y = _conv_bn(b, y, f"{prefix}.project", hidden, c, 1, 1)
            x = b.op("Add", [x, y]) if stride == 1 and c_in == c else y
            c_in, index = c, index + 1
    x = _relu6(b, _conv_bn(b, x, f"features.{index}", c_in, last, 1, 1))
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    logits = _linear_gemm(b, x, "classifier.1", last, classes)
    b.rename_output(logits, "logits")
    return b.model(
        "mobilenetv2",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, image, image])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
    )


def _dim(b: _Builder, shape: str, index: int) -> str:
    """Shape -> Gather(index) -> Unsqueeze: a 1-element int64 tensor."""
    d = b.op("Gather", [shape, b.const(index)], axis=0)
    return b.op("Unsqueeze", [d, b.const([0])])


def _layer_norm(b: _Builder, x: str, prefix: str, hidden: int) -> str:
    gamma = b.param(f"{prefix}.weight", b.rng.uniform(0.5, 1.5, hidden).astype(np.float32))
    beta = b.param(f"{prefix}.bias", (0.1 * b.rng.standard_normal(hidden)).astype(np.float32))
    return b.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-12)


def _gelu(b: _Builder, x: str, variant: str) -> str:
    # torch.nn.functional.gelu (erf form) as the exporter writes it.
    erf = b.op("Erf", [b.op("Div", [x, b.const(1.4142135381698608, np.float32)])])
    one_plus = b.op("Add", [erf, b.const(1.0, np.float32)])
    if variant == "x_first":  # x * (1 + erf) * 0.5
        return b.op("Mul", [b.op("Mul", [x, one_plus]), b.const(0.5, np.float32)])
    # (x * 0.5) * (1 + erf)
    return b.op("Mul", [b.op("Mul", [x, b.const(0.5, np.float32)]), one_plus])


def minilm_encoder(seed: int = 0, layers: int = 2, hidden: int = 384, heads: int = 12, ffn: int = 1536,
                   vocab: int = 1000, max_pos: int = 512, positions: str = "slice",
                   gelu: str = "x_first", mask_value: float = -10000.0,
                   name: str = "minilm_encoder") -> onnx.ModelProto:
    """BERT/MiniLM encoder: ``input_ids``, ``attention_mask`` -> ``last_hidden_state``.

    Inputs are int64 ``[batch, seq]``; the output is float32
    ``[batch, seq, hidden]``. ``positions`` picks how position ids are made:
    ``"slice"`` slices a ``[1, max_pos]`` buffer by the Shape-derived seq
    length (what Hugging Face BERT exports), ``"range"`` uses Range(0, seq).
    ``gelu`` is ``"x_first"`` (x * (1 + erf(x/√2)) * 0.5) or ``"half_first"``
    ((x * 0.5) * (1 + erf(x/√2))). Padded positions get ``mask_value`` added
    to their attention scores: -10000 in older Hugging Face exports,
    ``finfo(float32).min`` in current ones.

    Example::

        m = minilm_encoder(seed=4, layers=1, hidden=128, heads=4, ffn=256)
    """
    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
    if positions not in ("slice", "range"):
        raise ValueError(f"positions must be 'slice' or 'range', got {positions!r}")
    if gelu not in ("x_first", "half_first"):
        raise ValueError(f"gelu must be 'x_first' or 'half_first', got {gelu!r}")
    head_dim = hidden // heads
    b = _Builder(seed)

    # Embeddings: word + position + token type (all zeros), then LayerNorm.
    ids_shape = b.op("Shape", ["input_ids"])
    seq_len = _dim(b, ids_shape, 1)
    word = b.op("Gather", [b.normal("embeddings.word_embeddings.weight", (vocab, hidden), 1.0), "input_ids"],
                axis=0)
    if positions == "slice":
        pos_buffer = b.param("embeddings.position_ids", np.arange(max_pos, dtype=np.int64)[None, :])
        pos_ids = b.op("Slice", [pos_buffer, b.const([0]), seq_len, b.const([1]), b.const([1])])
    else:
        seq_scalar = b.op("Gather", [ids_shape, b.const(1)], axis=0)
        pos_ids = b.op("Unsqueeze", [b.op("Range", [b.const(0), seq_scalar, b.const(1)]), b.const([0])])
    pos = b.op("Gather", [b.normal("embeddings.position_embeddings.weight", (max_pos, hidden), 0.5), pos_ids],
               axis=0)
    tt_buffer = b.param("embeddings.token_type_ids", np.zeros((1, max_pos), dtype=np.int64))
    tt_ids = b.op("Expand", [b.op("Slice", [tt_buffer, b.const([0]), seq_len, b.const([1]), b.const([1])]),
                             ids_shape])
    tt = b.op("Gather", [b.normal("embeddings.token_type_embeddings.weight", (2, hidden), 0.5), tt_ids], axis=0)
    h = b.op("Add", [b.op("Add", [word, tt]), pos])
    h = _layer_norm(b, h, "embeddings.LayerNorm", hidden)

    # Additive mask [batch, 1, 1, seq]: (1 - mask) * mask_value.
    mask = b.op("Unsqueeze", ["attention_mask", b.const([1, 2])])
    mask = b.op("Cast", [mask], to=TensorProto.FLOAT)
    mask = b.op("Mul", [b.op("Sub", [b.const(1.0, np.float32), mask]), b.const(mask_value, np.float32)])

    std = 1.0 / math.sqrt(hidden)
    for i in range(layers):
        p = f"encoder.layer.{i}"

        def split_heads(t: str) -> str:
            shape = b.op("Shape", [t])
            new_shape = b.op("Concat", [_dim(b, shape, 0), _dim(b, shape, 1), b.const([heads]),
                                        b.const([head_dim])], axis=0)
            return b.op("Transpose", [b.op("Reshape", [t, new_shape], allowzero=0)], perm=[0, 2, 1, 3])

        q = split_heads(_linear_matmul(b, h, f"{p}.attention.self.query", hidden, hidden, std))
        k = split_heads(_linear_matmul(b, h, f"{p}.attention.self.key", hidden, hidden, std))
        v = split_heads(_linear_matmul(b, h, f"{p}.attention.self.value", hidden, hidden, std))
        k_t = b.op("Transpose", [k], perm=[0, 1, 3, 2])
        scores = b.op("Div", [b.op("MatMul", [q, k_t]), b.const(math.sqrt(head_dim), np.float32)])
        probs = b.op("Softmax", [b.op("Add", [scores, mask])], axis=-1)
        ctx = b.op("Transpose", [b.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        ctx_shape = b.op("Shape", [ctx])
        merged = b.op("Concat", [_dim(b, ctx_shape, 0), _dim(b, ctx_shape, 1), b.const([hidden])], axis=0)
        ctx = b.op("Reshape", [ctx, merged], allowzero=0)
        attn = _linear_matmul(b, ctx, f"{p}.attention.output.dense", hidden, hidden, std)
        h = _layer_norm(b, b.op("Add", [attn, h]), f"{p}.attention.output.LayerNorm", hidden)

        inter = _linear_matmul(b, h, f"{p}.intermediate.dense", hidden, ffn, std)
        inter = _gelu(b, inter, gelu)
        out = _linear_matmul(b, inter, f"{p}.output.dense", ffn, hidden, 1.0 / math.sqrt(ffn))
        h = _layer_norm(b, b.op("Add", [out, h]), f"{p}.output.LayerNorm", hidden)

    b.rename_output(h, "last_hidden_state")
    return b.model(
        name,
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", hidden])],
    )


def minilm6_mask(seed: int = 0, vocab: int = 1000) -> onnx.ModelProto:
    """6-layer MiniLM (all-MiniLM-L6-v2 sizes): ``input_ids``, ``attention_mask`` -> ``last_hidden_state``.

    ``minilm_encoder`` with 6 layers, hidden 384, 12 heads, FFN 1536, and the
    padding mask as ``(1 - mask) * finfo(float32).min``. ``vocab`` only
    sizes the word-embedding table (30522 in the real model; the Gather
    costs the same either way).

    Example::

        m = minilm6_mask(seed=1)
    """
    return minilm_encoder(seed=seed, layers=6, hidden=384, heads=12, ffn=1536, vocab=vocab,
                          mask_value=float(np.finfo(np.float32).min), name="minilm6_mask")


def save(model: onnx.ModelProto, path: str) -> str:
    """Writes ``model`` to ``path`` and returns the path."""
    onnx.save_model(model, path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="directory to write the .onnx files into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default="mlp,resnet_cnn,minilm_encoder",
                        help="comma-separated model functions to write (default: the three test families)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    builders = {"mlp": mlp, "resnet_cnn": resnet_cnn, "minilm_encoder": minilm_encoder, "resnet18": resnet18,
                "mobilenetv2": mobilenetv2, "minilm6_mask": minilm6_mask}
    unknown = sorted(set(names) - set(builders))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {sorted(builders)}")
    os.makedirs(args.out, exist_ok=True)
    for name in names:
        path = save(builders[name](seed=args.seed), os.path.join(args.out, f"{name}.onnx"))
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
