"""The Helm chart (deploy/helm/inferd) and the plain manifests (deploy/kubernetes).

Every ci/*-values.yaml file is linted and rendered with helm (built by `go
install`, pinned in tools.sh) for a fixed Kubernetes version, and every
rendered object is validated offline by kubeconform: native kinds against
the JSON schemas made from Kubernetes' own OpenAPI document, custom
resources (ServiceMonitor, PrometheusRule, ScaledObject, Rollout,
AnalysisTemplate, ClusterServingRuntime, Knative Service) against the
schemas in their projects' CRDs. Strict: unknown fields are errors.
"""
import json
import pathlib

import pytest
import yaml

from deploylib import (CHART, CI_VALUES, NAMESPACE, RELEASE, ROOT, find, helm, render,
                      render_text, run, run_ok, tools)

FULLNAME = RELEASE  # the chart is "inferd" too, so the full name is the release name
PLAIN = ROOT / "deploy" / "kubernetes"


def kubeconform(path):
    t = tools()
    return run([t["KUBECONFORM"], "-strict", "-summary", "-output", "text",
                "-kubernetes-version", t["KUBE_VERSION"],
                "-schema-location", t["K8S_SCHEMAS"] + "/{{ .ResourceKind }}{{ .KindSuffix }}.json",
                "-schema-location", t["CRD_SCHEMAS"] + "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json",
                path])


def ci_id(p):
    return p.name.replace("-values.yaml", "")


def test_ci_values_files_exist():
    assert len(CI_VALUES) >= 5, CI_VALUES


@pytest.mark.parametrize("values", CI_VALUES, ids=ci_id)
def test_helm_lint(tool, values):
    out = helm("lint", "--strict", "--kube-version", tool["KUBE_VERSION"],
               "-n", NAMESPACE, CHART, "-f", values)
    assert "0 chart(s) failed" in out.stdout


