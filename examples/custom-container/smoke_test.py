"""End-to-end check of the scorer binary: starts it on a free loopback port,
checks answers against onnxruntime on the same normalized inputs, checks the
error lines for bad requests, then stops it with SIGTERM while a request is in
flight and expects that request answered and exit code 0.

    python smoke_test.py --scorer build/scorer --model ../models/mlp.onnx \\
        --stats feature_stats.txt

Needs numpy and onnxruntime. Run by ctest as "custom_container_example"
(tests/custom_container_test.cmake).
"""

from __future__ import annotations

import argparse
import queue
import re
import signal
import socket
import subprocess
import sys
import threading

import numpy as np
import onnxruntime as ort

TIMEOUT_S = 30.0


class Failure(Exception):
    """A check that did not hold."""


def check(condition: bool, message: str) -> None:
    """Raises Failure(message) unless condition holds.

    >>> check(1 + 1 == 2, "arithmetic")
    """
    if not condition:
        raise Failure(message)


class Connection:
    """One protocol connection to the scorer on 127.0.0.1.

    >>> Connection(7000).request("health")
    'ok'
    """

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        self.reader = self.sock.makefile("r", encoding="utf-8", newline="\n")

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n")

    def read(self) -> str:
        """The next answer line; "" once the server has closed the connection."""
        try:
            return self.reader.readline().rstrip("\n")
        except ConnectionResetError:  # closed with our unread request bytes pending
            return ""

    def request(self, line: str) -> str:
        self.send(line)
        return self.read()

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


class Reference:
    """The scorer's pre-processing, model and softmax, with onnxruntime as the model.

    >>> Reference("mlp.onnx", "feature_stats.txt").probabilities(np.zeros(64)).sum()
    1.0
    """

    def __init__(self, model: str, stats: str) -> None:
        rows = [line.split("#")[0].split() for line in open(stats, encoding="utf-8")]
        table = np.array([r for r in rows if r], dtype=np.float32)
        self.mean, self.std = table[:, 0], table[:, 1]
        self.session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])

    def probabilities(self, raw: np.ndarray) -> np.ndarray:
        x = ((raw.astype(np.float32) - self.mean) * (1.0 / self.std).astype(np.float32))[None, :]
        logits = self.session.run(None, {"input": x.astype(np.float32)})[0][0].astype(np.float64)
        e = np.exp(logits - logits.max())
        return e / e.sum()


def parse_scores(answer: str) -> list[tuple[int, float]]:
    """Parses "ok 3:0.5 1:0.25" into [(3, 0.5), (1, 0.25)].

    >>> parse_scores("ok 3:0.5 1:0.25")
    [(3, 0.5), (1, 0.25)]
    """
    check(answer.startswith("ok "), f"expected an ok answer, got {answer!r}")
    return [(int(c), float(p)) for c, p in (item.split(":") for item in answer.split()[1:])]


def check_scores(answer: str, expected: np.ndarray, top_k: int) -> None:
    scores = parse_scores(answer)
    check(len(scores) == top_k, f"expected {top_k} classes, got {answer!r}")
    probabilities = np.array([p for _, p in scores])
    check(bool(np.all(np.diff(probabilities) <= 0)), f"classes not most likely first: {answer!r}")
    check(scores[0][0] == int(np.argmax(expected)), f"top-1 {scores[0][0]}, reference {np.argmax(expected)}")
    got = np.zeros_like(expected)
    for label, p in scores:
        got[label] = p
    check(np.allclose(got, expected, atol=1e-5), f"probabilities {got} differ from the reference {expected}")
    if top_k == len(expected):
        check(abs(probabilities.sum() - 1.0) < 1e-4, f"probabilities sum to {probabilities.sum()}")


def score_line(raw: np.ndarray) -> str:
    return "score " + " ".join(repr(float(v)) for v in raw)


