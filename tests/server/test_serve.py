"""tensorpod serve over HTTP with the real tritonclient, raw malformed requests, SIGTERM under load, overload."""

from __future__ import annotations

import functools
import http.client
import json
import re
import shutil
import struct
import subprocess
import threading
import time

import numpy as np
import pytest

from conftest import Server

httpclient = pytest.importorskip("tritonclient.http", reason="tritonclient[http] is not installed")
from tritonclient.utils import InferenceServerException  # noqa: E402

MLP_RNG = np.random.default_rng(0)


@functools.lru_cache(maxsize=None)
def _mlp_session(path: str):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def mlp_reference(repository, x: np.ndarray) -> np.ndarray:
    """onnxruntime's output for the example MLP (one session for the whole run)."""
    return _mlp_session(str(repository / "mlp" / "1" / "model.onnx")).run(None, {"input": x})[0]


@pytest.fixture(scope="module")
def client(server):
    c = httpclient.InferenceServerClient(server.url, concurrency=8)
    yield c
    c.close()


def test_health_and_metadata(client, server):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("mlp") and client.is_model_ready("identity") and client.is_model_ready("affine")
    assert not client.is_model_ready("missing")
    meta = client.get_server_metadata()
    assert meta["name"] == "tensorpod" and "binary_tensor_data" in meta["extensions"]
    m = client.get_model_metadata("mlp")
    assert m["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}]
    assert m["outputs"][0]["name"] == "logits" and m["versions"] == ["1"]
    assert client.get_model_metadata("mlp", model_version="1")["name"] == "mlp"
    cfg = client.get_model_config("mlp")
    assert cfg["max_batch_size"] == 32 and "dynamic_batching" in cfg
    # No config.pbtxt: completed from the model (it batches).
    auto = client.get_model_config("affine")
    assert auto["max_batch_size"] == 8 and auto["input"][0]["dims"] == ["4"] and "dynamic_batching" in auto
    status, body = server.json("GET", "/v2/health/ready")
    assert status == 200 and body == {"ready": True}
    status, body = server.json("GET", "/v2/health/live")
    assert status == 200 and body == {"live": True}


@pytest.mark.parametrize("binary", [True, False])
def test_infer_mlp_matches_onnxruntime(client, repository, binary):
    x = MLP_RNG.standard_normal((5, 64)).astype(np.float32)
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    out = httpclient.InferRequestedOutput("logits", binary_data=binary)
    r = client.infer("mlp", [inp], outputs=[out], request_id="req-7")
    got = r.as_numpy("logits")
    assert got.shape == (5, 10)
    np.testing.assert_allclose(got, mlp_reference(repository, x), rtol=1e-4, atol=1e-5)
    assert r.get_response()["id"] == "req-7"


def test_identity_round_trip_is_exact(client):
    x = MLP_RNG.standard_normal((3, 16)).astype(np.float32)
    inp = httpclient.InferInput("INPUT0", [3, 16], "FP32")
    inp.set_data_from_numpy(x)
    np.testing.assert_array_equal(client.infer("identity", [inp]).as_numpy("OUTPUT0"), x)


def test_int64_and_bool(client):
    a = np.array([[1, 2], [3, 4]], np.int64)
    b = np.array([[10, -20], [2**40, 0]], np.int64)
    m = np.array([[True, False], [False, False]])
    ins = []
    for name, v, dt in (("a", a, "INT64"), ("b", b, "INT64"), ("m", m, "BOOL")):
        i = httpclient.InferInput(name, list(v.shape), dt)
        i.set_data_from_numpy(v, binary_data=False)
        ins.append(i)
    r = client.infer("ints", ins, outputs=[httpclient.InferRequestedOutput("s", binary_data=False),
                                          httpclient.InferRequestedOutput("n", binary_data=True)])
    np.testing.assert_array_equal(r.as_numpy("s"), a + b)
    np.testing.assert_array_equal(r.as_numpy("n"), ~m)


def test_async_and_concurrent_requests(client, server, repository):
    client_url = server.url
    xs = [MLP_RNG.standard_normal((1 + i % 3, 64)).astype(np.float32) for i in range(48)]
    reqs = []
    for x in xs:
        inp = httpclient.InferInput("input", list(x.shape), "FP32")
        inp.set_data_from_numpy(x)
        reqs.append(client.async_infer("mlp", [inp]))
    for x, req in zip(xs, reqs):
        np.testing.assert_allclose(req.get_result().as_numpy("logits"), mlp_reference(repository, x), rtol=1e-4, atol=1e-5)
    errors = []
    url = client_url

    def work(k):
        try:
            c = httpclient.InferenceServerClient(url)
            for i in range(20):
                x = xs[(i + k) % len(xs)]
                inp = httpclient.InferInput("input", list(x.shape), "FP32")
                inp.set_data_from_numpy(x)
                np.testing.assert_allclose(c.infer("mlp", [inp]).as_numpy("logits"), mlp_reference(repository, x),
                                           rtol=1e-4, atol=1e-5)
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:2]


