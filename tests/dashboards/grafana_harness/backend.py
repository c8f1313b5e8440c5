"""Grafana 11.6's InfluxQL backend, ported: macros, the request to InfluxDB, answer -> frames.

What the Grafana server does with a raw InfluxQL target before the browser sees anything
(``pkg/tsdb/influxdb``, grafana/grafana, 11.6 line; the buffered parser, the default: the
streaming parser is behind the ``influxqlStreamingParser`` feature flag, ``influxql.go``).
Frames are returned in Grafana's data-frame JSON form (``schema``/``data``), the form the
browser receives and ``@grafana/data``'s ``dataFrameFromJSON`` reads.

Ported functions keep upstream's logic and names (snake_case); each docstring names its file.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BackendQuery",
    "DataResponse",
    "build",
    "execute",
    "format_frame_name",
    "format_interval",
    "parse",
]

Frame = dict[str, Any]


@dataclass(frozen=True)
class BackendQuery:
    """The fields of ``models.Query`` (``pkg/tsdb/influxdb/models/model.go``) a raw query uses."""

    raw_query: str
    ref_id: str = "A"
    result_format: str = "time_series"  # models.QueryParse's default
    alias: str = ""
    interval_ms: int = 10_000


@dataclass
class DataResponse:
    """``backend.DataResponse``: frames, or the error Grafana shows on the panel."""

    frames: list[Frame] = field(default_factory=list)
    error: str | None = None


def format_interval(ms: int) -> str:
    """``gtime.FormatInterval`` (grafana-plugin-sdk-go ``backend/gtime/gtime.go``)."""
    for unit, size in (("y", 31_536_000_000), ("w", 604_800_000), ("d", 86_400_000)):
        if ms >= size:
            return f"{ms // size}{unit}"
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def build(query: BackendQuery, from_ms: int, to_ms: int) -> str:
    """``Query.Build`` for a raw query (``pkg/tsdb/influxdb/models/query.go``, 11.6)."""
    interval_text = format_interval(query.interval_ms)
    res = query.raw_query
    res = res.replace("$timeFilter", f"time >= {from_ms}ms and time <= {to_ms}ms")
    res = res.replace("$interval", interval_text)
    res = res.replace("$__interval_ms", str(query.interval_ms))
    return res.replace("$__interval", interval_text)


def execute(
    url: str, db: str, auth: tuple[str, str], raw: str, query: BackendQuery
) -> DataResponse:
    """``createRequest`` + ``execute`` (``pkg/tsdb/influxdb/influxql/influxql.go``): GET /query
    with ``db``, ``epoch=ms`` and ``q``, then :func:`parse`."""
    params = {"db": db, "epoch": "ms", "q": raw, "u": auth[0], "p": auth[1]}
    req = urllib.request.Request(f"{url}/query?{urllib.parse.urlencode(params)}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return parse(r.read(), int(r.status), query)
    except urllib.error.HTTPError as e:
        return parse(e.read(), e.code, query)


def parse(body: bytes, status: int, query: BackendQuery) -> DataResponse:
    """``parse`` (``pkg/tsdb/influxdb/influxql/buffered/response_parser.go``, 11.6)."""
    try:
        response: dict[str, Any] = json.loads(body)
        json_err = None
    except ValueError as e:
        response, json_err = {}, str(e)
    if status // 100 != 2:
        return DataResponse(error=f"InfluxDB returned error: {response.get('error', '')}")
    if json_err is not None:
        return DataResponse(error=json_err)
    if response.get("error"):
        return DataResponse(error=str(response["error"]))
    result = response["results"][0]
    if result.get("error"):
        return DataResponse(error=str(result["error"]))
    rows = result.get("series", [])
    if query.result_format == "table":
        return DataResponse(frames=_transform_rows_for_table(rows, query))
    return DataResponse(frames=_transform_rows_for_time_series(rows, query))


def _typeof(values: list[list[Any]], col: int) -> str:
    """``util.Typeof`` (``pkg/tsdb/influxdb/influxql/util/util.go``): first non-null's type."""
    for value in values:
        if value is not None and value[col] is not None:
            v = value[col]
            if isinstance(v, bool):
                return "bool"
            return "string" if isinstance(v, str) else "number"
    return "null"


def _field(
    name: str,
    kind: str,
    values: list[Any],
    labels: dict[str, str] | None = None,
    display: str | None = None,
) -> tuple[dict[str, Any], list[Any]]:
    f: dict[str, Any] = {"name": name, "type": kind}
    if labels:
        f["labels"] = dict(labels)
    if display is not None:
        f["config"] = {"displayNameFromDS": display}
    return f, values


def _frame(name: str, fields: list[tuple[dict[str, Any], list[Any]]], ref_id: str) -> Frame:
    return {
        "schema": {"name": name, "refId": ref_id, "fields": [f for f, _ in fields]},
        "data": {"values": [v for _, v in fields]},
    }


_KIND = {"string": "string", "number": "number", "bool": "boolean", "null": "number"}


def _cell(v: Any, kind: str) -> Any:
    """A value of a column of type ``kind``; the wrong type becomes null, as in Go."""
    if v is None:
        return None
    if kind == "string":
        return v if isinstance(v, str) else None
    if kind == "bool":
        return v if isinstance(v, bool) else None
    if kind == "number":
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
    return None


