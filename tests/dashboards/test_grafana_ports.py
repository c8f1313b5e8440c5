"""The ported Grafana functions (``grafana_harness``) against Grafana's own test fixtures.

Fixtures: ``grafana_harness/upstream/`` (grafana/grafana testdata, commits in its README) and
the annotation case of ``public/app/plugins/datasource/influxdb/response_parser.test.ts``
("When issuing annotationQuery"), restated below with its expectations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from grafana_harness import backend, frontend

UPSTREAM = Path(__file__).parent / "grafana_harness" / "upstream"


def _strip(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Names, fields and values; upstream's typeInfo/meta are Go-side details we do not port."""
    out = []
    for f in frames:
        fields = [
            {k: v for k, v in x.items() if k in ("name", "type", "labels", "config")}
            for x in f["schema"]["fields"]
        ]
        out.append({"name": f["schema"]["name"], "fields": fields, "values": f["data"]["values"]})
    return out


@pytest.mark.parametrize("result_format", ["time_series", "table"])
def test_buffered_parser_matches_upstreams_golden_frames(result_format: str) -> None:
    """pkg/tsdb/influxdb/influxql/testdata/multiple_measurements.{json,*.golden.jsonc}."""
    body = (UPSTREAM / "multiple_measurements.json").read_bytes()
    golden = json.loads(
        (UPSTREAM / f"multiple_measurements.{result_format}.golden.json").read_text()
    )
    got = backend.parse(
        body, 200, backend.BackendQuery("Test raw query", result_format=result_format)
    )
    assert got.error is None
    assert _strip(got.frames) == _strip(golden["frames"])


def test_annotation_parser_on_upstreams_fixture() -> None:
    """response_parser.test.ts, "When issuing annotationQuery": 4 string frames, textColumn
    'textColumn', tagsColumn 'host,path'; 2 events with upstream's titles, texts and tags."""

    def frame(name: str, values: list[str]) -> dict[str, Any]:
        return {
            "schema": {
                "name": name,
                "fields": [{"name": "time", "type": "time"}, {"name": "value", "type": "string"}],
            },
            "data": {"values": [[1645208701000, 1645208702000], values]},
        }

    frames = [
        frame("logs.host", ["cbfa07e0e3bb 1", "cbfa07e0e3bb 2"]),
        frame(
            "logs.message",
            [
                "Station softwareupdated[447]: Adding client 1",
                "Station softwareupdated[447]: Adding client 2",
            ],
        ),
        frame("logs.path", ["/var/log/host/install.log 1", "/var/log/host/install.log 2"]),
        frame("textColumn", ["text 1", "text 2"]),
    ]
    events = frontend.transform_annotation_response(
        {"textColumn": "textColumn", "tagsColumn": "host,path"}, frames
    )
    assert [(e.time, e.title, e.text, e.tags) for e in events] == [
        (
            1645208701000,
            "Station softwareupdated[447]: Adding client 1",
            "text 1",
            ["cbfa07e0e3bb 1", "/var/log/host/install.log 1"],
        ),
        (
            1645208702000,
            "Station softwareupdated[447]: Adding client 2",
            "text 2",
            ["cbfa07e0e3bb 2", "/var/log/host/install.log 2"],
        ),
    ]


def test_backend_macros() -> None:
    """models/query.go Build: $timeFilter in ms, $__interval via gtime.FormatInterval."""
    q = backend.BackendQuery(
        "WHERE $timeFilter GROUP BY time($__interval) -- $__interval_ms", interval_ms=60_000
    )
    assert backend.build(q, 1000, 2000) == (
        "WHERE time >= 1000ms and time <= 2000ms GROUP BY time(1m) -- 60000"
    )