def test_statistics_and_metrics(client, server):
    stats = client.get_inference_statistics("mlp")
    (s,) = stats["model_stats"]
    assert s["name"] == "mlp" and int(s["inference_count"]) > 0
    assert int(s["inference_stats"]["success"]["count"]) > 0
    status, _, body = server.request("GET", "/metrics", port=server.metrics_port)
    text = body.decode()
    assert status == 200
    assert 'tensorpod_inference_requests_total{model="mlp",version="1",result="success"}' in text
    for name in ("tensorpod_queue_compute_ratio", "tensorpod_instance_busy_ratio", "tensorpod_capacity_requests_per_second",
                 "tensorpod_recommended_replicas", "tensorpod_model_load_duration_seconds"):
        assert f"# TYPE {name} gauge" in text, name
    assert 'tensorpod_request_duration_seconds_bucket{model="mlp",version="1",le="+Inf"}' in text
    for h in ("tensorpod_batch_size", "tensorpod_queue_duration_seconds", "tensorpod_compute_duration_seconds"):
        assert f"# TYPE {h} histogram" in text, h
    batches = int(re.search(r'tensorpod_batch_size_count\{model="mlp",version="1"\} (\d+)', text).group(1))
    assert 0 < batches <= int(s["inference_count"])
    assert int(s["execution_count"]) == batches
    # Every sample line belongs to a declared family.
    families = {l.split()[2] for l in text.splitlines() if l.startswith("# TYPE")}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = line.split("{")[0].split()[0]
            assert name in families or re.sub(r"_(bucket|sum|count)$", "", name) in families, line
    # Prometheus' own linter accepts it.
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian package prometheus) is not installed: the lint check is skipped")
    proc = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_repository_control_is_refused_in_mode_none(server):
    status, body = server.json("POST", "/v2/repository/models/mlp/unload")
    assert status == 400 and "explicit" in body["error"]
    status, index = server.json("POST", "/v2/repository/index")
    assert status == 200
    assert {m["name"]: m["state"] for m in index}["mlp"] == "READY"


def infer_body(name="INPUT0", shape=(1, 16), datatype="FP32", data=None, **extra):
    body = {"inputs": [{"name": name, "shape": list(shape), "datatype": datatype,
                        "data": data if data is not None else [0.5] * int(np.prod(shape))}]}
    body.update(extra)
    return json.dumps(body)


def binary_body(header: dict, payload: bytes) -> tuple[bytes, dict]:
    h = json.dumps(header).encode()
    return h + payload, {"Inference-Header-Content-Length": str(len(h))}


