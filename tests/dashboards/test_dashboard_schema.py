"""The generated dashboards validate against the grafana-foundation-sdk JSON schema.

The schema (schema/README.md) is used as published except for these relaxations:

- ``AnnotationTarget`` only describes the built-in Grafana annotations; an InfluxQL
  annotation's target (query and column mappings) is accepted in addition, and checked
  strictly against :data:`INFLUX_ANNOTATION_TARGET`. Panel targets are free objects in the
  schema; each is checked strictly against :data:`INFLUX_TARGET`.
- ``DynamicConfigValue.value`` and ``MatcherConfig.options`` are CUE ``_`` (any value), which
  cog renders as ``object``: Grafana stores strings and numbers there (``"unit": "ms"``,
  ``byName`` matchers), so they accept any JSON value.
- ``Threshold.value`` accepts null, as the schema's own description says it does (-Infinity,
  the base step, serialises to null).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from stresstrack.dashboards import build_dashboards
from stresstrack.dashboards.provisioning import dashboard_json

SCHEMA = Path(__file__).parent / "schema" / "dashboard.jsonschema.json"

INFLUX_TARGET: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["refId", "datasource", "query", "rawQuery", "resultFormat"],
    "properties": {
        "refId": {"type": "string", "minLength": 1},
        "datasource": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type", "uid"],
            "properties": {"type": {"const": "influxdb"}, "uid": {"const": "stresstrack-influxdb"}},
        },
        "query": {"type": "string", "pattern": "^(SELECT|SHOW) "},
        "rawQuery": {"const": True},
        "resultFormat": {"enum": ["time_series", "table"]},
        "alias": {"type": "string"},
        "hide": {"type": "boolean"},
    },
}
INFLUX_ANNOTATION_TARGET: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["refId", "query", "rawQuery", "fromAnnotations", "timeEndColumn"],
    "properties": {
        "refId": {"type": "string"},
        "query": {"type": "string", "pattern": "^SELECT .* AND \\$timeFilter$"},
        "rawQuery": {"const": True},
        "fromAnnotations": {"const": True},
        "textEditor": {"const": True},
        "timeEndColumn": {"type": "string"},
        "tagsColumn": {"type": "string"},
        "textColumn": {"type": "string"},
    },
}


def relaxed_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA.read_text("utf-8"))
    d = schema["definitions"]
    d["AnnotationTarget"] = {"anyOf": [d["AnnotationTarget"], INFLUX_ANNOTATION_TARGET]}
    d["DynamicConfigValue"]["properties"]["value"] = {}
    d["MatcherConfig"]["properties"]["options"] = {}
    d["Threshold"]["properties"]["value"] = {"type": ["number", "null"]}
    return schema


def validator() -> jsonschema.Draft7Validator:
    schema = relaxed_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def boards() -> dict[str, dict[str, Any]]:
    return {k: json.loads(dashboard_json(b)) for k, b in build_dashboards().items()}


@pytest.mark.parametrize("name", ["participant", "cohort", "sessions", "days"])
def test_dashboard_validates(name: str) -> None:
    board = boards()[name]
    errors = [f"{list(e.path)}: {e.message}" for e in validator().iter_errors(board)]
    assert errors == []
    targets = [t for p in board["panels"] for t in p.get("targets", [])]
    assert targets
    for t in targets:
        jsonschema.validate(t, INFLUX_TARGET)
    for a in board["annotations"].get("list", []):
        jsonschema.validate(a["target"], INFLUX_ANNOTATION_TARGET)


def test_the_schema_rejects_what_grafana_would() -> None:
    """The validation is not vacuous: broken dashboards fail, at the right place."""
    v = validator()
    board = boards()["participant"]
    cases: list[tuple[str, Any]] = []
    b = copy.deepcopy(board)
    del b["schemaVersion"]
    cases.append(("schemaVersion", b))
    b = copy.deepcopy(board)
    b["panels"][1]["gridPos"]["w"] = 25
    cases.append(("gridPos", b))
    b = copy.deepcopy(board)
    b["templating"]["list"][0]["refresh"] = 5
    cases.append(("refresh", b))
    b = copy.deepcopy(board)
    b["panels"][1]["fieldConfig"]["defaults"]["unknown"] = 1
    cases.append(("unknown", b))
    b = copy.deepcopy(board)
    b["annotations"]["list"][0]["target"] = {"query": "SELECT 1"}
    cases.append(("target", b))
    for what, broken in cases:
        assert not v.is_valid(broken), what
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**board["panels"][1]["targets"][0], "rawQuery": False}, INFLUX_TARGET)
