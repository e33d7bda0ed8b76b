#!/usr/bin/env python3
"""Runs checkov's Kubernetes checks on rendered manifests, so that none is
skipped without a reason and none passes by not being looked at.

  checkov_k8s.py --checkov PATH [--skip-check IDS] WORKDIR RENDERED...

Each built-in object of each RENDERED file (`kubectl kustomize` output) is
written to WORKDIR/<file stem>/<Kind>-<name>.yaml, and checkov scans WORKDIR
once. Why split: checkov drops a whole file without a word when any document
in it holds Go-template braces -- the PrometheusRule's `{{ $labels.x }}`
annotations do -- and custom resources have no checkov checks anyway.

Prints every failed check, the skipped ones with their reasons (from the
objects' checkov.io/skip annotations, or IDS), and fails when a check failed
or a workload object (Deployment, CronJob, ...) is missing from the results.
"""

import argparse
import json
import pathlib
import subprocess
import sys

import yaml

from validate import is_builtin

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet"}


def split(rendered: list[pathlib.Path], workdir: pathlib.Path) -> list[str]:
    """Writes the built-in objects one per file; returns the workload files,
    relative to workdir as checkov reports them."""
    workloads = []
    for path in rendered:
        out = workdir / path.stem
        out.mkdir(parents=True)
        for obj in yaml.safe_load_all(path.read_text()):
            if not obj or not is_builtin(obj["apiVersion"]):
                continue
            name = f"{obj['kind']}-{obj['metadata']['name']}.yaml"
            (out / name).write_text(yaml.safe_dump(obj, sort_keys=False))
            if obj["kind"] in WORKLOAD_KINDS:
                workloads.append(f"/{path.stem}/{name}")
    return workloads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkov", required=True, help="the checkov executable")
    parser.add_argument("--skip-check", default="", help="comma-separated check ids skipped everywhere")
    parser.add_argument("workdir", type=pathlib.Path)
    parser.add_argument("rendered", nargs="+", type=pathlib.Path)
    args = parser.parse_args()

    workloads = split(args.rendered, args.workdir)
    command = [args.checkov, "-d", str(args.workdir), "--framework", "kubernetes",
               "--skip-download", "-o", "json"]
    if args.skip_check:
        command += ["--skip-check", args.skip_check]
    run = subprocess.run(command, capture_output=True, text=True)
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        print(f"checkov gave no JSON report (exit status {run.returncode}):\n{run.stdout}\n{run.stderr}")
        return 1
    # No resource at all gives an empty summary, not a report per check type.
    results = report.get("results", {}) if isinstance(report, dict) else {}
    passed = results.get("passed_checks", [])
    failed = results.get("failed_checks", [])
    skipped = results.get("skipped_checks", [])

    for check in failed:
        print(f"FAILED {check['check_id']} {check['file_path']} ({check['resource']}): {check['check_name']}")
    reasons: dict[tuple[str, str], list[str]] = {}
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment") or "(in --skip-check)"
        reasons.setdefault((check["check_id"], reason.split(". ")[0]), []).append(check["file_path"])
    for (check_id, reason), paths in sorted(reasons.items()):
        print(f"skipped {check_id} in {len(paths)} objects: {reason}")
    seen = {c["file_path"] for c in passed + failed + skipped}
    unscanned = [w for w in workloads if w not in seen]
    for path in unscanned:
        print(f"NOT SCANNED {path}: checkov reported no result for this workload")
    print(f"checkov: {len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped with a reason, "
          f"{len(workloads)} workloads in {len(args.rendered)} rendered sets")
    return 1 if failed or unscanned or not workloads else 0


if __name__ == "__main__":
    sys.exit(main())
