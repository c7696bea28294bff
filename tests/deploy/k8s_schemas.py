#!/usr/bin/env python3
"""Make kubeconform's JSON schemas offline, from Go modules only.

kubeconform validates manifests against one standalone JSON schema per
kind. Its usual schemas are downloaded from a web repository, which CI here
cannot reach; this script writes the same kind of schemas from sources the
Go module proxy serves:

  native   k8s.io/kubernetes@VERSION's api/openapi-spec/swagger.json (the
           API server's own OpenAPI document) -> DIR/<kind>-<group>-<version>.json,
           kubeconform's "{{ .ResourceKind }}{{ .KindSuffix }}" layout
  crd      CustomResourceDefinition YAML files (they ship in the projects'
           Go modules: prometheus-operator, KEDA, Argo Rollouts, KServe,
           Knative) -> DIR/<group>/<kind>_<version>.json, the
           "{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}" layout

Schemas are strict (an unknown field is an error, as with `kubectl
--validate=strict`) and standalone ($refs inlined, so each file is whole).

  python3 k8s_schemas.py native swagger.json OUTDIR
  python3 k8s_schemas.py crd OUTDIR crd.yaml...
"""
import copy
import json
import os
import sys

import yaml

# Types the OpenAPI document calls "string" but that manifests write as
# numbers too (replicas: 1 vs "50%", cpu: 2 vs "500m").
INT_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
NUMBER_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "number"}]}
SPECIAL = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": INT_OR_STRING,
    "io.k8s.apimachinery.pkg.api.resource.Quantity": NUMBER_OR_STRING,
}


def strict(node):
    """Forbid unknown fields in every object that lists its properties."""
    if isinstance(node, dict):
        if node.get("x-kubernetes-int-or-string"):
            rest = {k: v for k, v in node.items()
                    if k not in ("type", "x-kubernetes-int-or-string", "anyOf", "pattern")}
            node.clear()
            node.update(rest)
            node.update(copy.deepcopy(INT_OR_STRING))
        if node.get("nullable") is True and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        if ("properties" in node and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        for v in node.values():
            strict(v)
    elif isinstance(node, list):
        for v in node:
            strict(v)
    return node


def inline(node, defs, stack=()):
    """Replace every {"$ref": "#/definitions/X"} by a copy of X."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            name = ref[len("#/definitions/"):]
            if name in SPECIAL:
                return copy.deepcopy(SPECIAL[name])
            if name in stack:
                # Only JSONSchemaProps (inside CRDs) refers to itself: accept
                # anything below the second level rather than recurse forever.
                return {}
            out = inline(defs[name], defs, stack + (name,))
            extra = {k: v for k, v in node.items() if k != "$ref"}
            if extra:
                out = dict(out, **{k: inline(v, defs, stack) for k, v in extra.items()})
            return out
        return {k: inline(v, defs, stack) for k, v in node.items()}
    if isinstance(node, list):
        return [inline(v, defs, stack) for v in node]
    return node


def kind_file(kind, api_version):
    """kubeconform's {{ .ResourceKind }}{{ .KindSuffix }}.json."""
    parts = api_version.split("/")
    suffix = "-" + parts[0].split(".")[0].lower()
    if len(parts) > 1:
        suffix += "-" + parts[1].lower()
    return kind.lower() + suffix + ".json"


def native(swagger_path, outdir):
    with open(swagger_path) as f:
        defs = json.load(f)["definitions"]
    os.makedirs(outdir, exist_ok=True)
    count = 0
    for name, schema in defs.items():
        if name in SPECIAL:
            continue
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            group, version, kind = gvk["group"], gvk["version"], gvk["kind"]
            api_version = f"{group}/{version}" if group else version
            out = strict(inline(copy.deepcopy(schema), defs, (name,)))
            out["$schema"] = "http://json-schema.org/draft-04/schema#"
            with open(os.path.join(outdir, kind_file(kind, api_version)), "w") as f:
                json.dump(out, f, separators=(",", ":"))
            count += 1
    return count


def crds(outdir, paths):
    count = 0
    for path in paths:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for doc in docs:
            if doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            group, kind = spec["group"], spec["names"]["kind"]
            for ver in spec.get("versions", []):
                schema = (ver.get("schema") or {}).get("openAPIV3Schema")
                if schema is None:
                    continue
                out = strict(copy.deepcopy(schema))
                out["$schema"] = "http://json-schema.org/draft-04/schema#"
                d = os.path.join(outdir, group)
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, f"{kind.lower()}_{ver['name']}.json"), "w") as f:
                    json.dump(out, f, separators=(",", ":"))
                count += 1
    return count


def main(argv):
    if len(argv) >= 3 and argv[0] == "native":
        n = native(argv[1], argv[2])
    elif len(argv) >= 3 and argv[0] == "crd":
        n = crds(argv[1], argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(f"k8s_schemas: wrote {n} schemas")
    return 0 if n else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