def _transform_rows_for_table(rows: list[dict[str, Any]], query: BackendQuery) -> list[Frame]:
    """``transformRowsForTable`` + ``newTimeField``/``newTagField``/``newValueFields``."""
    if not rows:
        return []
    first = rows[0]
    columns: list[str] = first["columns"]
    fields: list[tuple[dict[str, Any], list[Any]]] = []
    if columns[0] == "time":
        times = [v[0] for r in rows for v in r["values"] if isinstance(v[0], int)]
        fields.append(_field("Time", "time", times))
    else:
        fields += _value_fields(rows, 0, 1)
    for key in first.get("tags", {}):  # Go map order: unspecified; ours: the answer's
        tag_values = [r.get("tags", {}).get(key, "") for r in rows for _ in r["values"]]
        fields.append(_field(key, "string", tag_values, display=key))
    fields += _value_fields(rows, 1, len(columns))
    return [_frame(first.get("name", ""), fields, query.ref_id)]


def _value_fields(
    rows: list[dict[str, Any]], start: int, end: int
) -> list[tuple[dict[str, Any], list[Any]]]:
    """``newValueFields``: one field per column over all rows; its type from the first row
    with a non-null value in the column (the last row's decides in Go; ours agree on our
    answers, whose series have one type per field)."""
    out = []
    for col in range(start, end):
        kind = "null"
        for r in rows:
            k = _typeof(r["values"], col)
            if k != "null":
                kind = k
        values = [_cell(v[col], kind) for r in rows for v in r["values"]]
        name = rows[-1]["columns"][col]
        out.append(_field(name, _KIND[kind], values, display=name))
    return out


def _transform_rows_for_time_series(rows: list[dict[str, Any]], query: BackendQuery) -> list[Frame]:
    """``transformRowsForTimeSeries``: one frame per (series, non-time column)."""
    frames: list[Frame] = []
    for row in rows:
        columns: list[str] = row["columns"]
        if not any(c.lower() == "time" for c in columns):
            frames.append(_frame_without_time_field(row, query))
            continue
        for i, column in enumerate(columns):
            if column == "time":
                continue
            frames.append(_frame_with_time_field(row, column, i, query))
    return frames


def _frame_with_time_field(row: dict[str, Any], column: str, i: int, query: BackendQuery) -> Frame:
    """``newFrameWithTimeField``: Time and Value (labelled with the series' tags)."""
    kind = _typeof(row["values"], i)
    times, values = [], []
    for v in row["values"]:
        if not isinstance(v[0], int):  # ParseTimestamp failed: the row is skipped
            continue
        times.append(v[0])
        values.append(_cell(v[i], kind))
    tags = row.get("tags") or {}
    name = format_frame_name(row.get("name", ""), column, tags, query)
    return _frame(
        name,
        [_field("Time", "time", times), _field("Value", _KIND[kind], values, tags, display=name)],
        query.ref_id,
    )


def _frame_without_time_field(row: dict[str, Any], query: BackendQuery) -> Frame:
    """``newFrameWithoutTimeField``: SHOW queries; the value column as strings."""
    raw = query.raw_query.lower()
    values: list[str] = []
    for v in row["values"]:
        if "cardinality" in raw:
            values.append(_str(v[0]))
        elif "show tag values" in raw:
            if len(v) >= 2:
                values.append(_str(v[1]))
        elif "show diagnostics" in raw:
            values += [_str(x) for x in v]
        elif len(v) >= 1:
            values.append(_str(v[0]))
    return _frame(row.get("name", ""), [_field("Value", "string", values)], query.ref_id)


def _str(v: Any) -> str:
    """``util.ParseString``: Go's ``%v`` of a JSON value."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return "<nil>" if v is None else str(v)


_LEGEND = re.compile(r"\$(\w+)|\[\[([\s\S]+?)\]\]")


def format_frame_name(row_name: str, column: str, tags: dict[str, str], query: BackendQuery) -> str:
    """``FormatFrameName``/``BuildFrameNameFromQuery`` (``influxql/util/util.go``, 11.6).

    >>> format_frame_name("cpu", "mean", {"host": "a"}, BackendQuery("q"))
    'cpu.mean { host: a }'
    >>> format_frame_name("cpu", "mean", {"host": "a"}, BackendQuery("q", alias="$tag_host $col"))
    'a mean'
    """
    if not query.alias:
        name = column if query.result_format == "table" else f"{row_name}.{column}"
        if not tags:
            return name
        return name + " { " + ", ".join(f"{k}: {v}" for k, v in tags.items()) + " }"
    segments = row_name.split(".")

    def sub(m: re.Match[str]) -> str:
        fmt = m.group(0).replace("[[", "", 1).replace("]]", "", 1).replace("$", "", 1)
        if fmt in ("m", "measurement"):
            return row_name
        if fmt == "col":
            return column
        if fmt == "__interval":
            return format_interval(query.interval_ms)
        if fmt == "__interval_ms":
            return str(query.interval_ms)
        if fmt.isdigit() and len(segments) > int(fmt):
            return segments[int(fmt)]
        if not fmt.startswith("tag_"):
            return m.group(0)
        key = fmt.replace("tag_", "", 1)
        return tags[key] if key in tags else m.group(0)

    return _LEGEND.sub(sub, query.alias)