@pytest.mark.parametrize("values", CI_VALUES, ids=ci_id)
def test_render_validates_against_schemas(tool, values, tmp_path):
    text = render_text((str(values),))
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(text)
    out = kubeconform(manifest)
    print(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    # Every object was checked against a schema: none skipped or missing.
    assert "Skipped: 0" in out.stdout and "Errors: 0" in out.stdout and "Invalid: 0" in out.stdout


def test_validator_rejects_bad_objects(tool, tmp_path):
    """The schemas are strict and typed, for native kinds and CRDs alike."""
    bad = {
        "unknown Deployment field": ("apps/v1", "Deployment",
                                     {"replicass": 2, "selector": {}, "template": {}}),
        "string port in a Service": ("v1", "Service", {"ports": [{"port": "http"}]}),
        "unknown ServiceMonitor endpoint field": ("monitoring.coreos.com/v1", "ServiceMonitor",
                                                  {"selector": {}, "endpoints": [{"intervall": "5s"}]}),
        "ScaledObject without scaleTargetRef": ("keda.sh/v1alpha1", "ScaledObject",
                                                {"triggers": [{"type": "prometheus", "metadata": {}}]}),
        "Rollout with a string replicas": ("argoproj.io/v1alpha1", "Rollout", {"replicas": "two"}),
    }
    for what, (api, kind, spec) in bad.items():
        f = tmp_path / "bad.yaml"
        f.write_text(yaml.safe_dump({"apiVersion": api, "kind": kind,
                                     "metadata": {"name": "x"}, "spec": spec}))
        out = kubeconform(f)
        assert out.returncode != 0 and "Invalid: 1" in out.stdout, f"{what} was accepted: {out.stdout}"


def _enabled_paths(node, path=()):
    """Paths of every `enabled` switch in values.yaml."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "enabled" and isinstance(v, bool):
                yield path
            else:
                yield from _enabled_paths(v, path + (k,))


def _get(d, path):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def test_ci_values_turn_every_feature_on():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    ci = [yaml.safe_load(p.read_text()) or {} for p in CI_VALUES]

    def on(c, p):
        v = _get(c, p + ("enabled",))
        return _get(values, p + ("enabled",)) if v is None else v
    missing = [".".join(p) for p in _enabled_paths(values) if not any(on(c, p) for c in ci)]
    assert not missing, f"no ci/*-values.yaml turns on: {missing}"
    # Switches that are not booleans: every choice is rendered somewhere.
    choices = {("models", "source"): {"pvc", "hostPath", "download", "image"},
               ("probes", "readiness", "type"): {"http", "grpc"},
               ("podAntiAffinity",): {"none", "soft", "hard"},
               ("server", "modelControlMode"): {"none", "poll", "explicit"}}
    for path, want in choices.items():
        seen = {_get(c, path) or _get(values, path) for c in ci}
        assert want <= seen, f"{'.'.join(path)}: no ci file uses {want - seen}"
    # Some ci file disables each default-on feature too.
    for p in _enabled_paths(values):
        if _get(values, p + ("enabled",)) is True:
            assert any(_get(c, p + ("enabled",)) is False for c in ci), f"{'.'.join(p)} never off"


def _pod(objs, kind="Deployment"):
    return find(objs, kind, FULLNAME)["spec"]["template"]["spec"]


def test_default_deployment_is_hardened_and_probed():
    objs = render()
    dep = find(objs, "Deployment", FULLNAME)
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["args"] == ["--model-repository=/models"]
    assert c["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] >= 300
    assert c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http": 8000, "grpc": 8001, "metrics": 8002}
    assert "cpu" in c["resources"]["requests"] and "memory" in c["resources"]["limits"]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/models"]["readOnly"] is True and "/tmp" in mounts
    assert {t["topologyKey"] for t in pod["topologySpreadConstraints"]} == \
        {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    ann = dep["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == "8002"
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    # Settings reach inferd as INFERD_* variables from the ConfigMap.
    cm = find(objs, "ConfigMap", FULLNAME)["data"]
    assert c["envFrom"] == [{"configMapRef": {"name": FULLNAME}}]
    assert cm["INFERD_DRAIN_DELAY_SECS"] == "5" and cm["INFERD_EXIT_TIMEOUT_SECS"] == "30"
    assert cm["INFERD_METRICS_PORT"] == "8002" and cm["INFERD_GRPC_PORT"] == "8001"
    svc = find(objs, "Service", FULLNAME)
    assert {p["name"] for p in svc["spec"]["ports"]} == {"http", "grpc", "metrics"}
    assert find(objs, "ServiceAccount", FULLNAME)["automountServiceAccountToken"] is False
    assert find(objs, "PersistentVolumeClaim", FULLNAME + "-models")
    assert find(objs, "PodDisruptionBudget", FULLNAME)["spec"]["maxUnavailable"] == 1


def test_grace_period_covers_prestop_drain_and_exit():
    pod = _pod(render())
    assert pod["terminationGracePeriodSeconds"] == 5 + 30 + 5
    assert "lifecycle" not in pod["containers"][0]
    pod = _pod(render(sets=("lifecycle.preStopSleepSeconds=7", "server.drainDelaySecs=3",
                            "server.exitTimeoutSecs=20")))
    assert pod["terminationGracePeriodSeconds"] == 7 + 3 + 20 + 5
    assert pod["containers"][0]["lifecycle"]["preStop"] == {"sleep": {"seconds": 7}}
    out = run([tools()["HELM"], "template", RELEASE, CHART, "--kube-version", tools()["KUBE_VERSION"],
               "--set", "lifecycle.terminationGracePeriodSeconds=10"])
    assert out.returncode != 0 and "killed mid-drain" in out.stderr


def test_hpa_and_keda_are_alternatives():
    out = run([tools()["HELM"], "template", RELEASE, CHART, "--kube-version", tools()["KUBE_VERSION"],
               "--set", "autoscaling.hpa.enabled=true",
               "--set", "autoscaling.keda.enabled=true"])
    assert out.returncode != 0 and "alternatives" in out.stderr


def test_hpa_scales_on_cpu_and_queue_with_behavior():
    objs = render((CHART / "ci/hpa-monitoring-values.yaml",))
    hpa = find(objs, "HorizontalPodAutoscaler", FULLNAME)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": FULLNAME}
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    assert metrics["Pods"]["pods"]["metric"]["name"] == "inferd_queue_size"
    assert metrics["Pods"]["pods"]["target"] == {"type": "AverageValue", "averageValue": "4"}
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert hpa["spec"]["behavior"]["scaleUp"]["policies"]
    assert "replicas" not in find(objs, "Deployment", FULLNAME)["spec"]
    rules = yaml.safe_load(find(objs, "ConfigMap", FULLNAME + "-prometheus-adapter-rules")["data"]["config.yaml"])
    assert rules["rules"][0]["name"]["as"] == "inferd_queue_size"
    # The hard anti-affinity, preStop and the explicit grace period arrived.
    pod = _pod(objs)
    assert pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert pod["terminationGracePeriodSeconds"] == 90
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "shared-models"
    np = find(objs, "NetworkPolicy", FULLNAME)
    assert len(np["spec"]["ingress"]) == 2
    ing = find(objs, "Ingress", FULLNAME)
    assert ing["spec"]["tls"][0]["secretName"] == "inferd-tls"
    grpc = find(objs, "Ingress", FULLNAME + "-grpc")
    assert grpc["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    assert find(objs, "ResourceQuota") and find(objs, "LimitRange")


def test_keda_scaledobject():
    objs = render((CHART / "ci/keda-values.yaml",))
    so = find(objs, "ScaledObject", FULLNAME)
    assert so["spec"]["scaleTargetRef"]["name"] == FULLNAME
    trig = {t["type"]: t for t in so["spec"]["triggers"]}
    assert "inferd_queue_size" in trig["prometheus"]["metadata"]["query"]
    assert not [o for o in objs if o["kind"] == "HorizontalPodAutoscaler"]
    c = _pod(objs)["containers"][0]
    assert c["readinessProbe"]["grpc"] == {"port": 8001, "service": ""}


def test_accelerator_placement():
    pod = _pod(render((CHART / "ci/accelerator-values.yaml",)))
    c = pod["containers"][0]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["nodeSelector"]["nvidia.com/gpu.present"] == "true"
    assert pod["nodeSelector"]["node.kubernetes.io/instance-type"] == "g5.xlarge"
    assert {t["key"] for t in pod["tolerations"]} == {"nvidia.com/gpu", "dedicated"}
    assert pod["runtimeClassName"] == "nvidia"
    init = pod["initContainers"][0]
    assert init["command"][:2] == ["aws", "s3"]
    assert pod["volumes"][0]["emptyDir"]["sizeLimit"] == "10Gi"
    npu = _pod(render((CHART / "ci/npu-values.yaml",)))
    assert npu["containers"][0]["resources"]["limits"]["huawei.com/npu"] == "1"
    assert all(m["mountPath"] != "/models" for m in npu["containers"][0]["volumeMounts"])


def test_rollout_replaces_deployment_with_canary_analysis():
    objs = render((CHART / "ci/rollouts-values.yaml",))
    assert not [o for o in objs if o["kind"] == "Deployment"]
    ro = find(objs, "Rollout", FULLNAME)
    steps = ro["spec"]["strategy"]["canary"]["steps"]
    assert [s["setWeight"] for s in steps if "setWeight" in s] == [10, 25, 50]
    at = find(objs, "AnalysisTemplate", FULLNAME + "-canary")
    names = {m["name"]: m for m in at["spec"]["metrics"]}
    assert "inferd_requests_total" in names["error-ratio"]["provider"]["prometheus"]["query"]
    assert "0.02" in names["error-ratio"]["successCondition"]
    assert "histogram_quantile(0.99" in names["p99-latency"]["provider"]["prometheus"]["query"]
    hpa = find(objs, "HorizontalPodAutoscaler", FULLNAME)
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Rollout"
    assert [m["type"] for m in hpa["spec"]["metrics"]] == ["Resource"]


def test_kserve_and_knative():
    objs = render((CHART / "ci/kserve-knative-values.yaml",))
    rt = find(objs, "ClusterServingRuntime", "inferd")
    assert rt["spec"]["supportedModelFormats"][0]["name"] == "onnx"
    assert set(rt["spec"]["protocolVersions"]) == {"v2", "grpc-v2"}
    assert "--model-repository=/mnt/models" in rt["spec"]["containers"][0]["args"]
    ks = find(objs, "Service", FULLNAME + "-knative")
    ann = ks["spec"]["template"]["metadata"]["annotations"]
    assert ann["autoscaling.knative.dev/min-scale"] == "0"


def test_dashboard_configmap_is_the_grafana_dashboard():
    canonical = ROOT / "deploy/grafana/dashboards/inferd.json"
    assert (CHART / "files/inferd-dashboard.json").read_bytes() == canonical.read_bytes(), \
        "copy deploy/grafana/dashboards/inferd.json to deploy/helm/inferd/files/inferd-dashboard.json"
    cm = find(render((CHART / "ci/hpa-monitoring-values.yaml",)), "ConfigMap", FULLNAME + "-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["inferd.json"]) == json.loads(canonical.read_text())


# --- plain manifests -------------------------------------------------------------

def test_plain_manifests_are_the_chart_rendered(tool, tmp_path):
    """deploy/kubernetes/*.yaml are render.sh's output, kept in step with the chart."""
    run_ok(["bash", PLAIN / "render.sh", tmp_path])
    for f in sorted(tmp_path.glob("*.yaml")):
        assert f.read_text() == (PLAIN / f.name).read_text(), \
            f"deploy/kubernetes/{f.name} is stale: run deploy/kubernetes/render.sh"


def test_plain_manifests_validate(tool):
    for f in ("inferd.yaml", "monitoring.yaml", "namespace.yaml"):
        out = kubeconform(PLAIN / f)
        assert out.returncode == 0 and "Invalid: 0" in out.stdout, out.stdout + out.stderr


def test_adapter_values_match_chart_rules():
    adapter = yaml.safe_load((PLAIN / "prometheus-adapter-values.yaml").read_text())
    cm = find(render((CHART / "ci/hpa-monitoring-values.yaml",)), "ConfigMap",
              FULLNAME + "-prometheus-adapter-rules")
    assert adapter["rules"]["custom"] == yaml.safe_load(cm["data"]["config.yaml"])["rules"]
