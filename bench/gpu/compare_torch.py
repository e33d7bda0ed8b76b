"""tensorpod on the GPU against PyTorch eager, on the three reference models.

For mlp, resnet_cnn and minilm_encoder (``tests/models/make_models.py``), at
batch 1 and 32 (the encoder at sequence length 128) and in fp32 and fp16, it
measures:

- tensorpod: ``tensorpod bench MODEL --device cuda --precision P --batch B
  --json``, with CUDA graphs (the default) and with ``--no-cuda-graphs``; each
  iteration is one ``Run`` from host inputs to host outputs;
- PyTorch eager: the same network with the same weights (read from the ONNX
  initializers, written with ``torch.nn.functional`` the way the PyTorch
  modules behind ``make_models`` compute), timed host to host (inputs copied
  in, outputs copied out, as tensorpod's ``Run``) and on the device (inputs
  already there, ``torch.cuda.synchronize()`` after the forward);

and reports p50 latencies over at least 200 iterations as a markdown table.
fp32 means IEEE float32 on both sides (PyTorch's TF32 switches are turned
off); fp16 means float16 weights and activations (tensorpod casts the model's
float32 inputs and outputs). ``cudnn.benchmark`` is on for PyTorch.

Before timing, each PyTorch network's float32 output is checked against
tensorpod's CPU output for the same input, so the table compares the same
computation.

Exit status: 0 when everything ran; 1 when a measurement or check failed; 0
with a ``SKIP:`` line when PyTorch has no GPU or ``onnx``/``numpy`` are
missing.

Example::

    python bench/gpu/compare_torch.py --cli build/src/tensorpod --out /tmp/models.md
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[2]

# The models as generated here (make_models' defaults, named explicitly so the
# PyTorch side knows the architecture without parsing the graph).
MLP = dict(seed=11)
RESNET = dict(seed=21)
ENCODER = dict(seed=31, layers=2, hidden=384, heads=12, ffn=1536, vocab=1000)
ENCODER_SEQ = 128


def _skip(reason: str) -> int:
    print(f"SKIP: compare_torch: {reason}")
    return 0


# ------------------------------------------------------------------ PyTorch


def _load(onnx_path: Path, device, dtype) -> tuple[dict, list[list[int]]]:
    """The model's initializers as torch tensors on ``device`` (floats in
    ``dtype``) and its inputs' dims (0 where symbolic)."""
    import onnx
    import torch
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    params = {}
    for init in model.graph.initializer:
        t = torch.from_numpy(numpy_helper.to_array(init).copy()).to(device)
        params[init.name] = t.to(dtype) if t.is_floating_point() else t
    dims = [[d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input]
    return params, dims


def mlp_forward(p: dict, x):
    import torch.nn.functional as F

    i = 0
    while f"layers.{i}.weight" in p:
        x = F.relu(F.linear(x, p[f"layers.{i}.weight"], p[f"layers.{i}.bias"]))
        i += 1
    return F.linear(x, p["head.weight"], p["head.bias"])


def _conv_bn(p: dict, x, prefix: str, stride: int):
    import torch.nn.functional as F

    w = p[f"{prefix}.conv.weight"]
    y = F.conv2d(x, w, None, stride=stride, padding=w.shape[-1] // 2)
    return F.batch_norm(y, p[f"{prefix}.bn.running_mean"], p[f"{prefix}.bn.running_var"], p[f"{prefix}.bn.weight"],
                        p[f"{prefix}.bn.bias"], training=False, eps=1e-5)


def resnet_forward(p: dict, x):
    import torch
    import torch.nn.functional as F

    x = F.relu(_conv_bn(p, x, "stem", 1))
    x = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
    stage = 1
    while f"layer{stage}.0.a.conv.weight" in p:
        k = 0
        while f"layer{stage}.{k}.a.conv.weight" in p:
            prefix = f"layer{stage}.{k}"
            stride = 2 if stage > 1 and k == 0 else 1
            y = F.relu(_conv_bn(p, x, f"{prefix}.a", stride))
            y = _conv_bn(p, y, f"{prefix}.b", 1)
            shortcut = _conv_bn(p, x, f"{prefix}.downsample", stride) if f"{prefix}.downsample.conv.weight" in p else x
            x = F.relu(y + shortcut)
            k += 1
        stage += 1
    x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
    return F.linear(x, p["fc.weight"], p["fc.bias"])


def encoder_params(p: dict) -> dict:
    """Adds ``.weight`` [out, in] for every exported ``.weight_t`` [in, out], as nn.Linear holds it."""
    for name in [n for n in p if n.endswith(".weight_t")]:
        p[name[: -len("_t")]] = p.pop(name).t().contiguous()
    return p


def encoder_forward(p: dict, ids, mask, heads: int):
    import torch
    import torch.nn.functional as F

    emb = "embeddings"
    hidden = p[f"{emb}.word_embeddings.weight"].shape[1]
    batch, seq = ids.shape
    head_dim = hidden // heads
    word = F.embedding(ids, p[f"{emb}.word_embeddings.weight"])
    pos = F.embedding(p[f"{emb}.position_ids"][:, :seq], p[f"{emb}.position_embeddings.weight"])
    tt = F.embedding(p[f"{emb}.token_type_ids"][:, :seq].expand(batch, seq), p[f"{emb}.token_type_embeddings.weight"])
    h = F.layer_norm(word + tt + pos, (hidden,), p[f"{emb}.LayerNorm.weight"], p[f"{emb}.LayerNorm.bias"], 1e-12)
    additive = (1.0 - mask[:, None, None, :].to(h.dtype)) * -10000.0

    def linear(x, name):
        return F.linear(x, p[f"{name}.weight"], p[f"{name}.bias"])

    def split_heads(t):
        return t.view(batch, seq, heads, head_dim).transpose(1, 2)

    i = 0
    while f"encoder.layer.{i}.attention.self.query.weight" in p:
        pre = f"encoder.layer.{i}"
        q = split_heads(linear(h, f"{pre}.attention.self.query"))
        k = split_heads(linear(h, f"{pre}.attention.self.key"))
        v = split_heads(linear(h, f"{pre}.attention.self.value"))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(head_dim)
        probs = torch.softmax(scores + additive, dim=-1)
        ctx = torch.matmul(probs, v).transpose(1, 2).reshape(batch, seq, hidden)
        attn = linear(ctx, f"{pre}.attention.output.dense")
        h = F.layer_norm(attn + h, (hidden,), p[f"{pre}.attention.output.LayerNorm.weight"],
                         p[f"{pre}.attention.output.LayerNorm.bias"], 1e-12)
        inter = F.gelu(linear(h, f"{pre}.intermediate.dense"))
        out = linear(inter, f"{pre}.output.dense")
        h = F.layer_norm(out + h, (hidden,), p[f"{pre}.output.LayerNorm.weight"], p[f"{pre}.output.LayerNorm.bias"],
                         1e-12)
        i += 1
    return h


class TorchModel:
    """One reference model in PyTorch: its forward and how to make its host inputs."""

    def __init__(self, family: str, onnx_path: Path, device, dtype) -> None:
        import torch

        self.family = family
        self.device = device
        self.dtype = dtype
        p, self.input_dims = _load(onnx_path, device, dtype)
        if family == "mlp":
            self.params, self.forward = p, lambda x: mlp_forward(p, x)
        elif family == "resnet_cnn":
            self.params, self.forward = p, lambda x: resnet_forward(p, x)
        else:
            p = encoder_params(p)
            self.params, self.forward = p, lambda ids, mask: encoder_forward(p, ids, mask, ENCODER["heads"])
        self._torch = torch

    def host_inputs(self, batch: int, seed: int) -> list:
        """float32 / int64 CPU tensors, as the model's ONNX inputs declare."""
        torch = self._torch
        g = torch.Generator().manual_seed(seed)
        if self.family != "minilm_encoder":
            return [torch.rand(batch, *self.input_dims[0][1:], generator=g) * 2 - 1]
        ids = torch.randint(0, ENCODER["vocab"], (batch, ENCODER_SEQ), generator=g)
        return [ids, torch.ones(batch, ENCODER_SEQ, dtype=torch.int64)]

    def to_device(self, host: list) -> list:
        return [t.to(self.device, self.dtype) if t.is_floating_point() else t.to(self.device) for t in host]

    def run_host_to_host(self, host: list):
        """What tensorpod's Run does: copy in, compute, copy the float32 output out."""
        with self._torch.inference_mode():
            return self.forward(*self.to_device(host)).float().cpu()


def _p50_ms(fn: Callable[[], object], iters: int, sync: Callable[[], None], warmup: int = 20) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


# ---------------------------------------------------------------- tensorpod


def _tensorpod_run(cli: Path, model: Path, host: list, names: list[str], work: Path, device: str) -> "np.ndarray":
    import numpy as np

    work.mkdir(parents=True, exist_ok=True)
    args = [str(cli), "run", str(model), "--device", device, "--output-dir", str(work / "out")]
    for name, t in zip(names, host):
        path = work / f"{name}.npy"
        np.save(path, t.numpy())
        args += ["--input", f"{name}={path}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"tensorpod run failed ({proc.returncode}): {proc.stderr.strip()}")
    outs = sorted((work / "out").glob("*.npy"))
    if len(outs) != 1:
        raise RuntimeError(f"expected one output file, found {[o.name for o in outs]}")
    return np.load(outs[0])


def _tensorpod_bench(cli: Path, model: Path, batch: int, precision: str, graphs: bool, seconds: float,
                     min_runs: int, dims: list[str]) -> dict:
    args = [str(cli), "bench", str(model), "--device", "cuda", "--precision", precision, "--batch", str(batch),
            "--json"] + dims + ([] if graphs else ["--no-cuda-graphs"])
    report: dict = {}
    for _ in range(2):
        proc = subprocess.run(args + ["--seconds", f"{seconds:.3f}"], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        if report["runs"] >= min_runs:
            break
        seconds = min(10.0, seconds * 1.5 * min_runs / max(1, report["runs"]))
    if not str(report.get("device", "cuda")).startswith("cuda"):
        raise RuntimeError(f"--device cuda ran on {report.get('device')!r}")
    return report


# --------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_cli = os.environ.get("TENSORPOD_CLI") or str(REPO_ROOT / "build" / "src" / "tensorpod")
    parser.add_argument("--cli", default=default_cli, help="the tensorpod CLI (default: $TENSORPOD_CLI)")
    parser.add_argument("--out", help="also write the markdown table here")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--precisions", default="fp32,fp16")
    parser.add_argument("--families", default="mlp,resnet_cnn,minilm_encoder")
    parser.add_argument("--iters", type=int, default=300, help="PyTorch iterations per p50 (at least 200)")
    parser.add_argument("--seconds", type=float, default=0.5, help="tensorpod bench time per configuration")
    args = parser.parse_args(argv)
    iters = max(200, args.iters)

    try:
        import numpy as np
        import torch
    except ImportError as e:
        return _skip(f"PyTorch/numpy not importable ({e})")
    if not torch.cuda.is_available():
        return _skip("PyTorch sees no CUDA device")
    try:
        sys.path.insert(0, str(REPO_ROOT / "tests" / "models"))
        import make_models
    except ImportError as e:
        return _skip(f"cannot build the models: {e}")

    cli = Path(args.cli)
    have_cli = cli.is_file() and os.access(cli, os.X_OK)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    device = torch.device("cuda:0")
    dtypes = {"fp32": torch.float32, "fp16": torch.float16}
    precisions = [p for p in args.precisions.split(",") if p]
    for p in precisions:
        if p not in dtypes:
            parser.error(f"precision {p} is not one of {sorted(dtypes)}")
    batches = [int(b) for b in args.batches.split(",") if b]
    families = [f for f in args.families.split(",") if f]

    rows: list[str] = []
    notes: list[str] = []
    failed = False
    work = Path(tempfile.mkdtemp(prefix="tp_compare_torch_"))
    builders = {"mlp": (make_models.mlp, MLP), "resnet_cnn": (make_models.resnet_cnn, RESNET),
                "minilm_encoder": (make_models.minilm_encoder, ENCODER)}
    for family in families:
        build, kwargs = builders[family]
        model_path = Path(make_models.save(build(**kwargs), str(work / f"{family}.onnx")))
        input_names = ["input"] if family != "minilm_encoder" else ["input_ids", "attention_mask"]
        dims = ["--dim", f"seq={ENCODER_SEQ}"] if family == "minilm_encoder" else []

        # The PyTorch network must compute what the ONNX model does.
        check = "not checked (no tensorpod CLI)"
        if have_cli:
            ref_model = TorchModel(family, model_path, device, torch.float32)
            host = ref_model.host_inputs(2, seed=7)
            try:
                want = _tensorpod_run(cli, model_path, host, input_names, work / f"{family}_check", "cpu")
                got = ref_model.run_host_to_host(host).numpy()
                err = float(np.max(np.abs(got - want)))
                check = f"max |torch - tensorpod cpu| = {err:.2e}"
                if not err <= 1e-3:
                    failed = True
                    notes.append(f"{family}: the PyTorch network differs from the model ({check}); its timings "
                                 "are not comparable")
            except RuntimeError as e:
                failed = True
                check = "failed"
                notes.append(f"{family}: checking the PyTorch network against tensorpod's CPU output failed: {e}")
            del ref_model
        notes.append(f"{family}: {check}")

        for precision in precisions:
            tm = TorchModel(family, model_path, device, dtypes[precision])
            for batch in batches:
                host = tm.host_inputs(batch, seed=batch)
                on_device = tm.to_device(host)

                def device_only(inputs=on_device, model=tm):
                    with torch.inference_mode():
                        return model.forward(*inputs)

                try:
                    torch_h2h = _p50_ms(lambda h=host, model=tm: model.run_host_to_host(h), iters,
                                        torch.cuda.synchronize)
                    torch_dev = _p50_ms(device_only, iters, torch.cuda.synchronize)
                except Exception as e:  # noqa: BLE001  (a PyTorch failure costs its row, not the table)
                    failed = True
                    torch_h2h = torch_dev = math.nan
                    notes.append(f"{family} b{batch} {precision}: PyTorch failed: {type(e).__name__}: {e}")
                tp_cells = []
                tp_graph_ms = None
                for graphs in (True, False):
                    if not have_cli:
                        tp_cells.append("n/a")
                        continue
                    try:
                        r = _tensorpod_bench(cli, model_path, batch, precision, graphs, args.seconds, 200, dims)
                        tp_cells.append(f"{r['p50_ms']:.3f}")
                        if r["runs"] < 200:
                            notes.append(f"{family} b{batch} {precision} graphs={graphs}: only {r['runs']} runs")
                        if graphs:
                            tp_graph_ms = r["p50_ms"]
                    except (RuntimeError, subprocess.TimeoutExpired, ValueError, KeyError) as e:
                        failed = True
                        tp_cells.append("error")
                        notes.append(f"{family} b{batch} {precision} graphs={graphs}: {e}")
                speedup = f"{torch_h2h / tp_graph_ms:.2f}x" if tp_graph_ms and not math.isnan(torch_h2h) else "-"
                rows.append(f"| {family} | {batch} | {precision} | {tp_cells[0]} | {tp_cells[1]} | {torch_h2h:.3f} | "
                            f"{torch_dev:.3f} | {speedup} |")
                print(rows[-1], flush=True)
            del tm
            torch.cuda.empty_cache()

    gpu = torch.cuda.get_device_name(0)
    header = [
        f"### Models: tensorpod vs PyTorch {torch.__version__} eager on {gpu}",
        "",
        f"p50 latency in ms (tensorpod: `tensorpod bench`, PyTorch: {iters} iterations after 20 warm-up, "
        "CUDA-synchronized). Host-to-host includes copying inputs in and outputs out, as tensorpod's Run does. "
        f"Encoder: sequence length {ENCODER_SEQ}. Speedup: PyTorch host-to-host / tensorpod with CUDA graphs.",
        "",
        "| model | batch | precision | tensorpod, CUDA graphs | tensorpod, no graphs | PyTorch host-to-host | "
        "PyTorch on-device | speedup |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    text = "\n".join(header + rows)
    if notes:
        text += "\n\nNotes:\n" + "\n".join(f"- {n}" for n in notes)
    if not have_cli:
        text += f"\n\ntensorpod CLI not found at {cli}: PyTorch columns only."
        failed = True
    text += f"\n\n{'FAIL' if failed else 'PASS'}: compare_torch\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
