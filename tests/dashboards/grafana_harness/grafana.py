"""What Grafana 11.6 shows for a dashboard: every variable, panel and annotation query run on a
real influxd, turned into frames, display names, transformed values and annotation events.

The pieces: the browser's template interpolation and annotation parsing (:mod:`frontend`), the
server's macros, request and answer-to-frames conversion (:mod:`backend`), and Grafana's own
``@grafana/data`` package run by Node (``tests/dashboards/grafana_node/harness.cjs``: field
display names, the panel transformations, the override matchers, a field's display text).

Not modelled: the auto interval (``$__interval`` is the panel's minimum interval or 10 s, what
Grafana picks for a few hours on a ~1000 px panel), panel rendering itself.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grafana_harness import backend, frontend

__all__ = ["NODE_DIR", "Dashboard", "PanelResult", "node_available", "render"]

NODE_DIR = Path(__file__).resolve().parent.parent / "grafana_node"
_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def node_available() -> bool:
    return shutil.which("node") is not None and (NODE_DIR / "node_modules/@grafana/data").is_dir()


def _ms(text: str) -> int:
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text)
    if m is None:
        raise ValueError(f"not an interval: {text!r}")
    return int(m.group(1)) * _UNITS_MS[m.group(2)]


@dataclass
class PanelResult:
    title: str
    errors: list[str]
    frames: list[dict[str, Any]]  # after transformations, from @grafana/data
    overrides: list[tuple[str, bool]]  # (matcher option, matches a field)
    display: list[str | None] = field(default_factory=list)

    def display_names(self) -> list[str]:
        return [f["displayName"] for fr in self.frames for f in fr["fields"] if f["type"] != "time"]

    def value(self, display_name: str) -> Any:
        found = [
            f["values"]
            for fr in self.frames
            for f in fr["fields"]
            if f["displayName"] == display_name
        ]
        assert len(found) == 1, f"{self.title}: {display_name!r} in {self.display_names()}"
        (values,) = found
        assert len(values) == 1, values
        return values[0]


@dataclass
class Dashboard:
    """One dashboard as Grafana shows it for a time range and URL variable values."""

    variables: dict[str, frontend.Variable]
    options: dict[str, list[str]]
    panels: dict[str, PanelResult]
    annotations: dict[str, list[frontend.Annotation]]
    annotation_errors: dict[str, str]
    queries: list[str]  # every InfluxQL text sent to InfluxDB


class _Session:
    def __init__(self, url: str, db: str, auth: tuple[str, str], from_ms: int, to_ms: int) -> None:
        self.url, self.db, self.auth = url, db, auth
        self.from_ms, self.to_ms = from_ms, to_ms
        self.sent: list[str] = []

    def run(
        self,
        text: str,
        variables: Mapping[str, frontend.Variable],
        *,
        ref_id: str = "A",
        result_format: str = "time_series",
        alias: str = "",
        interval_ms: int = 10_000,
    ) -> backend.DataResponse:
        builtins = {"__from": str(self.from_ms), "__to": str(self.to_ms)}
        q = frontend.replace(text, variables, builtins)
        alias = frontend.replace(alias, variables, builtins)
        query = backend.BackendQuery(q, ref_id, result_format, alias, interval_ms)
        raw = backend.build(query, self.from_ms, self.to_ms)
        self.sent.append(raw)
        return backend.execute(self.url, self.db, self.auth, raw, query)


def _panels(board: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for p in board["panels"]:
        if p["type"] != "row":
            yield p
        yield from p.get("panels", [])


def _resolve(
    s: _Session, board: Mapping[str, Any], url: Mapping[str, str]
) -> tuple[dict[str, frontend.Variable], dict[str, list[str]]]:
    """Variables in order, each query run with the ones before it (Grafana's dependency order
    for our dashboards); a URL value not among the options falls back to the first option
    (``allowCustomValue: false``)."""
    variables: dict[str, frontend.Variable] = {}
    options: dict[str, list[str]] = {}
    for v in board["templating"]["list"]:
        name = v["name"]
        if v["type"] == "query":
            resp = s.run(v["query"], variables, ref_id="metricFindQuery")
            if resp.error:
                raise AssertionError(f"variable {name}: {resp.error}")
            values = frontend.to_metric_find_values(resp.frames)
            if v.get("regex"):
                rx = re.compile(v["regex"].strip("/"))
                values = [x for x in values if rx.search(x)]
            if v.get("sort") == 3:  # numerical ascending
                values.sort(key=float)
            elif v.get("sort") == 4:  # numerical descending
                values.sort(key=float, reverse=True)
            elif v.get("sort") in (1, 7):  # alphabetical / natural ascending
                values.sort()
        elif v["type"] == "custom":
            values = [x.strip() for x in v["query"].split(",")]
        else:
            raise AssertionError(f"variable {name}: type {v['type']} (free text) is not allowed")
        options[name] = values
        include_all = bool(v.get("includeAll"))
        wanted = url.get(name)
        is_all = include_all and wanted in (None, "$__all", "All")
        if is_all:
            value: str = "$__all"
        elif wanted is not None and (wanted in values or v.get("allowCustomValue", True)):
            value = wanted
        elif v.get("current", {}).get("value") in values:
            value = v["current"]["value"]
        else:
            value = values[0] if values else ""
        variables[name] = frontend.Variable(
            name, value, bool(v.get("multi")), include_all, v.get("allValue"), is_all
        )
    return variables, options


def render(
    board: Mapping[str, Any],
    *,
    url: str,
    db: str,
    auth: tuple[str, str],
    from_ms: int,
    to_ms: int,
    variables: Mapping[str, str],
) -> Dashboard:
    """Everything Grafana would show for ``board`` over ``[from_ms, to_ms]``."""
    s = _Session(url, db, auth, from_ms, to_ms)
    resolved, options = _resolve(s, board, variables)
    requests: list[dict[str, Any]] = []
    titles: list[str] = []
    errors: dict[str, list[str]] = {}
    for p in _panels(board):
        interval_ms = max(_ms(p["interval"]), 10_000) if p.get("interval") else 10_000
        frames: list[dict[str, Any]] = []
        errs: list[str] = []
        for t in p.get("targets", []):
            if t.get("hide"):
                continue
            r = s.run(
                t["query"],
                resolved,
                ref_id=t["refId"],
                alias=t.get("alias", ""),
                result_format=t.get("resultFormat", "time_series"),
                interval_ms=interval_ms,
            )
            if r.error:
                errs.append(f"{t['refId']}: {r.error}")
            frames += r.frames
        overrides = p.get("fieldConfig", {}).get("overrides", [])
        titles.append(p["title"])
        errors[p["title"]] = errs
        requests.append(
            {
                "frames": frames,
                "transformations": p.get("transformations", []),
                "overrides": [{"matcher": o["matcher"]} for o in overrides],
            }
        )
    out = _node({"panels": requests})
    panels = {}
    for title, req, res in zip(titles, requests, out["panels"], strict=True):
        names = [str(o["matcher"].get("options")) for o in req["overrides"]]
        panels[title] = PanelResult(
            title, errors[title], res["frames"], list(zip(names, res["overrides"], strict=True))
        )
    annotations: dict[str, list[frontend.Annotation]] = {}
    annotation_errors: dict[str, str] = {}
    for a in board.get("annotations", {}).get("list", []):
        target = a.get("target", {})
        if "query" not in target:
            continue
        r = s.run(target["query"], resolved, ref_id="metricFindQuery")
        if r.error:
            annotation_errors[a["name"]] = r.error
            continue
        annotations[a["name"]] = frontend.transform_annotation_response(target, r.frames)
    return Dashboard(resolved, options, panels, annotations, annotation_errors, s.sent)


def display_text(frames: list[dict[str, Any]], field_name: str, unit: str, row: int) -> str | None:
    """What ``${__data.fields.<field_name>}`` puts in a data link: the formatted cell."""
    req = {
        "panels": [
            {
                "frames": frames,
                "transformations": [],
                "overrides": [],
                "display": [{"field": field_name, "unit": unit, "row": row}],
            }
        ]
    }
    result: str | None = _node(req)["panels"][0]["display"][0]
    return result


def _node(request: Mapping[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        ["node", str(NODE_DIR / "harness.cjs")],
        input=json.dumps(request).encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"@grafana/data harness failed: {done.stderr.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result
