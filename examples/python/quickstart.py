"""tensorpod quickstart: load a model, look at it, run it, compare with onnxruntime.

Run from anywhere after ``pip install .`` (onnxruntime is optional)::

    python examples/python/quickstart.py
"""

from pathlib import Path

import numpy as np

import tensorpod as tp

MODEL = Path(__file__).resolve().parents[1] / "models" / "mlp.onnx"  # input [batch, 64] -> logits [batch, 10]

print("tensorpod", tp.__version__, "devices:", tp.devices())
model = tp.load(MODEL, device="auto")          # the first GPU if there is one, else the CPU
print(model)
for i in model.inputs:
    print(f"  input  {i.name}: {i.dtype} {i.shape}")   # None marks the dynamic batch dimension

x = np.random.default_rng(0).standard_normal((8, 64)).astype(np.float32)
logits = model(x)                              # numpy in, numpy out: no copies either way
print("logits", logits.shape, logits.dtype, "argmax", logits.argmax(axis=1))

# The same call in onnxruntime's form, for code written against it.
[same] = model.run(None, {"input": x})
assert np.array_equal(same, logits)

try:
    import onnxruntime as ort
    ref = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    print("max |tensorpod - onnxruntime| =", float(np.abs(ref - logits).max()))
    assert np.allclose(ref, logits, rtol=1e-4, atol=1e-5)
except ImportError:
    print("onnxruntime not installed: comparison skipped")

# Errors name what is wrong, as exceptions you can catch.
try:
    model(np.zeros((8, 63), np.float32))
except tp.InvalidArgumentError as e:
    print("error:", e)
print("ok")
