#!/usr/bin/env python3
"""Validates rendered Kubernetes manifests object by object.

Built-in kinds (core, apps, batch, policy, autoscaling, *.k8s.io ...) are
checked against the Kubernetes OpenAPI schemas that kubernetes-validate ships,
in strict mode (unknown fields fail), for one Kubernetes version. Custom
resources are checked against the JSON Schemas in this folder, found as
<group>/<version>/<kind in lower case>.json. An object of a kind that neither
knows fails: nothing passes unchecked.

Usage:
  validate.py [--kubernetes-version 1.31] FILE...
      Every object must be valid. Prints one line per file.
  validate.py --expect-invalid [--kubernetes-version 1.31] FILE...
      Every object must be rejected (the negative fixtures in tests/invalid),
      and when it has the annotation check.tensorpod.invalid/expect, one of
      the errors must contain its text: proves the checks above fail, and
      for the reason intended.

Files hold one or more YAML documents (`kubectl kustomize` output).
Exit status 0 when every object met the expectation, 1 otherwise.
"""

import argparse
import json
import pathlib
import sys

import jsonschema
import kubernetes_validate
import referencing
import yaml

SCHEMA_DIR = pathlib.Path(__file__).resolve().parent
EXPECT_ANNOTATION = "check.tensorpod.invalid/expect"


def is_builtin(api_version: str) -> bool:
    """True for API groups served by Kubernetes itself: the core group (no
    group part), unqualified groups (apps, batch, policy, autoscaling) and the
    *.k8s.io groups (networking.k8s.io, rbac.authorization.k8s.io ...)."""
    if "/" not in api_version:
        return True
    group = api_version.split("/", 1)[0]
    return "." not in group or group.endswith(".k8s.io")


def load_custom_schemas() -> tuple[referencing.Registry, dict]:
    """Every *.json under this folder, registered by its $id; the CRD schemas
    are also indexed by (apiVersion, kind) from their const values."""
    registry = referencing.Registry()
    by_kind = {}
    for path in sorted(SCHEMA_DIR.rglob("*.json")):
        if "tests" in path.relative_to(SCHEMA_DIR).parts:
            continue
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        registry = registry.with_resource(schema["$id"], referencing.Resource.from_contents(schema))
        props = schema.get("properties", {})
        if "apiVersion" in props and "kind" in props:
            key = (props["apiVersion"]["const"], props["kind"]["const"])
            expected = SCHEMA_DIR / key[0].split("/")[0] / key[0].split("/")[1] / f"{key[1].lower()}.json"
            if path != expected:
                raise SystemExit(f"{path}: a schema for {key} must live at {expected}")
            by_kind[key] = schema
    return registry, by_kind


def describe(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    name = meta.get("name", "?")
    return f"{obj.get('kind', '?')} {ns + '/' if ns else ''}{name}"


def errors_for(obj: dict, version: str, registry, by_kind) -> list[str]:
    """The reasons `obj` is invalid; empty when it is valid."""
    if not isinstance(obj, dict) or "apiVersion" not in obj or "kind" not in obj:
        return ["not a Kubernetes object (no apiVersion or kind)"]
    api_version, kind = obj["apiVersion"], obj["kind"]
    if is_builtin(api_version):
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path) or "(root)"
            return [f"{path}: {e.message}"]
        except kubernetes_validate.SchemaNotFoundError:
            return [f"{api_version} {kind} is not a built-in kind of Kubernetes {version}"]
        return []
    schema = by_kind.get((api_version, kind))
    if schema is None:
        return [f"no schema for custom resource {api_version} {kind} (add deploy/schemas/"
                f"{api_version}/{kind.lower()}.json)"]
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    found = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in found]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubernetes-version", default="1.31")
    parser.add_argument("--expect-invalid", action="store_true")
    parser.add_argument("files", nargs="+", type=pathlib.Path)
    args = parser.parse_args()

    registry, by_kind = load_custom_schemas()
    ok = True
    total = 0
    for path in args.files:
        objects = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        if not objects:
            print(f"{path}: no objects")
            ok = False
            continue
        builtin = sum(1 for o in objects if isinstance(o, dict) and is_builtin(o.get("apiVersion", "")))
        bad = 0
        for obj in objects:
            errors = errors_for(obj, args.kubernetes_version, registry, by_kind)
            if args.expect_invalid:
                expect = ((obj.get("metadata") or {}).get("annotations") or {}).get(EXPECT_ANNOTATION, "")
                matching = [e for e in errors if expect in e]
                if matching:
                    print(f"{path}: {describe(obj)} rejected as expected: {matching[0]}")
                elif errors:
                    print(f"{path}: {describe(obj)} rejected, but not with {expect!r}: {errors}")
                    bad += 1
                else:
                    print(f"{path}: {describe(obj)} was accepted but must be rejected")
                    bad += 1
            elif errors:
                bad += 1
                for error in errors:
                    print(f"{path}: {describe(obj)}: {error}")
        if not args.expect_invalid:
            state = "valid" if bad == 0 else f"{bad} invalid"
            print(f"{path}: {len(objects)} objects {state} ({builtin} built-in against Kubernetes "
                  f"{args.kubernetes_version}, {len(objects) - builtin} custom)")
        ok = ok and bad == 0
        total += len(objects)
    if ok:
        outcome = "rejected, each for its stated reason" if args.expect_invalid else "valid"
        print(f"{total} objects in {len(args.files)} files {outcome}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