def start(args: argparse.Namespace, top_k: int) -> tuple[subprocess.Popen, int, queue.Queue]:
    """Starts the scorer on a free port; returns it, the port and its log lines."""
    proc = subprocess.Popen(
        [args.scorer, "--model", args.model, "--stats", args.stats, "--host", "127.0.0.1", "--port", "0",
         "--threads", "1", "--top-k", str(top_k), "--max-queue-delay-us", "2000"],
        stderr=subprocess.PIPE, text=True)
    log: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in proc.stderr:
            sys.stderr.write("  scorer| " + line)
            log.put(line)
        log.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while True:
        line = log.get(timeout=TIMEOUT_S)
        if line is None:
            raise Failure(f"the scorer exited before listening (code {proc.wait(timeout=TIMEOUT_S)})")
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if match:
            return proc, int(match.group(1)), log


def run(args: argparse.Namespace) -> None:
    reference = Reference(args.model, args.stats)
    features, classes = len(reference.mean), 10
    rng = np.random.default_rng(1)
    proc, port, log = start(args, top_k=classes)
    try:
        conn = Connection(port)
        check(conn.request("health") == "ok", "health is not ok")
        check(conn.request("info").startswith(f"ok features={features} classes={classes} top_k={classes} "),
              "info does not describe the model")

        raw = rng.normal(0.0, 1.5, features)
        check_scores(conn.request(score_line(raw)), reference.probabilities(raw), classes)

        # Bad requests get an error line naming the fault; the connection stays usable.
        bad = {
            "score 1 2 3": f"error INVALID_ARGUMENT: expected {features} features, got 3",
            "score " + " ".join(["0"] * 5 + ["abc"] + ["0"] * (features - 6)):
                'error INVALID_ARGUMENT: feature 5: "abc" is not a finite number',
            "score " + " ".join(["nan"] * features): 'error INVALID_ARGUMENT: feature 0: "nan" is not a finite number',
            "": "error INVALID_ARGUMENT: empty request",
            "frobnicate 1 2": 'error INVALID_ARGUMENT: unknown command "frobnicate"',
        }
        for request, expected in bad.items():
            answer = conn.request(request)
            check(answer.startswith(expected), f"{request[:40]!r}: expected {expected!r}, got {answer!r}")
        check(conn.request("health") == "ok", "the connection is unusable after bad requests")

        # An overlong line is refused and that connection closed; others carry on.
        long_conn = Connection(port)
        long_conn.send("score " + "1 " * 40000)
        answer = long_conn.read()
        check(answer.startswith("error INVALID_ARGUMENT: request line longer than"), f"overlong line: {answer!r}")
        check(long_conn.read() == "", "the connection stays open after an overlong line")
        long_conn.close()

        # Many connections at once, so the batcher groups rows; every answer is that row's.
        rows = rng.normal(0.0, 1.5, (32, features))
        errors: list[str] = []

        def client(part: np.ndarray) -> None:
            c = Connection(port)
            try:
                for r in part:
                    check_scores(c.request(score_line(r)), reference.probabilities(r), classes)
            except Failure as e:
                errors.append(str(e))
            finally:
                c.close()

        threads = [threading.Thread(target=client, args=(part,)) for part in np.split(rows, 8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(not errors, f"concurrent requests: {errors}")
        stats = conn.request("stats")
        check(stats.startswith("ok queue_depth="), f"stats: {stats!r}")

        # SIGTERM with one request sent but not yet answered and one idle connection:
        # the request is answered, the idle connection closed, the exit code 0.
        idle = Connection(port)
        check(idle.request("health") == "ok", "health is not ok")
        raw = rng.normal(0.0, 1.5, features)
        conn.send(score_line(raw))
        proc.send_signal(signal.SIGTERM)
        check_scores(conn.read(), reference.probabilities(raw), classes)
        check(conn.read() == "", "a connection stays open after the drain")
        check(idle.read() == "", "an idle connection stays open after the drain")
        code = proc.wait(timeout=TIMEOUT_S)
        check(code == 0, f"exit code {code} after SIGTERM")
        lines = []
        while (line := log.get(timeout=TIMEOUT_S)) is not None:
            lines.append(line)
        check(any("drained" in line for line in lines), "no drain message in the log")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scorer", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--stats", required=True)
    args = parser.parse_args()
    try:
        run(args)
    except Failure as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    print("scorer smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
