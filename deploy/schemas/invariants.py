#!/usr/bin/env python3
"""Checks across objects that no per-object schema can express, on rendered
manifests (`kubectl kustomize` output, one file per overlay):

  invariants.py RENDERED...

- references resolve inside each rendered set: Service, PodDisruptionBudget
  and NetworkPolicy selectors match the pods of a workload; a Service's
  target ports and a probe's port are named container ports; a
  ServiceMonitor selects a Service and scrapes one of its ports; HPA and
  ScaledObject targets, service accounts and ConfigMaps exist;
- the serving Deployment leaves spec.replicas to the autoscaler;
- shutdown fits in the grace period: terminationGracePeriodSeconds exceeds
  the preStop sleep plus TENSORPOD_EXIT_TIMEOUT_SECONDS (which includes the
  drain window); the startup probe allows at least 10 minutes;
- GPU requests, the nvidia.com/gpu toleration and TENSORPOD_DEVICE agree;
- across sets: an autoscaler's maxReplicas, in GPUs, fits the nvidia.com/gpu
  limit of the Karpenter NodePool "gpu".
"""

import pathlib
import sys

import yaml

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


def pod_template(obj: dict) -> dict | None:
    if obj["kind"] in WORKLOADS:
        return obj["spec"]["template"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return None


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def env_of(container: dict) -> dict:
    return {e["name"]: e.get("value") for e in container.get("env", []) if "value" in e}


def gpus(container: dict) -> int:
    return int((container.get("resources", {}).get("limits") or {}).get("nvidia.com/gpu", 0))


def check_set(name: str, objects: list[dict], problems: list[str]) -> dict:
    """Checks one rendered set; returns {deployment name: GPUs per pod}."""
    by_kind: dict[str, dict[str, dict]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    templates = {(o["kind"], n): pod_template(o) for k in list(WORKLOADS) + ["CronJob"]
                 for n, o in by_kind.get(k, {}).items()}
    pods = [(key, t["metadata"].get("labels", {}), t["spec"]) for key, t in templates.items()]
    gpus_per_pod = {}

    def fail(msg: str):
        problems.append(f"{name}: {msg}")

    def selected(selector: dict, what: str) -> list:
        found = [p for p in pods if matches(selector, p[1])]
        if not found:
            fail(f"{what} selects no pods (selector {selector})")
        return found

    for svc_name, svc in by_kind.get("Service", {}).items():
        for _, _, spec in selected(svc["spec"].get("selector"), f"Service {svc_name}"):
            ports = {p["name"] for c in spec["containers"] for p in c.get("ports", []) if "name" in p}
            for port in svc["spec"]["ports"]:
                if isinstance(port.get("targetPort"), str) and port["targetPort"] not in ports:
                    fail(f"Service {svc_name} targets port {port['targetPort']!r}, not a container port")
    for pdb_name, pdb in by_kind.get("PodDisruptionBudget", {}).items():
        selected(pdb["spec"]["selector"].get("matchLabels"), f"PodDisruptionBudget {pdb_name}")
    for np_name, np in by_kind.get("NetworkPolicy", {}).items():
        selected(np["spec"]["podSelector"].get("matchLabels"), f"NetworkPolicy {np_name}")
    for sm_name, sm in by_kind.get("ServiceMonitor", {}).items():
        services = [s for s in by_kind.get("Service", {}).values()
                    if matches(sm["spec"]["selector"].get("matchLabels"), s["metadata"].get("labels", {}))]
        if not services:
            fail(f"ServiceMonitor {sm_name} selects no Service")
        for endpoint in sm["spec"]["endpoints"]:
            if not any(endpoint.get("port") in {p.get("name") for p in s["spec"]["ports"]} for s in services):
                fail(f"ServiceMonitor {sm_name} scrapes port {endpoint.get('port')!r}, not a Service port")
    for kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        for a_name, a in by_kind.get(kind, {}).items():
            target = a["spec"]["scaleTargetRef"]["name"]
            if target not in by_kind.get("Deployment", {}):
                fail(f"{kind} {a_name} scales Deployment {target!r}, which is not in the set")

    for (kind, wl_name), template in templates.items():
        spec = template["spec"]
        where = f"{kind} {wl_name}"
        if spec.get("serviceAccountName") and spec["serviceAccountName"] not in by_kind.get("ServiceAccount", {}):
            fail(f"{where} uses ServiceAccount {spec['serviceAccountName']!r}, which is not in the set")
        config_maps = [v["configMap"]["name"] for v in spec.get("volumes", []) if "configMap" in v]
        containers = spec.get("initContainers", []) + spec["containers"]
        for c in containers:
            config_maps += [e["configMapRef"]["name"] for e in c.get("envFrom", []) if "configMapRef" in e]
        for cm in config_maps:
            if cm not in by_kind.get("ConfigMap", {}):
                fail(f"{where} refers to ConfigMap {cm!r}, which is not in the set")
        grace = spec.get("terminationGracePeriodSeconds", 30)
        for c in containers:
            ports = {p["name"] for p in c.get("ports", []) if "name" in p}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                port = ((c.get(probe) or {}).get("httpGet") or {}).get("port")
                if isinstance(port, str) and port not in ports:
                    fail(f"{where}: {c['name']} {probe} uses port {port!r}, not one of its ports")
            env = env_of(c)
            pre_stop = (((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}).get("seconds", 0)
            exit_timeout = float(env.get("TENSORPOD_EXIT_TIMEOUT_SECONDS", 0))
            if grace <= pre_stop + exit_timeout:
                fail(f"{where}: terminationGracePeriodSeconds {grace} must exceed preStop sleep {pre_stop} s "
                     f"+ TENSORPOD_EXIT_TIMEOUT_SECONDS {exit_timeout:g}")
            startup = c.get("startupProbe")
            if startup and startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3) < 600:
                fail(f"{where}: {c['name']} startupProbe allows less than 10 minutes for models to load")
            device = env.get("TENSORPOD_DEVICE")
            if device is not None and (device == "cuda") != (gpus(c) > 0):
                fail(f"{where}: {c['name']} has TENSORPOD_DEVICE={device} with {gpus(c)} GPUs")
        pod_gpus = max((gpus(c) for c in containers), default=0)
        tolerates = any(t.get("key") == "nvidia.com/gpu" for t in spec.get("tolerations", []))
        if (pod_gpus > 0) != tolerates:
            fail(f"{where}: requests {pod_gpus} GPUs but {'tolerates' if tolerates else 'does not tolerate'} "
                 f"the nvidia.com/gpu taint")
        if kind == "Deployment":
            gpus_per_pod[wl_name] = pod_gpus
            if template["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "server" \
                    and "replicas" in by_kind["Deployment"][wl_name]["spec"]:
                fail(f"{where} sets spec.replicas, which belongs to the autoscaler")
    return gpus_per_pod


def main() -> int:
    problems: list[str] = []
    gpu_limit = None
    autoscalers = []
    for path in map(pathlib.Path, sys.argv[1:]):
        objects = [o for o in yaml.safe_load_all(path.read_text()) if o]
        gpus_per_pod = check_set(path.stem, objects, problems)
        for obj in objects:
            if obj["kind"] == "NodePool" and obj["metadata"]["name"] == "gpu":
                gpu_limit = int(obj["spec"].get("limits", {}).get("nvidia.com/gpu", 0))
            if obj["kind"] in ("HorizontalPodAutoscaler", "ScaledObject"):
                spec = obj["spec"]
                max_replicas = spec["maxReplicas"] if "maxReplicas" in spec else spec.get("maxReplicaCount", 100)
                autoscalers.append((path.stem, max_replicas, gpus_per_pod.get(spec["scaleTargetRef"]["name"], 0)))
    if gpu_limit is None:
        problems.append("no Karpenter NodePool named gpu among the rendered sets")
    else:
        for name, max_replicas, per_pod in autoscalers:
            if max_replicas * per_pod > gpu_limit:
                problems.append(f"{name}: up to {max_replicas} replicas x {per_pod} GPUs exceed the NodePool "
                                f"gpu limit of {gpu_limit} nvidia.com/gpu")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{len(sys.argv) - 1} rendered sets: references resolve, shutdown fits the grace period, "
          f"GPU settings agree, {len(autoscalers)} autoscalers fit the NodePool's {gpu_limit} GPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
