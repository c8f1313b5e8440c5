"""The committed provisioning is what the code generates, and reads back with the SDK."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from stresstrack.cli import main
from stresstrack.dashboards.influxql import (
    DATASOURCE_UID,
    InfluxQuery,
    ResultFormat,
    TimeRange,
    interpolate,
    regex_escape,
    register,
)

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "deploy" / "grafana" / "provisioning"


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_committed_provisioning_is_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fails when a dashboard changed and deploy/grafana/provisioning was not regenerated."""
    assert main(["dashboards", "export", str(tmp_path)]) == 0
    assert capsys.readouterr().out.split() == [
        str(tmp_path / f)
        for f in (
            "datasources/influxdb.yaml",
            "dashboards/stresstrack.yaml",
            "dashboards/participant.json",
            "dashboards/cohort.json",
            "dashboards/sessions.json",
            "dashboards/days.json",
        )
    ]
    assert files(COMMITTED) == files(tmp_path), (
        "regenerate: stresstrack dashboards export deploy/grafana/provisioning"
    )


def test_datasource_reads_the_token_from_the_environment() -> None:
    text = (COMMITTED / "datasources" / "influxdb.yaml").read_text(encoding="utf-8")
    (ds,) = yaml.safe_load(text)["datasources"]
    assert ds == {
        "name": "StressTrack InfluxDB",
        "uid": DATASOURCE_UID,
        "type": "influxdb",
        "access": "proxy",
        "url": "${STRESSTRACK_INFLUX_URL}",
        "isDefault": True,
        "editable": False,
        "jsonData": {
            "version": "InfluxQL",
            "dbName": "${STRESSTRACK_INFLUX_BUCKET}",
            "httpMode": "POST",
            "timeInterval": "1s",
            "httpHeaderName1": "Authorization",
        },
        "secureJsonData": {"httpHeaderValue1": "Token ${STRESSTRACK_INFLUX_TOKEN}"},
    }
    (provider,) = yaml.safe_load(
        (COMMITTED / "dashboards" / "stresstrack.yaml").read_text(encoding="utf-8")
    )["providers"]
    assert provider["options"] == {"path": "/etc/grafana/provisioning/dashboards"}
    assert provider["type"] == "file" and provider["folder"] == "StressTrack"


def test_export_options_replace_the_environment_references(tmp_path: Path) -> None:
    argv = ["dashboards", "export", str(tmp_path), "--influx-url", "http://db:8086"]
    assert main([*argv, "--influx-bucket", "study/autogen"]) == 0
    (ds,) = yaml.safe_load((tmp_path / "datasources" / "influxdb.yaml").read_text())["datasources"]
    assert (ds["url"], ds["jsonData"]["dbName"]) == ("http://db:8086", "study/autogen")
    assert ds["secureJsonData"] == {"httpHeaderValue1": "Token ${STRESSTRACK_INFLUX_TOKEN}"}


def _without_annotation_targets(board: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(board))
    for a in out["annotations"].get("list", []):
        a.pop("target", None)
    return out


@pytest.mark.parametrize("name", ["participant", "cohort", "sessions", "days"])
def test_dashboards_read_back_with_the_sdk(name: str) -> None:
    """Dashboard.from_json gives the same dashboard; targets decode as InfluxQuery.

    The SDK's AnnotationTarget only models the built-in Grafana annotations, so it drops an
    InfluxQL annotation's query on reading: annotation targets are compared apart.
    """
    register_default_plugins()
    register()
    original = json.loads((COMMITTED / "dashboards" / f"{name}.json").read_text("utf-8"))
    board = Dashboard.from_json(original)
    again = json.loads(JSONEncoder(sort_keys=True).encode(board))
    assert _without_annotation_targets(again) == _without_annotation_targets(original)
    targets = [t for p in board.panels or [] for t in getattr(p, "targets", None) or []]
    assert targets and all(isinstance(t, InfluxQuery) for t in targets)
    assert all(t.datasource is not None and t.datasource.uid == DATASOURCE_UID for t in targets)
    for a in original["annotations"].get("list", []):
        t = a["target"]
        assert (t["rawQuery"], t["fromAnnotations"], t["timeEndColumn"]) == (
            True,
            True,
            "session.end_ms",
        )


def test_influx_query_serialises_as_grafana_stores_it() -> None:
    q = InfluxQuery(query="SELECT 1", ref_id="B", result_format=ResultFormat.TABLE)
    assert q.to_json() == {
        "refId": "B",
        "query": "SELECT 1",
        "rawQuery": True,
        "resultFormat": "table",
    }
    assert InfluxQuery.from_json(q.to_json()) == q
    with pytest.raises(ValueError, match="not a raw InfluxQL target"):
        InfluxQuery.from_json({"refId": "A", "measurement": "cpu"})


def test_interpolation_follows_grafana() -> None:
    r = TimeRange(1_000, 2_000)
    q = 'SELECT x FROM m WHERE "p" =~ /^($p)$/ AND $timeFilter GROUP BY time($__interval)'
    assert interpolate(q, r, interval="5s", variables={"p": "a.b"}) == (
        'SELECT x FROM m WHERE "p" =~ /^(a\\.b)$/ AND time >= 1000ms and time <= 2000ms '
        "GROUP BY time(5s)"
    )
    assert interpolate("/^($p)$/", r, variables={"p": ["x", "y"]}) == "/^(x|y)$/"
    assert interpolate("/^($p)$/", r, raw={"p": ".*"}) == "/^(.*)$/"
    assert interpolate("${a}ms $unknown", r, variables={"a": "12"}) == "12ms $unknown"
    assert regex_escape("1.5") == "1.5" and regex_escape("a/b(c)") == "a\\/b\\(c\\)"
    with pytest.raises(ValueError, match="not a Grafana interval"):
        interpolate("x", r, interval="soon")
