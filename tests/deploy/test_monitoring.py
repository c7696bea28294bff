"""Prometheus pieces of the deployment: scrape config, alerts, autoscaling
queries and the Grafana dashboard, checked with Debian's promtool.

- `promtool check config` on deploy/compose/prometheus.yml;
- the chart's PrometheusRule: `promtool check rules`, and `promtool test rules`
  with tests/deploy/promtool/alerts_test.yml (a firing and a quiet case for
  every alert);
- the prometheus-adapter rule's query (as the adapter expands it for the
  HPA), KEDA's query and the Argo Rollouts analysis queries, run by
  `promtool test rules` on known series (tests/deploy/promtool/queries_test.yml);
- every PromQL expression of the Grafana dashboard, alerts and analyses
  parses, and names only metrics inferd exports (issue 3's list).
"""
import json
import re
import shutil

import pytest
import yaml

from deploylib import (CHART, DASHBOARD, EXPORTED, NAMESPACE, ROOT, dashboard_exprs, find,
                       metric_names, promtool, render, run, run_ok)

PROMTOOL_DIR = ROOT / "tests" / "deploy" / "promtool"

pytestmark = pytest.mark.skipif(shutil.which(promtool()) is None,
                                reason="promtool missing: scripts/install-deps.sh deploy installs prometheus")

def test_metric_names_parser():
    assert metric_names('histogram_quantile(0.99, sum by (le, model) '
                        '(rate(inferd_request_duration_seconds_bucket{job=~"a|b"}[5m]))) > 1') == \
        {"inferd_request_duration_seconds_bucket"}
    assert metric_names('sum(up{job="x"}) or vector(0)') == {"up"}
    assert metric_names("a / on (pod) group_left b") == {"a", "b"}


def check_rules(tmp_path, named_exprs):
    """Every expression through `promtool check rules`, as recording rules."""
    rules = {"groups": [{"name": "exprs", "rules": [
        {"record": f"check:expr_{i}", "expr": e} for i, (_, e) in enumerate(named_exprs)]}]}
    f = tmp_path / "exprs.yml"
    f.write_text(yaml.safe_dump(rules))
    out = run([promtool(), "check", "rules", f])
    assert out.returncode == 0, out.stdout + out.stderr


def rendered_rule_groups():
    rule = find(render((CHART / "ci/hpa-monitoring-values.yaml",)), "PrometheusRule")
    return rule["spec"]["groups"]


# --- scrape config -------------------------------------------------------------------

def test_compose_prometheus_config():
    out = run_ok([promtool(), "check", "config", ROOT / "deploy/compose/prometheus.yml"])
    assert "SUCCESS" in out.stdout + out.stderr
    cfg = yaml.safe_load((ROOT / "deploy/compose/prometheus.yml").read_text())
    job = [j for j in cfg["scrape_configs"] if j["job_name"] == "inferd"][0]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == [f"inferd-{i}:8002" for i in (1, 2, 3)]


# --- alerts ----------------------------------------------------------------------------

def test_alert_rules_check_and_unit_tests(tmp_path):
    (tmp_path / "inferd-alerts.yml").write_text(yaml.safe_dump({"groups": rendered_rule_groups()}))
    shutil.copy(PROMTOOL_DIR / "alerts_test.yml", tmp_path)
    out = run_ok([promtool(), "check", "rules", tmp_path / "inferd-alerts.yml"])
    assert "SUCCESS: 4 rules found" in out.stdout + out.stderr
    out = run([promtool(), "test", "rules", tmp_path / "alerts_test.yml"])
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_alert_has_a_firing_unit_test():
    alerts = {r["alert"] for g in rendered_rule_groups() for r in g["rules"] if "alert" in r}
    assert alerts == {"InferdHighP99Latency", "InferdHighErrorRate", "InferdQueueBacklog",
                      "InferdNoReadyReplicas"}
    tests = yaml.safe_load((PROMTOOL_DIR / "alerts_test.yml").read_text())["tests"]
    fired = {a["alertname"] for t in tests for a in t.get("alert_rule_test", []) if a.get("exp_alerts")}
    quiet = {a["alertname"] for t in tests for a in t.get("alert_rule_test", [])}
    assert alerts <= fired, f"alerts never shown firing: {alerts - fired}"
    assert alerts <= quiet


