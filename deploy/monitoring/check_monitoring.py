#!/usr/bin/env python3
"""Checks of the monitoring pieces, for scripts/check-deploy.sh.

  check_monitoring.py rules RENDERED OUT
      Writes the groups of every PrometheusRule in the rendered manifests
      RENDERED to OUT as a Prometheus rule file (for promtool).
  check_monitoring.py rules-check RULES TEST METRICS
      Checks that the rules read only metrics that exist (as for the
      dashboard, below) and that the promtool test file TEST exercises every
      recording rule (in a promql_expr_test) and every alert.
  check_monitoring.py dashboard DASHBOARD RULES METRICS OUT
      Checks the Grafana dashboard's structure, and that every query names
      only metrics that exist: the families in METRICS (tensorpod-metrics.txt,
      histograms with their _bucket/_sum/_count series), the recording rules
      in RULES, and kube-state-metrics (kube_*) and DCGM exporter (DCGM_*)
      series. Writes the queries, Grafana variables replaced, to OUT as a rule
      file so that promtool can parse them.
  check_monitoring.py live-metrics BINARY REPOSITORY METRICS OUT
      Starts `BINARY serve` on free ports, scrapes its metrics, writes the
      scrape to OUT (for `promtool check metrics`) and checks that the
      families and types it exposes are exactly those in METRICS.
"""

import json
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

# Words of PromQL that look like metric names but are not.
PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "inf", "nan",
}
EXTERNAL_PREFIXES = ("kube_", "DCGM_")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def load_families(path: pathlib.Path) -> dict[str, str]:
    families = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, kind = line.split()
            families[name] = kind
    return families


