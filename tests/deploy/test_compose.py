"""deploy/compose/compose.yaml: valid against the Compose specification's
JSON schema (from Docker Compose's own loader module, compose-go), and shaped
as docs/deploy.md promises. nginx.conf and prometheus.yml themselves run in
test_topology.py; promtool checks prometheus.yml in test_monitoring.py.
"""
import json
import pathlib
import re

import jsonschema
import yaml

from deploylib import ROOT, tools

COMPOSE = ROOT / "deploy" / "compose"
REPLICAS = ["inferd-1", "inferd-2", "inferd-3"]


def compose():
    return yaml.safe_load((COMPOSE / "compose.yaml").read_text())


def test_compose_file_matches_the_compose_spec_schema(tool):
    schema = json.loads(pathlib.Path(tool["COMPOSE_SCHEMA"]).read_text())
    jsonschema.validate(compose(), schema)
    # The schema is strict enough to catch a typo.
    bad = compose()
    bad["services"]["nginx"]["restart_policy"] = "always"
    try:
        jsonschema.validate(bad, schema)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("compose-spec schema accepted an unknown service key")


def test_replicas_are_hardened_limited_and_health_checked():
    services = compose()["services"]
    for name in REPLICAS:
        s = services[name]
        assert s["read_only"] is True and s["user"] == "65532:65532"
        assert s["cap_drop"] == ["ALL"]
        assert s["restart"] == "unless-stopped"
        assert s["healthcheck"]["test"][:3] == ["CMD", "/inferd", "health"]
        assert s["deploy"]["resources"]["limits"]["memory"]
        vol = s["volumes"][0]
        assert vol["target"] == "/models" and vol["read_only"] is True
        args = " ".join(s["command"])
        drain = int(re.search(r"--drain-delay-secs=(\d+)", args).group(1))
        exit_timeout = int(re.search(r"--exit-timeout-secs=(\d+)", args).group(1))
        grace = int(s["stop_grace_period"].rstrip("s"))
        assert grace >= drain + exit_timeout, "stop_grace_period must cover drain + exit timeout"
    for name in ("nginx", "prometheus", "grafana"):
        s = services[name]
        assert s["restart"] == "unless-stopped" and s["healthcheck"]
        assert s["deploy"]["resources"]["limits"]
    assert set(services["nginx"]["depends_on"]) == set(REPLICAS)


def test_mounted_files_exist_and_name_every_replica():
    services = compose()["services"]
    for name in ("nginx", "prometheus", "grafana"):
        for vol in services[name]["volumes"]:
            src = vol.split(":")[0] if isinstance(vol, str) else vol["source"]
            if src.startswith("."):
                assert (COMPOSE / src).resolve().exists(), f"{name} mounts missing {src}"
    nginx = (COMPOSE / "nginx.conf").read_text()
    prom = (COMPOSE / "prometheus.yml").read_text()
    for name in REPLICAS:
        assert f"server {name}:8000" in nginx and f"server {name}:8001" in nginx
        assert f"{name}:8002" in prom
    assert "grpc_pass grpc://inferd_grpc" in nginx
    assert re.search(r"proxy_next_upstream error timeout http_502 http_503", nginx)
    assert "proxy_next_upstream_tries 3" in nginx
    dashboards = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/inferd.yml").read_text())
    assert dashboards["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
