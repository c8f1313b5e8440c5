"""docker-compose.yml, checked structurally (Docker itself is not needed)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "INFLUXDB_ADMIN_PASSWORD",
    "STRESSTRACK_INFLUX_TOKEN",
    "GRAFANA_ADMIN_PASSWORD",
}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    return data


def env_example() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env.example").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def test_services_images_and_dependencies() -> None:
    services = compose()["services"]
    assert set(services) == {"influxdb", "grafana", "stresstrack"}
    assert services["influxdb"]["image"] == "influxdb:2.7"
    assert re.fullmatch(r"grafana/grafana:11\.\d+\.\d+", services["grafana"]["image"])
    assert services["stresstrack"]["build"] == "."
    for name in ("grafana", "stresstrack"):
        assert services[name]["depends_on"] == {"influxdb": {"condition": "service_healthy"}}
    for name, s in services.items():
        assert s["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        assert s["restart"] == "unless-stopped"


def test_ports_are_on_loopback_by_default() -> None:
    example = env_example()
    assert example["BIND_ADDRESS"] == "127.0.0.1"
    for name, s in compose()["services"].items():
        for port in s.get("ports", []):
            assert port.startswith("${BIND_ADDRESS:-127.0.0.1}:"), (name, port)
    assert len(compose()["services"]["grafana"]["ports"]) == 1


def test_volumes_are_named_and_mounts_exist_in_the_repo() -> None:
    c = compose()
    declared = set(c["volumes"])
    assert declared == {"influxdb-data", "influxdb-config", "grafana-data", "stresstrack-data"}
    for name, s in c["services"].items():
        for v in s.get("volumes", []):
            source = v.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).is_dir(), (name, v)
                assert v.endswith(":ro"), (name, v)  # provisioning is read-only
            else:
                assert source in declared, (name, v)
    grafana = c["services"]["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    provisioning = ROOT / "deploy/grafana/provisioning"
    assert (provisioning / "datasources/influxdb.yaml").is_file()
    assert sorted(p.name for p in (provisioning / "dashboards").glob("*.json")) == [
        "cohort.json",
        "participant.json",
        "sessions.json",
    ]
    home = c["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (provisioning / Path(home).relative_to("/etc/grafana/provisioning")).is_file()


def test_secrets_come_from_env_and_every_variable_is_in_env_example() -> None:
    text = (ROOT / "docker-compose.yml").read_text("utf-8")
    used = set(re.findall(r"\$\{(\w+)", text))
    assert used <= set(env_example()), used - set(env_example())
    for secret in SECRETS:  # required: compose refuses to start without them
        assert re.search(r"\$\{" + secret + r":\?", text), secret
    c = compose()
    influx = c["services"]["influxdb"]["environment"]
    assert influx["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert {k for k in influx if k.startswith("DOCKER_INFLUXDB_INIT_")} == {
        "DOCKER_INFLUXDB_INIT_MODE",
        "DOCKER_INFLUXDB_INIT_USERNAME",
        "DOCKER_INFLUXDB_INIT_PASSWORD",
        "DOCKER_INFLUXDB_INIT_ORG",
        "DOCKER_INFLUXDB_INIT_BUCKET",
        "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN",
    }
    # Grafana gets what the provisioned datasource expands, and no InfluxDB admin password.
    grafana = c["services"]["grafana"]["environment"]
    datasource = (ROOT / "deploy/grafana/provisioning/datasources/influxdb.yaml").read_text()
    for var in re.findall(r"\$\{(\w+)\}", datasource):
        assert var in grafana, var
    assert "INFLUXDB_ADMIN_PASSWORD" not in str(grafana)
    gitignore = (ROOT / ".gitignore").read_text("utf-8").splitlines()
    assert ".env" in gitignore and ".env" in (ROOT / ".dockerignore").read_text().splitlines()


def test_stresstrack_service_runs_the_live_script() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text("utf-8")
    assert "pip install ." in dockerfile and 'CMD ["stresstrack-live"]' in dockerfile
    assert "USER stresstrack" in dockerfile
    script = ROOT / "deploy/stresstrack/live.sh"
    assert os.access(script, os.X_OK)
    text = script.read_text("utf-8")
    assert "stresstrack collect --simulate" in text and "--influx-url" in text
    # The commands it runs parse with this stresstrack (collect, or replay while collect has
    # no InfluxDB options yet).
    from stresstrack.cli import build_parser

    influx = ["--influx-url", "http://influxdb:8086", "--influx-org", "o", "--influx-bucket", "b"]
    replay = ["replay", "/data/demo/stresstrack.db", "--store", "/data/replay.db", "--speed", "1"]
    assert build_parser().parse_args([*replay, *influx]).speed == 1
    collect = ["collect", "--simulate", "--participant", "sim-001", "--seed", "1"]
    collect += ["--study", "s", "--protocol", "stress-selfcare-recovery", "--store", "/data/x.db"]
    assert build_parser().parse_args(collect).simulate
    env = compose()["services"]["stresstrack"]["environment"]
    assert env["STRESSTRACK_INFLUX_URL"] == "http://influxdb:8086"
    assert {"STRESSTRACK_INFLUX_TOKEN", "STRESSTRACK_INFLUX_BUCKET"} <= set(env)