def series_names(families: dict[str, str]) -> set[str]:
    names = set()
    for name, kind in families.items():
        if kind == "histogram":
            names.update(name + suffix for suffix in HISTOGRAM_SUFFIXES)
        else:
            names.add(name)
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers left once
    strings, label matchers, ranges and grouping clauses are removed, that
    are neither keywords nor function calls."""
    s = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", s):
        word = m.group(0)
        if word.lower() in PROMQL_KEYWORDS or re.match(r"\s*\(", s[m.end():]):
            continue
        names.add(word)
    return names


def grafana_to_promql(expr: str) -> str:
    """Replaces Grafana's interval variables so that promtool can parse the
    query; other variables only occur inside label matchers (strings)."""
    return re.sub(r"\$__(rate_interval|interval|range)", "5m", expr)


def cmd_rules(rendered: pathlib.Path, out: pathlib.Path) -> int:
    groups = []
    for obj in yaml.safe_load_all(rendered.read_text()):
        if obj and obj.get("kind") == "PrometheusRule":
            groups.extend(obj["spec"]["groups"])
    if not groups:
        print(f"{rendered}: no PrometheusRule")
        return 1
    out.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    rules = sum(len(g.get("rules", [])) for g in groups)
    print(f"{len(groups)} groups, {rules} rules")
    return 0


def known_series(rules: pathlib.Path, metrics: pathlib.Path) -> set[str]:
    recorded = {r["record"] for g in yaml.safe_load(rules.read_text())["groups"]
                for r in g.get("rules", []) if "record" in r}
    return series_names(load_families(metrics)) | recorded


def unknown_metrics(expr: str, known: set[str]) -> list[str]:
    return sorted(n for n in metric_names(expr) if n not in known and not n.startswith(EXTERNAL_PREFIXES))


def cmd_rules_check(rules: pathlib.Path, test: pathlib.Path, metrics: pathlib.Path) -> int:
    known = known_series(rules, metrics)
    tests = yaml.safe_load(test.read_text())["tests"]
    tested_exprs = set()
    for t in tests:
        for e in t.get("promql_expr_test", []):
            tested_exprs |= metric_names(e["expr"])
    tested_alerts = {a["alertname"] for t in tests for a in t.get("alert_rule_test", [])}
    problems = []
    count = 0
    for group in yaml.safe_load(rules.read_text())["groups"]:
        for rule in group.get("rules", []):
            count += 1
            name = rule.get("record") or rule.get("alert")
            for metric in unknown_metrics(str(rule["expr"]), known):
                problems.append(f"{name}: reads unknown metric {metric!r}")
            if "record" in rule and rule["record"] not in tested_exprs:
                problems.append(f"recording rule {name} has no promql_expr_test in {test.name}")
            if "alert" in rule and rule["alert"] not in tested_alerts:
                problems.append(f"alert {name} has no alert_rule_test in {test.name}")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{count} rules read known metrics and each has a test in {test.name}")
    return 0


def walk_panels(panels):
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def cmd_dashboard(dashboard: pathlib.Path, rules: pathlib.Path, metrics: pathlib.Path,
                  out: pathlib.Path) -> int:
    board = json.loads(dashboard.read_text())
    known = known_series(rules, metrics)
    problems = []

    def check_expr(where: str, expr: str):
        for name in unknown_metrics(expr, known):
            problems.append(f"{where}: unknown metric {name!r} in {expr!r}")

    for key in ("title", "uid", "panels", "templating", "schemaVersion"):
        if key not in board:
            problems.append(f"dashboard has no {key!r}")
    queries = []
    for var in board.get("templating", {}).get("list", []):
        query = var.get("query")
        if var.get("type") == "query":
            text = query.get("query", "") if isinstance(query, dict) else query
            m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\)\s*", text or "")
            if not m:
                problems.append(f"variable {var.get('name')}: expected label_values(series, label), got {text!r}")
            else:
                check_expr(f"variable {var.get('name')}", m.group(1))
                queries.append(m.group(1))
    ids = set()
    panels = list(walk_panels(board.get("panels", [])))
    for panel in panels:
        title = panel.get("title", "")
        where = f"panel {panel.get('id')} {title!r}"
        if panel.get("id") in ids:
            problems.append(f"{where}: duplicate id")
        ids.add(panel.get("id"))
        if panel.get("type") == "row":
            continue
        for key in ("title", "type", "gridPos", "datasource", "targets"):
            if key not in panel:
                problems.append(f"{where}: no {key!r}")
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f"{where}: no queries")
        for target in targets:
            expr = target.get("expr", "")
            if not expr.strip():
                problems.append(f"{where}: target {target.get('refId')} has no expr")
                continue
            if not target.get("refId"):
                problems.append(f"{where}: a target has no refId")
            check_expr(where, expr)
            queries.append(expr)
    rule_file = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query:{i}", "expr": grafana_to_promql(q)} for i, q in enumerate(queries)]}]}
    out.write_text(yaml.safe_dump(rule_file, sort_keys=False))
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{dashboard}: {len(panels)} panels, {len(queries)} queries, every metric known")
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cmd_live_metrics(binary: str, repository: str, metrics: pathlib.Path, out: pathlib.Path) -> int:
    http, grpc, prom = free_port(), free_port(), free_port()
    log = tempfile.TemporaryFile(mode="w+")
    server = subprocess.Popen(
        [binary, "serve", "--model-repository", repository, "--host", "127.0.0.1",
         "--http-port", str(http), "--grpc-port", str(grpc), "--metrics-port", str(prom),
         "--drain-seconds", "0", "--device", "cpu"],
        stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/v2/health/ready", timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    why = "in 30 s" if server.poll() is None else f"(exit status {server.returncode})"
                    print(f"{binary} serve did not become ready {why}; its log:\n{log.read()}")
                    return 1
                time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{prom}/metrics", timeout=5) as response:
            text = response.read().decode()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    out.write_text(text)
    exposed = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE))
    listed = load_families(metrics)
    problems = [f"exposed but not in {metrics.name}: {n} {t}" for n, t in exposed.items() if n not in listed]
    problems += [f"in {metrics.name} but not exposed: {n} {t}" for n, t in listed.items() if n not in exposed]
    problems += [f"{n}: exposed as {exposed[n]}, listed as {t}" for n, t in listed.items()
                 if n in exposed and exposed[n] != t]
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{binary} serve exposes the {len(listed)} families of {metrics.name}")
    return 0


def main(argv: list[str]) -> int:
    commands = {
        "rules": (2, lambda a: cmd_rules(pathlib.Path(a[0]), pathlib.Path(a[1]))),
        "rules-check": (3, lambda a: cmd_rules_check(*map(pathlib.Path, a))),
        "dashboard": (4, lambda a: cmd_dashboard(*map(pathlib.Path, a))),
        "live-metrics": (4, lambda a: cmd_live_metrics(a[0], a[1], pathlib.Path(a[2]), pathlib.Path(a[3]))),
    }
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][0]:
        print(__doc__)
        return 2
    return commands[argv[1]][1](argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
