"""Grafana 11.6's InfluxDB plugin in the browser, ported: variable interpolation, annotations.

From ``public/app/plugins/datasource/influxdb`` (grafana/grafana, 11.6 line, backend mode:
``influxdbBackendMigration`` is on and the datasource is ``proxy``): ``datasource.ts``
(``interpolateQueryExpr``, ``toMetricFindValue``) and ``response_parser.ts``
(``transformAnnotationResponse``, ``getTable``). Each docstring names its function.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Annotation",
    "Variable",
    "escape_regex",
    "interpolate_query_expr",
    "replace",
    "to_metric_find_values",
    "transform_annotation_response",
]

Frame = dict[str, Any]


@dataclass(frozen=True)
class Variable:
    """A dashboard variable's selection as templateSrv sees it."""

    name: str
    value: str | Sequence[str]
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None  # a custom "All" value, used as it is
    is_all: bool = False


_SPECIALS = re.compile(r"[\\^$*+?.()|\[\]{}/]")


def escape_regex(value: str) -> str:
    """``escapeRegex`` (``packages/grafana-data/src/text/string.ts``)."""
    return _SPECIALS.sub(lambda m: "\\" + m.group(0), value)


def _parse_float_ok(value: str) -> bool:
    """JavaScript ``!isNaN(parseFloat(value))``: a numeric *prefix* is enough."""
    m = re.match(r"\s*[+-]?(Infinity|\d+\.?\d*(e[+-]?\d+)?|\.\d+(e[+-]?\d+)?)", value, re.I)
    return m is not None


_REGEX_IN_QUERY = re.compile(
    r"(\s*(=|!)~\s*)\/((?![*+?])(?:[^\r\n\[/\\]|\\.|\[(?:[^\r\n\]\\]|\\.)*\])+)\/"
    r"((?:g(?:im?|mi?)?|i(?:gm?|mg?)?|m(?:gi?|ig?)?)?)"
)


def interpolate_query_expr(value: str | Sequence[str], variable: Variable, query: str) -> str:
    """``InfluxDatasource.interpolateQueryExpr`` (``datasource.ts``, 11.6).

    A value that *starts* with a number goes in unescaped, whatever follows it:

    >>> interpolate_query_expr('1; DROP MEASUREMENT "x"', Variable("t", ""), "time > ${t}ms")
    '1; DROP MEASUREMENT "x"'
    >>> interpolate_query_expr(["a.b", "c"], Variable("p", "", multi=True), "=~ /^$p$/")
    '(a\\\\.b|c)'
    """
    if isinstance(value, str) and _parse_float_ok(value):
        return value
    if variable.multi:
        if isinstance(value, str):
            return escape_regex(value)
        return "(" + "|".join(escape_regex(v) for v in value) + ")"
    in_regex = re.compile(r"\/(?:\^)?(.*)(\$" + re.escape(variable.name) + r")(.*)(?:\$)?\/")
    for m in _REGEX_IN_QUERY.finditer(query):
        if in_regex.search(m.group(0)):
            if isinstance(value, str):
                return escape_regex(value)
            return "(" + "|".join(escape_regex(v) for v in value) + ")"
    return value if isinstance(value, str) else ",".join(value)


_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}"
)


def replace(text: str, variables: Mapping[str, Variable], builtins: Mapping[str, str]) -> str:
    """``TemplateSrv.replace`` with the datasource's ``interpolateQueryExpr`` as format.

    ``builtins`` are Grafana's own variables (``__from``, ``__to``...), which go in as they
    are; a custom "All" value is not formatted; an unknown ``$name`` stays (the backend then
    replaces ``$timeFilter``/``$__interval``, :func:`backend.build`).
    """

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        if name in builtins:
            return builtins[name]
        var = variables.get(name)
        if var is None:
            return m.group(0)
        if var.is_all and var.all_value is not None:
            return var.all_value
        return interpolate_query_expr(var.value, var, text)

    return _VARIABLE.sub(sub, text)


