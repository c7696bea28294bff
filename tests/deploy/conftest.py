"""Shared fixtures of the deployment tests (tests/deploy).

The Go-built tools and offline schemas come from tests/deploy/tools.sh
(cached in .tools/ and $INFERD_TEST_CACHE/tools). The chart is rendered with
`helm template` once per ci/*-values.yaml file and values combination.
"""
import functools
import os
import pathlib
import subprocess

import pytest
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


@pytest.fixture(scope="session")
def tool():
    try:
        return tools()
    except RuntimeError as e:
        pytest.fail(str(e))


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