def test_alert_exprs_use_inferd_metrics():
    for g in rendered_rule_groups():
        for r in g["rules"]:
            assert metric_names(r["expr"]) <= EXPORTED, (r["alert"], metric_names(r["expr"]) - EXPORTED)


# --- autoscaling and canary queries ---------------------------------------------------

def adapter_query(series, matchers, group_by):
    """prometheus-adapter's metricsQuery template, expanded as the adapter does
    for `kubectl get --raw .../namespaces/NS/pods/*/inferd_queue_size`."""
    rules = yaml.safe_load((ROOT / "deploy/kubernetes/prometheus-adapter-values.yaml").read_text())
    rule = rules["rules"]["custom"][0]
    assert "inferd_queue_size" in rule["seriesQuery"]
    return (rule["metricsQuery"].replace("<<.Series>>", series)
            .replace("<<.LabelMatchers>>", matchers).replace("<<.GroupBy>>", group_by))


def query_rules():
    so = find(render((CHART / "ci/keda-values.yaml",)), "ScaledObject")
    keda = [t for t in so["spec"]["triggers"] if t["type"] == "prometheus"][0]["metadata"]["query"]
    at = find(render((CHART / "ci/rollouts-values.yaml",)), "AnalysisTemplate")
    analysis = {m["name"]: m["provider"]["prometheus"]["query"].replace("{{args.canary-hash}}", "new")
                for m in at["spec"]["metrics"]}
    return {
        "adapter:inferd_queue_size:pod": adapter_query(
            "inferd_queue_size", f'namespace="{NAMESPACE}",pod=~"inferd-a|inferd-b"', "pod"),
        "keda:inferd_queue_size:sum": keda,
        "canary:error_ratio": analysis["error-ratio"],
        "canary:p99_latency_seconds": analysis["p99-latency"],
    }


def test_autoscaling_and_canary_queries(tmp_path):
    rules = query_rules()
    for name, expr in rules.items():
        assert metric_names(expr) <= EXPORTED, (name, metric_names(expr) - EXPORTED)
    (tmp_path / "queries.yml").write_text(yaml.safe_dump({"groups": [{"name": "queries", "rules": [
        {"record": k, "expr": v} for k, v in rules.items()]}]}))
    shutil.copy(PROMTOOL_DIR / "queries_test.yml", tmp_path)
    run_ok([promtool(), "check", "rules", tmp_path / "queries.yml"])
    out = run([promtool(), "test", "rules", tmp_path / "queries_test.yml"])
    assert out.returncode == 0, out.stdout + out.stderr


# --- Grafana dashboard ----------------------------------------------------------------

def test_dashboard_exprs_parse(tmp_path):
    exprs = dashboard_exprs()
    assert len(exprs) >= 15
    check_rules(tmp_path, exprs)


def test_dashboard_uses_only_inferd_metrics():
    for title, expr in dashboard_exprs():
        names = metric_names(expr)
        assert names, f"{title}: no metric in {expr}"
        assert names <= EXPORTED, f"{title}: {names - EXPORTED} are not inferd metrics ({expr})"


def test_dashboard_has_the_operator_panels():
    exprs = [e for _, e in dashboard_exprs()]
    has = lambda pat: any(re.search(pat, e) for e in exprs)  # noqa: E731
    assert has(r"rate\(inferd_requests_total\{[^}]*\}\[5m\]\)"), "QPS"
    assert has(r'histogram_quantile\(0\.99, .*inferd_request_duration_seconds_bucket'), "P99 latency"
    assert has(r"inferd_queue_size"), "queue size"
    assert has(r'status="failure".*/'), "error rate"
    assert has(r"inferd_model_ready"), "model ready"
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] == "inferd"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    prov = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert prov["datasources"][0]["uid"] == "prometheus" == \
        [v for v in dash["templating"]["list"] if v["name"] == "datasource"][0]["current"]["value"]
