"""Starts real `tensorpod serve` processes on 127.0.0.1 for the server tests.

The CLI is $TENSORPOD_CLI or build/src/tensorpod; the tests skip, saying so,
when neither exists. Each server gets free ports and its own copy of a model
repository built here (the bundled example repository plus test models).

Example::

    TENSORPOD_CLI=build/src/tensorpod .venv/bin/python -m pytest -q tests/server
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[2]


def cli_path() -> Path | None:
    env = os.environ.get("TENSORPOD_CLI")
    path = Path(env) if env else REPO / "build" / "src" / "tensorpod"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def save(graph: onnx.GraphProto, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def make_repository(root: Path) -> Path:
    """examples/model_repository plus: `affine` (no config: auto-completed), `ints`, and `slow` (for overload)."""
    repo = root / "models"
    shutil.copytree(REPO / "examples" / "model_repository", repo)
    scale = numpy_helper.from_array(np.array([1, 2, 3, 4], np.float32), "scale")
    save(helper.make_graph(
        [helper.make_node("Mul", ["x", "scale"], ["y"])], "affine",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])], [scale]), repo / "affine" / "1" / "model.onnx")
    save(helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Not", ["m"], ["n"])], "ints",
        [helper.make_tensor_value_info("a", TensorProto.INT64, ["batch", 2]),
         helper.make_tensor_value_info("b", TensorProto.INT64, ["batch", 2]),
         helper.make_tensor_value_info("m", TensorProto.BOOL, ["batch", 2])],
        [helper.make_tensor_value_info("s", TensorProto.INT64, ["batch", 2]),
         helper.make_tensor_value_info("n", TensorProto.BOOL, ["batch", 2])]), repo / "ints" / "1" / "model.onnx")
    w = numpy_helper.from_array(np.eye(256, dtype=np.float32), "w")
    nodes, prev = [], "x"
    for i in range(120):
        nodes.append(helper.make_node("MatMul", [prev, "w"], [f"h{i}"]))
        prev = f"h{i}"
    nodes.append(helper.make_node("Identity", [prev], ["y"]))
    save(helper.make_graph(nodes, "slow", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 256])],
                           [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 256])], [w]),
         repo / "slow" / "1" / "model.onnx")
    (repo / "slow" / "config.pbtxt").write_text(
        'max_batch_size: 4\ndynamic_batching { default_queue_policy { max_queue_size: 2 } }\n'
        'instance_group [ { count: 1 kind: KIND_CPU } ]\n')
    return repo


class Server:
    """One `tensorpod serve` process."""

    def __init__(self, cli: Path, repo: Path, *args: str, env: dict | None = None) -> None:
        self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
        self.log = repo.parent / f"serve-{self.http_port}.log"
        cmd = [str(cli), "serve", "--model-repository", str(repo), "--host", "127.0.0.1",
               "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
               "--metrics-port", str(self.metrics_port), "--device", "cpu",
               "--threads", "1", *args]
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "w"), stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **(env or {})))
        self.url = f"127.0.0.1:{self.http_port}"
        self.grpc_url = f"127.0.0.1:{self.grpc_port}"

    def wait_ready(self, timeout: float = 60) -> None:
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if self.request("GET", "/v2/health/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server not ready in {timeout} s:\n{self.log.read_text()}")

    def request(self, method: str, path: str, body: bytes | str | None = None,
                headers: dict | None = None, port: int | None = None) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port or self.http_port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, body=None) -> tuple[int, object]:
        status, _, data = self.request(method, path, None if body is None else json.dumps(body))
        return status, json.loads(data) if data else None

    def stop(self, sig=signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


@pytest.fixture(scope="session")
def cli() -> Path:
    path = cli_path()
    if path is None:
        reason = "tensorpod CLI not found; build it or set TENSORPOD_CLI"
        print(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def repository(tmp_path_factory) -> Path:
    return make_repository(tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="session")
def server(cli, repository):
    s = Server(cli, repository, "--drain-seconds", "0")
    s.wait_ready()
    yield s
    assert s.stop() == 0, s.log.read_text()