# (description, method, path, body, headers, expected status, words in the error)
MALFORMED = [
    ("not JSON", "POST", "/v2/models/identity/infer", "{not json", {}, 400, "malformed JSON"),
    ("JSON array", "POST", "/v2/models/identity/infer", "[]", {}, 400, "JSON object"),
    ("empty body", "POST", "/v2/models/identity/infer", "", {}, 400, "malformed JSON"),
    ("no inputs", "POST", "/v2/models/identity/infer", "{}", {}, 400, "inputs"),
    ("inputs not array", "POST", "/v2/models/identity/infer", '{"inputs": 3}', {}, 400, "inputs"),
    ("input not object", "POST", "/v2/models/identity/infer", '{"inputs": [3]}', {}, 400, "object"),
    ("no name", "POST", "/v2/models/identity/infer", '{"inputs": [{"shape": [1,16], "datatype": "FP32", "data": []}]}', {}, 400, "name"),
    ("unknown input", "POST", "/v2/models/identity/infer", infer_body(name="nope"), {}, 400, '"nope"'),
    ("no datatype", "POST", "/v2/models/identity/infer", '{"inputs": [{"name": "INPUT0", "shape": [1,16], "data": []}]}', {}, 400, "datatype"),
    ("unknown datatype", "POST", "/v2/models/identity/infer", infer_body(datatype="FP128"), {}, 400, "FP128"),
    ("wrong datatype", "POST", "/v2/models/identity/infer", infer_body(datatype="INT32", data=[1] * 16), {}, 400, "expected datatype FP32"),
    ("BYTES", "POST", "/v2/models/identity/infer", infer_body(datatype="BYTES", data=["a"] * 16), {}, 400, "BYTES"),
    ("no shape", "POST", "/v2/models/identity/infer", '{"inputs": [{"name": "INPUT0", "datatype": "FP32", "data": []}]}', {}, 400, "shape"),
    ("negative dim", "POST", "/v2/models/identity/infer", infer_body(shape=(-1, 16), data=[]), {}, 400, "shape"),
    ("wrong rank", "POST", "/v2/models/identity/infer", infer_body(shape=(16,)), {}, 400, "expected shape"),
    ("wrong dim", "POST", "/v2/models/identity/infer", infer_body(shape=(1, 15)), {}, 400, "[1,15]"),
    ("too few values", "POST", "/v2/models/identity/infer", infer_body(data=[1.0] * 15), {}, 400, "holds 16 values, data has 15"),
    ("too many values", "POST", "/v2/models/identity/infer", infer_body(data=[1.0] * 17), {}, 400, "more values"),
    ("string value", "POST", "/v2/models/identity/infer", infer_body(data=["x"] * 16), {}, 400, "not a FP32"),
    ("null value", "POST", "/v2/models/identity/infer", infer_body(data=[None] * 16), {}, 400, "not a FP32"),
    ("data not array", "POST", "/v2/models/identity/infer", '{"inputs": [{"name": "INPUT0", "shape": [1,16], "datatype": "FP32", "data": 1}]}', {}, 400, "array"),
    ("batch over max", "POST", "/v2/models/identity/infer", infer_body(shape=(9, 16)), {}, 400, "max_batch_size 8"),
    ("huge shape", "POST", "/v2/models/identity/infer", infer_body(shape=(1, 2**40), data=[]), {}, 400, "exceeds the limit"),
    ("deep nesting", "POST", "/v2/models/identity/infer", infer_body(data=json.loads("[" * 70 + "1" + "]" * 70)), {}, 400, "nested deeper"),
    ("int out of range", "POST", "/v2/models/ints/infer", json.dumps({"inputs": [
        {"name": "a", "shape": [1, 2], "datatype": "INT64", "data": [1, 1e30]},
        {"name": "b", "shape": [1, 2], "datatype": "INT64", "data": [1, 1]},
        {"name": "m", "shape": [1, 2], "datatype": "BOOL", "data": [True, False]}]}), {}, 400, "not a INT64"),
    ("input twice", "POST", "/v2/models/identity/infer", json.dumps({"inputs": [json.loads(infer_body())["inputs"][0]] * 2}), {}, 400, "takes 1 inputs"),
    ("unknown output", "POST", "/v2/models/identity/infer", infer_body(outputs=[{"name": "nope"}]), {}, 400, "no output"),
    ("outputs not array", "POST", "/v2/models/identity/infer", infer_body(outputs=5), {}, 400, "outputs"),
    ("bad id", "POST", "/v2/models/identity/infer", infer_body(id=5), {}, 400, "id"),
    ("bad binary_data_output", "POST", "/v2/models/identity/infer", infer_body(parameters={"binary_data_output": "yes"}), {}, 400, "binary_data_output"),
    ("binary size without header", "POST", "/v2/models/identity/infer",
     json.dumps({"inputs": [{"name": "INPUT0", "shape": [1, 16], "datatype": "FP32", "parameters": {"binary_data_size": 64}}]}), {}, 400, "Inference-Header-Content-Length"),
    ("unknown model", "POST", "/v2/models/missing/infer", infer_body(), {}, 404, "missing"),
    ("unknown version", "POST", "/v2/models/identity/versions/7/infer", infer_body(), {}, 404, "version 7"),
    ("bad version", "POST", "/v2/models/identity/versions/x/infer", infer_body(), {}, 404, "no version"),
    ("path traversal", "GET", "/v2/models/..%2F..%2Fetc/config", None, {}, 400, ".."),
    ("no route", "GET", "/v3/health", None, {}, 404, "no route"),
    ("wrong method", "DELETE", "/v2/models/mlp", None, {}, 404, "no route"),
    ("bad header length", "POST", "/v2/models/identity/infer", infer_body(), {"Inference-Header-Content-Length": "abc"}, 400, "byte count"),
    ("header length too long", "POST", "/v2/models/identity/infer", infer_body(), {"Inference-Header-Content-Length": "99999"}, 400, "exceeds the body"),
]


