"""`tensorpod health`, the probe the container images use as their HEALTHCHECK."""

from __future__ import annotations

import os
import socket
import subprocess
import threading

from conftest import free_port


def probe(cli, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(cli), "health", *args], capture_output=True, text=True, timeout=30, env=env)


def test_live_ready_and_metrics_answer_200(cli, server):
    for port, path in ((server.http_port, "/v2/health/live"), (server.http_port, "/v2/health/ready"),
                       (server.metrics_port, "/metrics")):
        r = probe(cli, "--url", f"http://127.0.0.1:{port}{path}")
        assert r.returncode == 0, r.stderr


def test_default_url_follows_tensorpod_http_port(cli, server):
    r = probe(cli, env=dict(os.environ, TENSORPOD_HTTP_PORT=str(server.http_port)))
    assert r.returncode == 0, r.stderr


def test_non_200_fails_naming_the_status(cli, server):
    r = probe(cli, "--url", f"http://127.0.0.1:{server.http_port}/v2/models/no_such_model/ready")
    assert r.returncode == 1
    assert "/v2/models/no_such_model/ready" in r.stderr and ("404" in r.stderr or "503" in r.stderr)


def test_closed_port_fails_naming_the_address(cli):
    port = free_port()
    r = probe(cli, "--url", f"http://127.0.0.1:{port}/v2/health/live")
    assert r.returncode == 1
    assert f"cannot connect to 127.0.0.1:{port}" in r.stderr


def test_silent_server_times_out(cli):
    # Accepts the connection but never answers: the probe must give up on time.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    try:
        r = probe(cli, "--url", f"http://127.0.0.1:{port}/", "--timeout-seconds", "1")
        assert r.returncode == 1
        assert "timed out" in r.stderr
    finally:
        listener.close()


def test_not_http_fails(cli):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def answer():
        conn, _ = listener.accept()
        conn.recv(1024)
        conn.sendall(b"SSH-2.0-OpenSSH\r\n")
        conn.close()
    threading.Thread(target=answer, daemon=True).start()
    try:
        r = probe(cli, "--url", f"http://127.0.0.1:{port}/")
        assert r.returncode == 1
        assert "not an HTTP response" in r.stderr
    finally:
        listener.close()


def test_bad_options_are_usage_errors(cli):
    for args, message in ((["--url", "https://127.0.0.1/"], "must start with http://"),
                          (["--url", "http://:80/"], "no host"),
                          (["--url", "http://127.0.0.1:99999/"], "port must be 1..65535"),
                          (["--url", "http://[::1/"], "unterminated IPv6"),
                          (["--timeout-seconds", "0"], "--timeout-seconds takes 1..3600"),
                          (["--bogus"], "unknown or incomplete option --bogus")):
        r = probe(cli, *args)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr, (args, r.stderr)
