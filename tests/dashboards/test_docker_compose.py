"""docker-compose.yml, checked structurally (Docker itself is not needed)."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "INFLUXDB_ADMIN_PASSWORD",
    "STRESSTRACK_INFLUX_TOKEN",
    "STRESSTRACK_GRAFANA_TOKEN",
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
    assert set(services) == {"preflight", "influxdb", "influx-setup", "grafana", "stresstrack"}
    # Patch releases: InfluxDB 2.7's and the Grafana 11.6 line's latest (11.6.16, the version
    # of @grafana/data the harness runs, tests/dashboards/grafana_node/package.json).
    assert services["influxdb"]["image"] == services["preflight"]["image"] == "influxdb:2.7.12"
    node = json.loads((ROOT / "tests/dashboards/grafana_node/package.json").read_text())
    assert (
        services["grafana"]["image"] == f"grafana/grafana:{node['dependencies']['@grafana/data']}"
    )
    assert services["stresstrack"]["build"] == "."
    assert re.search(r"^FROM python:3\.11\.\d+-slim-\w+$", (ROOT / "Dockerfile").read_text(), re.M)
    assert services["influxdb"]["depends_on"] == {
        "preflight": {"condition": "service_completed_successfully"}
    }
    for name in ("grafana", "stresstrack", "influx-setup"):
        assert services[name]["depends_on"] == {"influxdb": {"condition": "service_healthy"}}
    assert services["stresstrack"]["init"] is True  # TERM reaches live.sh (test_live_script.py)
    for name, s in services.items():
        if name in ("preflight", "influx-setup"):  # one-shot
            assert s["restart"] == "no", name
            continue
        assert s["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        assert s["restart"] == "unless-stopped"


def test_compose_file_is_valid_against_the_compose_spec_schema() -> None:
    """The official schema (schema/README.md: compose-spec/compose-spec, its commit)."""
    schema = json.loads((ROOT / "tests/dashboards/schema/compose-spec.json").read_text("utf-8"))
    jsonschema.Draft7Validator(schema).validate(compose())
    broken = compose()
    broken["services"]["grafana"]["depends_on"] = {"influxdb": {"condition": "when-ready"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(broken)


def _preflight(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ROOT / "deploy/preflight.sh")],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_placeholder_secrets_of_env_example_are_refused() -> None:
    """docker compose up with .env copied from .env.example unedited: preflight fails, and
    every other service waits for it (influxdb, then grafana and stresstrack)."""
    example = env_example()
    done = _preflight(example)
    assert done.returncode == 1
    for secret in SECRETS:
        assert secret in done.stderr
    assert "change-me" not in done.stdout + done.stderr  # the values are not echoed
    real = {k: secrets.token_urlsafe(32) for k in SECRETS}
    assert _preflight({**example, **real}).returncode == 0
    short = {**example, **real, "GRAFANA_ADMIN_PASSWORD": "admin"}
    assert _preflight(short).returncode == 1
    preflight_env = compose()["services"]["preflight"]["environment"]
    assert set(preflight_env) == SECRETS


def test_least_privilege_credentials() -> None:
    """Grafana reads as the read-only user; the collectors write with the write-only token
    from the init script; only the operator (and InfluxDB's setup) has the admin token."""
    services = compose()["services"]
    grafana = services["grafana"]["environment"]
    assert grafana["STRESSTRACK_INFLUX_TOKEN"].startswith(
        "stresstrack-grafana:${STRESSTRACK_GRAFANA_TOKEN"
    )
    collector = services["stresstrack"]["environment"]
    assert "STRESSTRACK_INFLUX_TOKEN" not in collector
    assert collector["STRESSTRACK_INFLUX_TOKEN_FILE"] == "/tokens/writer.token"
    assert "influxdb-tokens:/tokens:ro" in services["stresstrack"]["volumes"]
    init = (ROOT / "deploy/influxdb/init/10-least-privilege.sh").read_text()
    assert "--read-bucket" in init and "--write-bucket" in init
    assert "--write-bucket" not in init.split("influx auth create")[0]  # the Grafana user reads
    assert (
        subprocess.run(
            ["sh", "-n", str(ROOT / "deploy/influxdb/init/10-least-privilege.sh")], check=False
        ).returncode
        == 0
    )
    text = (ROOT / "docker-compose.yml").read_text()
    # preflight (checks it), InfluxDB's setup (creates it), influx-setup (creates the tasks).
    assert text.count("${STRESSTRACK_INFLUX_TOKEN:?") == 3
    admin = {n for n, s in services.items() if "${STRESSTRACK_INFLUX_TOKEN:?" in str(s)}
    assert admin == {"preflight", "influxdb", "influx-setup"}


def test_influx_setup_service_creates_the_downsampled_series() -> None:
    """Without it the cohort and days dashboards, which read the downsampled series, stay
    empty after `docker compose up`: it runs `stresstrack influx setup` (parsed here by this
    stresstrack's own command line) against the compose InfluxDB, once, with the admin token
    from the environment (never on the command line)."""
    from stresstrack.cli import build_parser

    s = compose()["services"]["influx-setup"]
    assert s["build"] == "." and s["image"] == compose()["services"]["stresstrack"]["image"]
    command = [c.replace("${STRESSTRACK_INFLUX_ORG:?set it in .env (see .env.example)}", "o")
               .replace("${STRESSTRACK_INFLUX_BUCKET:?set it in .env (see .env.example)}", "b")
               for c in s["command"]]  # fmt: skip
    assert command[0] == "stresstrack"
    args = build_parser().parse_args(command[1:])
    assert (args.influx_command, args.influx_url) == ("setup", "http://influxdb:8086")
    assert (args.influx_org, args.influx_bucket) == ("o", "b")
    assert not any("TOKEN" in c for c in s["command"])
    assert list(s["environment"]) == ["STRESSTRACK_INFLUX_TOKEN"]


def test_image_dependencies_are_constrained() -> None:
    """Every runtime dependency of pyproject.toml has an exact version in the constraints."""
    pinned = {}
    for line in (ROOT / "deploy/stresstrack/constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pinned[re.sub(r"[-_.]+", "-", name).lower()] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for dep in project["dependencies"]:
        name = re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", dep)[0]).lower()
        assert pinned.get(name), f"{name} is not pinned in deploy/stresstrack/constraints.txt"
    assert "pip install -c constraints.txt ." in (ROOT / "Dockerfile").read_text()


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
    assert declared == {
        "influxdb-data",
        "influxdb-config",
        "influxdb-tokens",
        "grafana-data",
        "stresstrack-data",
    }
    for name, s in c["services"].items():
        for v in s.get("volumes", []):
            source = v.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), (name, v)
                assert v.endswith(":ro"), (name, v)  # provisioning is read-only
            else:
                assert source in declared, (name, v)
    grafana = c["services"]["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    provisioning = ROOT / "deploy/grafana/provisioning"
    assert (provisioning / "datasources/influxdb.yaml").is_file()
    assert sorted(p.name for p in (provisioning / "dashboards").glob("*.json")) == [
        "cohort.json",
        "days.json",
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
    assert (
        "pip install -c constraints.txt ." in dockerfile
        and 'CMD ["stresstrack-live"]' in dockerfile
    )
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
    assert {"STRESSTRACK_INFLUX_TOKEN_FILE", "STRESSTRACK_INFLUX_BUCKET"} <= set(env)
