"""Helpers shared by the deployment tests (tests/deploy).

The Go-built tools and offline schemas come from tests/deploy/tools.sh
(cached in .tools/ and $INFERD_TEST_CACHE/tools). The chart is rendered with
`helm template` once per ci/*-values.yaml file and values combination.
The metric helpers say which metrics inferd exports and which metrics a
PromQL expression (alert, autoscaling query, dashboard panel) uses.

A module of its own (not conftest.py) so the tests can import it by a name
no other test directory uses.
"""
import functools
import json
import os
import pathlib
import re
import subprocess

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "inferd"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE = "inferd"
NAMESPACE = "inference"


@functools.lru_cache(maxsize=None)
def tools():
    """KEY=VALUE pairs from tools.sh: HELM, KUBECONFORM, K8S_SCHEMAS, ..."""
    out = subprocess.run(["bash", str(ROOT / "tests/deploy/tools.sh")], cwd=ROOT,
                         capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"tests/deploy/tools.sh failed:\n{out.stderr[-3000:]}")
    return dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)


def run(cmd, timeout=300):
    """Runs cmd in the repository root; returns the CompletedProcess."""
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def run_ok(cmd, timeout=300):
    """Like run(), but a non-zero exit fails the test with the output."""
    out = run(cmd, timeout)
    if out.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({out.returncode}):\n"
                             f"{out.stdout[-4000:]}\n{out.stderr[-4000:]}")
    return out


def helm(*args):
    return run_ok([tools()["HELM"], *args])


@functools.lru_cache(maxsize=None)
def render_text(values_files=(), sets=()):
    """`helm template` of the chart as text, for values files and --set pairs."""
    args = ["template", RELEASE, str(CHART), "-n", NAMESPACE,
            "--kube-version", tools()["KUBE_VERSION"]]
    for f in values_files:
        args += ["-f", str(f)]
    for s in sets:
        args += ["--set", s]
    return helm(*args).stdout


def render(values_files=(), sets=()):
    """The rendered objects, as a list of dicts."""
    return [d for d in yaml.safe_load_all(render_text(tuple(map(str, values_files)), tuple(sets))) if d]


def find(objs, kind, name=None):
    hits = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert hits, f"no {kind} {name or ''} rendered (kinds: {sorted({o['kind'] for o in objs})})"
    return hits[0]


def promtool():
    return os.environ.get("PROMTOOL", "promtool")


# --- metrics ---------------------------------------------------------------------

DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "inferd.json"

# The metrics inferd's /metrics serves (issue 3, "Metrics"). Histograms
# expose <name>_bucket, _sum and _count. `up` is Prometheus' own.
INFERD_COUNTERS_GAUGES = {
    "inferd_requests_total", "inferd_inference_count_total", "inferd_execution_count_total",
    "inferd_queue_size", "inferd_inflight_requests", "inferd_model_ready",
    "inferd_model_load_duration_seconds",
    "process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
    "process_open_fds", "process_max_fds", "process_start_time_seconds",
}
INFERD_HISTOGRAMS = {"inferd_request_duration_seconds", "inferd_queue_duration_seconds",
                     "inferd_compute_duration_seconds", "inferd_batch_size"}
EXPORTED = (INFERD_COUNTERS_GAUGES | {"up"}
            | {h + s for h in INFERD_HISTOGRAMS for s in ("_bucket", "_sum", "_count")})

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
            "and", "or", "unless", "offset", "inf", "nan"}


def metric_names(expr):
    """Metric names a PromQL expression selects (strings, label matchers,
    ranges, grouping clauses and function names taken out)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        if e[m.end():].lstrip().startswith("(") or m.group(0).lower() in KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def grafana_to_promql(expr):
    """A Grafana target as Prometheus would receive it."""
    return (expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
            .replace("$__range", "1h").replace("${datasource}", "prometheus")
            .replace("$job", ".*").replace("$model", ".*"))


def dashboard_exprs():
    dash = json.loads(DASHBOARD.read_text())
    exprs = []
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            exprs.append((panel["title"], grafana_to_promql(t["expr"])))
    for var in dash["templating"]["list"]:
        q = var.get("query")
        if isinstance(q, dict):
            m = re.fullmatch(r"label_values\((.*),\s*\w+\)", q["query"])
            assert m, f"variable {var['name']}: unexpected query {q['query']}"
            exprs.append((f"variable {var['name']}", grafana_to_promql(m.group(1))))
    return exprs