def _binary_cases():
    ok = {"inputs": [{"name": "INPUT0", "shape": [1, 16], "datatype": "FP32", "parameters": {"binary_data_size": 64}}]}
    truncated, h1 = binary_body(ok, b"\0" * 40)
    wrong = {"inputs": [{"name": "INPUT0", "shape": [1, 16], "datatype": "FP32", "parameters": {"binary_data_size": 60}}]}
    wrong_size, h2 = binary_body(wrong, b"\0" * 60)
    extra, h3 = binary_body(ok, b"\0" * 80)
    return [
        ("truncated binary", "POST", "/v2/models/identity/infer", truncated, h1, 400, "truncated"),
        ("binary size mismatch", "POST", "/v2/models/identity/infer", wrong_size, h2, 400, "does not match shape"),
        ("trailing bytes", "POST", "/v2/models/identity/infer", extra, h3, 400, "after the last binary input"),
        ("raw body, wrong size", "POST", "/v2/models/identity/infer", b"\0" * 10, {"Inference-Header-Content-Length": "0"}, 400, "whole rows"),
        ("raw body, two inputs", "POST", "/v2/models/ints/infer", b"\0" * 16, {"Inference-Header-Content-Length": "0"}, 400, "single-input"),
    ]


@pytest.mark.parametrize("case", MALFORMED + _binary_cases(), ids=lambda c: c[0])
def test_malformed_requests_get_a_clear_4xx(server, case):
    _, method, path, body, headers, want_status, words = case
    status, _, data = server.request(method, path, body, headers)
    assert status == want_status, (status, data)
    err = json.loads(data)["error"]
    assert words in err, err
    # The server keeps serving everyone else.
    status, _, data = server.request("POST", "/v2/models/identity/infer", infer_body())
    assert status == 200, data


def test_body_limit(cli, repository):
    s = Server(cli, repository, "--max-request-bytes", "4096", "--drain-seconds", "0")
    try:
        s.wait_ready()
        status, _, data = s.request("POST", "/v2/models/identity/infer", infer_body(shape=(8, 16), data=[1.0] * 128) + " " * 5000)
        assert status == 413 and "limit of 4096" in json.loads(data)["error"]
        assert s.request("POST", "/v2/models/identity/infer", infer_body())[0] == 200
    finally:
        assert s.stop() == 0


def test_raw_binary_body(server):
    x = np.arange(32, dtype=np.float32)
    status, headers, data = server.request("POST", "/v2/models/identity/infer", x.tobytes(), {"Inference-Header-Content-Length": "0"})
    assert status == 200
    n = int(headers["Inference-Header-Content-Length"])
    meta = json.loads(data[:n])
    assert meta["outputs"][0]["shape"] == [2, 16]
    np.testing.assert_array_equal(np.frombuffer(data[n:], np.float32), x)


def test_explicit_mode_load_and_unload(cli, repository):
    s = Server(cli, repository, "--model-control-mode", "explicit", "--drain-seconds", "0")
    try:
        s.wait_ready()
        c = httpclient.InferenceServerClient(s.url)
        assert not c.is_model_ready("mlp")
        c.load_model("mlp")
        assert c.is_model_ready("mlp")
        index = {m["name"]: m for m in c.get_model_repository_index()}
        assert index["mlp"]["state"] == "READY" and index["identity"]["state"] == "UNAVAILABLE"
        x = np.ones((1, 64), np.float32)
        inp = httpclient.InferInput("input", [1, 64], "FP32")
        inp.set_data_from_numpy(x)
        assert c.infer("mlp", [inp]).as_numpy("logits").shape == (1, 10)
        c.unload_model("mlp")
        assert not c.is_model_ready("mlp")
        with pytest.raises(InferenceServerException):
            c.infer("mlp", [inp])
        with pytest.raises(InferenceServerException, match="not in the repository"):
            c.load_model("missing")
        status, body = s.json("POST", "/v2/repository/models/..%2Fx/load")
        assert status == 400
        c.close()
    finally:
        assert s.stop() == 0