def to_metric_find_values(frames: Sequence[Frame]) -> list[str]:
    """``toMetricFindValue`` (``datasource.ts``): a variable's options from its frames."""
    out: dict[str, None] = {}
    for frame in frames:
        fields = frame["schema"]["fields"]
        values = frame["data"]["values"]
        if not values or not values[0]:
            continue
        idx = next((i for i, f in enumerate(fields) if f["type"] == "string"), None)
        if idx is None:
            idx = next((i for i, f in enumerate(fields) if f["type"] != "time"), None)
        if idx is not None:
            for v in values[idx]:
                out[_js_string(v)] = None
    return list(out)


def _js_string(v: Any) -> str:
    """JavaScript's ``String(v)`` for the values a frame holds."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and math.isfinite(v) and v == int(v):
        return str(int(v))
    return "null" if v is None else str(v)


@dataclass(frozen=True)
class Annotation:
    """An ``AnnotationEvent`` as the InfluxDB plugin builds it."""

    time: float
    time_end: Any
    title: Any
    text: Any
    tags: list[str]

    @property
    def is_region(self) -> bool:
        """Grafana draws a region when the end is a number after the start."""
        return isinstance(self.time_end, int | float) and self.time_end > self.time


def _get_table(frames: Sequence[Frame]) -> tuple[list[str], list[list[Any]]]:
    """``getTable``/``getTableCols``/``getTableRows`` (``response_parser.ts``) for an
    annotation target (refId ``metricFindQuery``, no ``select``)."""
    if not frames:
        return [], []
    first = frames[0]["schema"]["fields"]
    columns: list[str] = []
    for f in first:
        if f["name"].lower() == "time":
            columns.append("Time")
        elif f["name"].lower() == "value" and f.get("labels"):
            columns += list(f["labels"])
    columns += [fr["schema"]["name"] for fr in frames if fr["schema"].get("name")]
    rows: list[list[Any]] = []

    def add_rows(group: Sequence[Frame], labels: list[str]) -> None:
        times = group[0]["data"]["values"][0]
        for i, t in enumerate(times):
            metrics = [
                fr["data"]["values"][1][i] if len(fr["data"]["values"]) > 1 else None
                for fr in group
            ]
            if None not in metrics:  # a null in any column drops the row
                rows.append([t, *labels, *metrics])

    if len(first) > 1 and first[1].get("labels"):
        groups: dict[str, list[Frame]] = {}
        for fr in frames:
            key = ",".join(fr["schema"]["fields"][1].get("labels", {}).values())
            groups.setdefault(key, []).append(fr)
        for key, group in groups.items():
            add_rows(group, key.split(","))
    else:
        add_rows(frames, [])
    return columns, rows


def transform_annotation_response(
    annotation: Mapping[str, Any], frames: Sequence[Frame]
) -> list[Annotation]:
    """``ResponseParser.transformAnnotationResponse`` (``response_parser.ts``, 11.6)."""
    columns, rows = _get_table(frames)
    title = time_col = time_end = text = 0
    tags_cols: list[int] = []
    tags_column = str(annotation.get("tagsColumn") or "").replace(" ", "", 1).split(",")
    text_column = annotation.get("textColumn") or ""
    for index, column in enumerate(columns):
        if column.lower() == "time":
            time_col = index
            continue
        if column == annotation.get("titleColumn"):
            title = index
            continue
        if any(tag != "" and tag in column for tag in tags_column):
            tags_cols.append(index)
            continue
        if text_column and text_column in column:
            text = index
            continue
        if column == annotation.get("timeEndColumn"):
            time_end = index
            continue
        if not title and text != index:  # legacy case
            title = index
    out = []
    for value in rows:
        tags = [t for i in tags_cols if value[i] for t in str(value[i]).split(",")]
        out.append(
            Annotation(float(value[time_col]), value[time_end], value[title], value[text], tags)
        )
    return out
