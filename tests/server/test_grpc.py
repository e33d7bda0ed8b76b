"""tensorpod serve over gRPC with the real tritonclient.grpc (and its generated stubs for typed contents)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from conftest import Server

grpcclient = pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] is not installed")
from tritonclient.grpc import service_pb2, service_pb2_grpc  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402
import grpc  # noqa: E402


@pytest.fixture(scope="module")
def client(server):
    c = grpcclient.InferenceServerClient(server.grpc_url)
    yield c
    c.close()


def test_health_metadata_config(client):
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("mlp")
    assert not client.is_model_ready("missing")
    meta = client.get_server_metadata(as_json=True)
    assert meta["name"] == "tensorpod" and "model_repository" in meta["extensions"]
    m = client.get_model_metadata("mlp", as_json=True)
    assert m["inputs"][0] == {"name": "input", "datatype": "FP32", "shape": ["-1", "64"]}
    cfg = client.get_model_config("mlp", as_json=True)["config"]
    assert cfg["max_batch_size"] == 32 and cfg["input"][0]["data_type"] == "TYPE_FP32"
    with pytest.raises(InferenceServerException, match="unknown model"):
        client.get_model_metadata("missing")


def test_infer_matches_http(client, server, repository):
    x = np.random.default_rng(1).standard_normal((4, 64)).astype(np.float32)
    inp = grpcclient.InferInput("input", [4, 64], "FP32")
    inp.set_data_from_numpy(x)
    r = client.infer("mlp", [inp], request_id="g-1", outputs=[grpcclient.InferRequestedOutput("logits")])
    assert r.get_response().id == "g-1"
    import tritonclient.http as httpclient
    h = httpclient.InferenceServerClient(server.url)
    hi = httpclient.InferInput("input", [4, 64], "FP32")
    hi.set_data_from_numpy(x)
    np.testing.assert_array_equal(r.as_numpy("logits"), h.infer("mlp", [hi]).as_numpy("logits"))
    h.close()


def test_typed_contents_and_ints(server):
    stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(server.grpc_url))
    req = service_pb2.ModelInferRequest(model_name="ints")
    for name, dt, values in (("a", "INT64", [1, 2, 3, 4]), ("b", "INT64", [10, 20, 30, 40])):
        t = req.inputs.add(name=name, datatype=dt, shape=[2, 2])
        t.contents.int64_contents.extend(values)
    t = req.inputs.add(name="m", datatype="BOOL", shape=[2, 2])
    t.contents.bool_contents.extend([True, False, True, False])
    resp = stub.ModelInfer(req)
    outs = {o.name: (o, raw) for o, raw in zip(resp.outputs, resp.raw_output_contents)}
    np.testing.assert_array_equal(np.frombuffer(outs["s"][1], np.int64), [11, 22, 33, 44])
    np.testing.assert_array_equal(np.frombuffer(outs["n"][1], np.bool_), [False, True, False, True])
    # Too few values in contents: INVALID_ARGUMENT naming the input.
    bad = service_pb2.ModelInferRequest(model_name="identity")
    t = bad.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 16])
    t.contents.fp32_contents.extend([1.0] * 15)
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelInfer(bad)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "16 values expected" in e.value.details()


@pytest.mark.parametrize("case, code, words", [
    ("unknown model", grpc.StatusCode.NOT_FOUND, "unknown model"),
    ("wrong datatype", grpc.StatusCode.INVALID_ARGUMENT, "expected datatype FP32"),
    ("wrong shape", grpc.StatusCode.INVALID_ARGUMENT, "expected shape"),
    ("raw size", grpc.StatusCode.INVALID_ARGUMENT, "raw_input_contents has 8 bytes"),
    ("raw count", grpc.StatusCode.INVALID_ARGUMENT, "2 entries for 1 inputs"),
    ("unknown output", grpc.StatusCode.INVALID_ARGUMENT, "no output"),
    ("BYTES", grpc.StatusCode.INVALID_ARGUMENT, "BYTES"),
])
def test_malformed(server, case, code, words):
    stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(server.grpc_url))
    req = service_pb2.ModelInferRequest(model_name="missing" if case == "unknown model" else "identity")
    dt = {"wrong datatype": "INT32", "BYTES": "BYTES"}.get(case, "FP32")
    shape = [1, 15] if case == "wrong shape" else [1, 16]
    req.inputs.add(name="INPUT0", datatype=dt, shape=shape)
    raw = np.zeros(int(np.prod(shape)), np.float32).tobytes()
    req.raw_input_contents.append(raw[:8] if case == "raw size" else raw)
    if case == "raw count":
        req.raw_input_contents.append(raw)
    if case == "unknown output":
        req.outputs.add(name="nope")
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelInfer(req)
    assert e.value.code() == code and words in e.value.details(), e.value.details()


def test_async_and_threads(client, server):
    xs = [np.random.default_rng(i).standard_normal((1, 16)).astype(np.float32) for i in range(32)]
    results, done = {}, threading.Event()

    def callback(i):
        def cb(result, error):
            results[i] = error if error else result.as_numpy("OUTPUT0")
            if len(results) == len(xs):
                done.set()
        return cb

    for i, x in enumerate(xs):
        inp = grpcclient.InferInput("INPUT0", [1, 16], "FP32")
        inp.set_data_from_numpy(x)
        client.async_infer("identity", [inp], callback(i))
    assert done.wait(30)
    for i, x in enumerate(xs):
        np.testing.assert_array_equal(results[i], x)


def test_explicit_load_unload(cli, repository):
    s = Server(cli, repository, "--model-control-mode", "explicit", "--drain-seconds", "0")
    try:
        s.wait_ready()
        c = grpcclient.InferenceServerClient(s.grpc_url)
        assert not c.is_model_ready("identity")
        c.load_model("identity")
        assert c.is_model_ready("identity")
        index = {m["name"]: m["state"] for m in c.get_model_repository_index(as_json=True)["models"]}
        assert index["identity"] == "READY"
        c.unload_model("identity")
        assert not c.is_model_ready("identity")
        with pytest.raises(InferenceServerException, match="not in the repository"):
            c.load_model("missing")
        c.close()
    finally:
        assert s.stop() == 0


def test_repository_control_refused_in_mode_none(client):
    with pytest.raises(InferenceServerException, match="explicit"):
        client.unload_model("mlp")