def test_overload_gives_429_and_the_rest_succeed(cli, repository):
    s = Server(cli, repository, "--drain-seconds", "0", "--http-threads", "4")
    try:
        s.wait_ready()
        x = np.ones((4, 256), np.float32)
        head = json.dumps({"inputs": [{"name": "x", "shape": [4, 256], "datatype": "FP32",
                                       "parameters": {"binary_data_size": x.nbytes}}],
                           "parameters": {"binary_data_output": True}}).encode()
        results = []
        lock = threading.Lock()
        start = threading.Barrier(24)

        def hit():
            start.wait()  # all at once: far more than one running batch and a queue of 2 can hold
            st, headers, data = s.request("POST", "/v2/models/slow/infer", head + x.tobytes(),
                                          {"Inference-Header-Content-Length": str(len(head))})
            with lock:
                results.append((st, headers, data))

        threads = [threading.Thread(target=hit) for _ in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = [r[0] for r in results]
        assert set(codes) <= {200, 429}, codes
        assert codes.count(429) > 0 and codes.count(200) > 0, codes
        for st, headers, data in results:
            if st == 429:
                assert headers.get("Retry-After") == "1" and "full" in json.loads(data)["error"]
            else:
                n = int(headers["Inference-Header-Content-Length"])
                np.testing.assert_array_equal(np.frombuffer(data[n:], np.float32).reshape(4, 256), x)
    finally:
        assert s.stop() == 0


def test_sigterm_under_load_loses_nothing(cli, repository):
    s = Server(cli, repository, "--drain-seconds", "1", "--exit-timeout-seconds", "30")
    s.wait_ready()
    x = np.arange(16, dtype=np.float32).reshape(1, 16)
    body = infer_body(data=x.ravel().tolist())
    outcomes = {"ok": 0, "refused": 0, "lost": 0, "wrong": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def client_loop():
        # One keep-alive connection per client, as a load balancer's would be;
        # a client stops at the first refusal (503), as it would move on.
        conn = http.client.HTTPConnection("127.0.0.1", s.http_port, timeout=30)
        while not stop.is_set():
            try:
                conn.request("POST", "/v2/models/identity/infer", body)
                r = conn.getresponse()
                data = r.read()
            except (ConnectionRefusedError,) as e:
                with lock:
                    outcomes["refused"] += 1
                return
            except OSError:
                with lock:
                    outcomes["lost"] += 1
                return
            with lock:
                if r.status == 200:
                    out = json.loads(data)["outputs"][0]["data"]
                    outcomes["ok" if out == x.ravel().tolist() else "wrong"] += 1
                elif r.status == 503:
                    outcomes["refused"] += 1
                    return
                else:
                    outcomes["wrong"] += 1
                    return
        conn.close()

    threads = [threading.Thread(target=client_loop) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    served_before = outcomes["ok"]
    t0 = time.time()
    s.proc.send_signal(15)
    # Readiness turns 503 at once while requests are still served.
    time.sleep(0.2)
    status, _, _ = s.request("GET", "/v2/health/ready")
    live, _, _ = s.request("GET", "/v2/health/live")
    assert status == 503 and live == 200
    code = s.proc.wait(timeout=60)
    stop.set()
    for t in threads:
        t.join()
    assert code == 0, s.log.read_text()
    assert time.time() - t0 < 30
    assert outcomes["lost"] == 0 and outcomes["wrong"] == 0, outcomes
    assert outcomes["ok"] > served_before > 0, outcomes


def test_poll_mode_follows_the_repository(cli, repository, tmp_path):
    repo = tmp_path / "poll"
    repo.mkdir()
    shutil.copytree(repository / "identity", repo / "identity")
    s = Server(cli, repo, "--model-control-mode", "poll", "--repository-poll-seconds", "0.2", "--drain-seconds", "0")
    try:
        s.wait_ready()

        def ready(model):
            return s.request("GET", f"/v2/models/{model}/ready")[0] == 200

        def wait_for(cond, what):
            end = time.time() + 30
            while time.time() < end:
                if cond():
                    return
                time.sleep(0.05)
            raise AssertionError(f"{what} did not happen:\n{s.log.read_text()}")

        assert ready("identity") and not ready("affine")
        # A new model appears: loaded on the next scan.
        shutil.copytree(repository / "affine", repo / "affine")
        wait_for(lambda: ready("affine"), "loading the new model")
        # A new version of a model: served once loaded, readiness never drops meanwhile.
        shutil.copytree(repo / "identity" / "1", repo / "identity" / "2")
        seen_unready = False
        end = time.time() + 30
        while time.time() < end:
            seen_unready |= s.request("GET", "/v2/health/ready")[0] != 200
            status, body = s.json("GET", "/v2/models/identity")
            if status == 200 and body["versions"] == ["2"]:
                break
            time.sleep(0.02)
        assert body["versions"] == ["2"], body
        assert not seen_unready
        # A removed model is unloaded.
        shutil.rmtree(repo / "affine")
        wait_for(lambda: not ready("affine"), "unloading the removed model")
        assert s.request("POST", "/v2/models/identity/infer", infer_body())[0] == 200
    finally:
        assert s.stop() == 0


def test_model_warmup_from_config(cli, repository, tmp_path):
    repo = tmp_path / "warm"
    repo.mkdir()
    for name, warmup in (
            ("good", 'model_warmup [ { name: "zeros" batch_size: 4 inputs { key: "INPUT0" value { data_type: TYPE_FP32 '
                     'dims: [ 16 ] zero_data: true } } count: 3 }, { name: "file" batch_size: 1 inputs { key: "INPUT0" '
                     'value { data_type: TYPE_FP32 dims: [ 16 ] input_data_file: "row.bin" } } } ]'),
            ("short", 'model_warmup [ { name: "file" batch_size: 1 inputs { key: "INPUT0" value { data_type: TYPE_FP32 '
                      'dims: [ 16 ] input_data_file: "row.bin" } } } ]'),
            ("wrong_type", 'model_warmup [ { name: "ints" batch_size: 1 inputs { key: "INPUT0" value { data_type: TYPE_INT64 '
                           'dims: [ 16 ] zero_data: true } } } ]'),
            ("missing_input", 'model_warmup [ { name: "none" batch_size: 1 } ]')):
        shutil.copytree(repository / "identity", repo / name)
        (repo / name / "config.pbtxt").write_text(f'max_batch_size: 8\n{warmup}\n')
        (repo / name / "warmup").mkdir()
        (repo / name / "warmup" / "row.bin").write_bytes(np.zeros(16 if name == "good" else 7, np.float32).tobytes())
    s = Server(cli, repo, "--model-control-mode", "explicit", "--drain-seconds", "0")
    try:
        s.wait_ready()
        assert s.json("POST", "/v2/repository/models/good/load")[0] == 200
        assert s.request("GET", "/v2/models/good/ready")[0] == 200
        for name, words in (("short", "has 28 bytes"), ("wrong_type", "TYPE_INT64"), ("missing_input", 'no input "INPUT0"')):
            status, body = s.json("POST", f"/v2/repository/models/{name}/load")
            assert status == 400 and words in body["error"], (name, body)
            index = {m["name"]: m for m in s.json("POST", "/v2/repository/index")[1]}
            assert index[name]["state"] == "UNAVAILABLE" and words in index[name]["reason"]
    finally:
        assert s.stop() == 0


@pytest.mark.parametrize("allow", [True, False])
def test_request_timeouts_follow_allow_timeout_override(cli, repository, tmp_path, allow):
    repo = tmp_path / "timeouts"
    repo.mkdir()
    shutil.copytree(repository / "identity", repo / "identity")
    (repo / "identity" / "config.pbtxt").write_text(
        "max_batch_size: 8\ndynamic_batching { max_queue_delay_microseconds: 300000 default_queue_policy { "
        f"allow_timeout_override: {'true' if allow else 'false'} }} }}\n")
    s = Server(cli, repo, "--drain-seconds", "0")
    try:
        s.wait_ready()
        # A lone request waits out the 300 ms queue delay unless its own 1 ms timeout counts.
        status, _, data = s.request("POST", "/v2/models/identity/infer", infer_body(parameters={"timeout": 1000}))
        if allow:
            assert status == 504 and "timed out" in json.loads(data)["error"]
        else:
            assert status == 200, data
    finally:
        assert s.stop() == 0
