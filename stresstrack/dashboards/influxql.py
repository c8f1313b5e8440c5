"""A typed InfluxQL query for grafana-foundation-sdk, and Grafana's InfluxQL interpolation.

The SDK ships no InfluxDB query type, so :class:`InfluxQuery` implements its ``Dataquery``
protocol (``to_json``/``from_json``, registered for the ``influxdb`` datasource type) and
:class:`InfluxQueryBuilder` its ``Builder`` protocol, as the SDK's "custom query type" guide
does. A raw InfluxQL target serialises as Grafana's InfluxDB plugin stores it
(``public/app/plugins/datasource/influxdb/types.ts``, ``InfluxQuery``)::

    {"refId": "A", "datasource": {...}, "query": "SELECT ...", "rawQuery": true,
     "resultFormat": "time_series"}

InfluxQL rather than Flux or SQL: it is the one language InfluxDB 1.x, 2.x (buckets are
queryable through DBRP mappings, created automatically since 2.4) and 3.x all answer.

:func:`interpolate` substitutes what Grafana substitutes before a query reaches InfluxDB
(``$timeFilter``, ``$__interval``, ``$variable``), with the escaping of Grafana's InfluxDB
datasource (``datasource.ts``: ``interpolateQueryExpr``), so tests can run every panel query.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

__all__ = [
    "DATASOURCE",
    "DATASOURCE_TYPE",
    "DATASOURCE_UID",
    "InfluxAnnotationTarget",
    "InfluxQuery",
    "InfluxQueryBuilder",
    "ResultFormat",
    "TimeRange",
    "interpolate",
    "regex_escape",
    "register",
]

DATASOURCE_TYPE: Final = "influxdb"  # Grafana's core InfluxDB plugin ID
DATASOURCE_UID: Final = "stresstrack-influxdb"  # the provisioned datasource (provisioning.py)
DATASOURCE: Final = dashboard.DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)


class ResultFormat(enum.StrEnum):
    """How Grafana shapes the answer: one frame per series, or one table."""

    TIME_SERIES = "time_series"
    TABLE = "table"


@dataclass(eq=True)
class InfluxQuery(cogvariants.Dataquery):
    """A raw InfluxQL target of a panel."""

    query: str = ""
    ref_id: str = "A"
    result_format: ResultFormat = ResultFormat.TIME_SERIES
    alias: str | None = None  # legend: Grafana replaces $tag_<key> and $col
    datasource: dashboard.DataSourceRef | None = None
    hide: bool | None = None

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "query": self.query,
            "rawQuery": True,
            "resultFormat": str(self.result_format),
        }
        if self.alias is not None:
            payload["alias"] = self.alias
        if self.datasource is not None:
            payload["datasource"] = self.datasource
        if self.hide is not None:
            payload["hide"] = self.hide
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        if data.get("rawQuery") is not True or not isinstance(data.get("query"), str):
            raise ValueError(f"not a raw InfluxQL target: {sorted(data)}")
        ds = data.get("datasource")
        return cls(
            query=data["query"],
            ref_id=str(data.get("refId", "")),
            result_format=ResultFormat(data.get("resultFormat", ResultFormat.TIME_SERIES)),
            alias=data.get("alias"),
            datasource=dashboard.DataSourceRef.from_json(ds) if ds is not None else None,
            hide=data.get("hide"),
        )


class InfluxQueryBuilder(cogbuilder.Builder[InfluxQuery]):
    """Builds an :class:`InfluxQuery`; the datasource defaults to the provisioned one."""

    _internal: InfluxQuery

    def __init__(self, query: str) -> None:
        self._internal = InfluxQuery(query=query, datasource=DATASOURCE)

    def build(self) -> InfluxQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def table(self) -> Self:
        self._internal.result_format = ResultFormat.TABLE
        return self

    def alias(self, alias: str) -> Self:
        self._internal.alias = alias
        return self

    def datasource(self, datasource: dashboard.DataSourceRef) -> Self:
        self._internal.datasource = datasource
        return self

    def hide(self, hide: bool) -> Self:
        self._internal.hide = hide
        return self


class InfluxAnnotationTarget(dashboard.AnnotationTarget):
    """The target of an InfluxQL annotation, as the plugin's AnnotationEditor stores it.

    The SDK's ``AnnotationTarget`` only knows the built-in Grafana annotations' fields; an
    InfluxQL annotation carries its query and the columns mapped to the event's text, tags and
    end time (``timeEndColumn``: a region annotation).
    """

    def __init__(
        self,
        query: str,
        *,
        time_end_column: str = "",
        tags_column: str = "",
        text_column: str = "",
        ref_id: str = "Anno",
    ) -> None:
        super().__init__()
        self.query = query
        self.time_end_column = time_end_column
        self.tags_column = tags_column
        self.text_column = text_column
        self.ref_id = ref_id

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.ref_id,
            "query": self.query,
            "rawQuery": True,
            "fromAnnotations": True,  # what the plugin's AnnotationEditor sets
            "textEditor": True,
            "timeEndColumn": self.time_end_column,
            "tagsColumn": self.tags_column,
            "textColumn": self.text_column,
        }


def register() -> None:
    """Let the SDK decode ``influxdb`` targets into :class:`InfluxQuery` (``from_json``)."""
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier=DATASOURCE_TYPE, from_json_hook=InfluxQuery.from_json)
    )


# -- Grafana's interpolation ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TimeRange:
    """A dashboard time range, Unix milliseconds, both ends included (as Grafana sends it)."""

    from_ms: int
    to_ms: int

    @property
    def time_filter(self) -> str:
        # datasource.ts getTimeFilter: 'time >= ' + from + ' and time <= ' + until
        return f"time >= {self.from_ms}ms and time <= {self.to_ms}ms"


# Grafana's escapeRegex (packages/grafana-data/src/text/string.ts): the RegExp specials.
_REGEX_SPECIALS: Final = re.compile(r"[\\^$*+?.()|\[\]{}/]")
_VARIABLE: Final = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def regex_escape(value: str) -> str:
    """Escape ``value`` as Grafana does for a single-valued variable in an InfluxQL query."""
    try:
        float(value)  # influxRegularEscape leaves numbers as they are
        return value
    except ValueError:
        return _REGEX_SPECIALS.sub(lambda m: "\\" + m.group(0), value)


def interpolate(
    query: str,
    time_range: TimeRange,
    *,
    interval: str = "10s",
    variables: Mapping[str, str | Sequence[str]] | None = None,
    raw: Mapping[str, str] | None = None,
) -> str:
    """The InfluxQL Grafana sends for ``query``: macros and ``$variables`` replaced.

    A single value is regex-escaped; several values (a multi-value or "All" selection) are
    escaped and joined with ``|``, so write ``=~ /^($name)$/``. ``raw`` values go in as they
    are, as a variable's custom "All" value does (``.*``). An unknown ``$name`` is left as it
    is, as Grafana does, so InfluxDB reports it.
    """
    values: dict[str, str] = {
        "timeFilter": time_range.time_filter,
        "__interval": interval,
        "interval": interval,
        "__interval_ms": str(_duration_ms(interval)),
        "__from": str(time_range.from_ms),
        "__to": str(time_range.to_ms),
    }
    for name, value in (variables or {}).items():
        if isinstance(value, str):
            values[name] = regex_escape(value)
        else:
            values[name] = "|".join(regex_escape(v) for v in value)
    values.update(raw or {})

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return values.get(name, m.group(0))

    return _VARIABLE.sub(sub, query)


_UNITS_MS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def _duration_ms(text: str) -> int:
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text)
    if m is None:
        raise ValueError(f"not a Grafana interval: {text!r} (e.g. 10s, 1m)")
    return int(m.group(1)) * _UNITS_MS[m.group(2)]
