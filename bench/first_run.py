#!/usr/bin/env python3
"""How long a session's first run takes (planning, kernel choice, packing) against its second.

A server pays the first run on its first request at each batch size, so it
is worth watching on the big CNNs. Builds the models with
``tests/models/make_models.py`` and times ``tp_session_run`` twice through
the C API.

Example::

    .venv/bin/python bench/first_run.py --lib build/src/libtensorpod.so --threads 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_ort import TensorpodLib, TensorpodRunner, make_models  # noqa: E402

CASES = (("resnet18", 32), ("mobilenetv2", 32), ("resnet18", 1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", default="build/src/libtensorpod.so")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    tp = TensorpodLib(args.lib)
    with tempfile.TemporaryDirectory() as tmp:
        for model, batch in CASES:
            path = Path(tmp) / f"{model}.onnx"
            if not path.exists():
                make_models.save(getattr(make_models, model)(), str(path))
            x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
            runner = TensorpodRunner(tp, str(path), args.threads, {"input": x})
            t0 = time.perf_counter()
            runner.run()
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            runner.run()
            second = time.perf_counter() - t0
            runner.close()
            print(f"{model} batch {batch}, {args.threads} thread(s): first run {first:.2f} s, second {second:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
