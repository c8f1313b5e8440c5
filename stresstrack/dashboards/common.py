"""Pieces shared by the dashboards: variables, filters, session annotations, panel defaults.

Every query follows docs/schema.md (the contract with the InfluxDB sink): measurements,
tags ``study``/``participant``/``device`` and field names with units.
"""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from stresstrack.dashboards.influxql import (
    DATASOURCE,
    InfluxAnnotationTarget,
    InfluxQueryBuilder,
)

__all__ = [
    "DEFAULT_RANGE",
    "ID_REGEX",
    "PARTICIPANT",
    "REFRESH",
    "SELF_CARE_KIND",
    "SESSION_END",
    "STUDY",
    "UID_PREFIX",
    "finish",
    "participant_variable",
    "query",
    "session_annotations",
    "study_variable",
    "timeseries_panel",
    "where",
]

UID_PREFIX: Final = "stresstrack-"
REFRESH: Final = "10s"  # live studies: the sink ships within a few seconds
DEFAULT_RANGE: Final = ("now-1h", "now")
SELF_CARE_KIND: Final = "self-care"  # the session kind of the protocols' self-care phases

# Tag filters. ``=~ /^($name)$/`` matches one value, and several joined with | (Grafana's
# multi-value and "All" interpolation for InfluxQL), which ``= '$name'`` cannot.
STUDY: Final = '"study" =~ /^($study)$/'
PARTICIPANT: Final = '"participant" =~ /^($participant)$/'


def where(*conditions: str) -> str:
    """``WHERE a AND b AND $timeFilter``."""
    return "WHERE " + " AND ".join((*conditions, "$timeFilter"))


def query(text: str, ref_id: str = "A", *, alias: str = "$col") -> InfluxQueryBuilder:
    """A raw InfluxQL target; the alias names the series (Grafana's default would be
    ``measurement.column``, which no override or transformation here expects)."""
    return InfluxQueryBuilder(text).ref_id(ref_id).alias(alias)


# Pseudonymous IDs: letters, digits, "-", "_" and "." (docs/schema.md). The variables only
# offer values that match, and refuse typed-in values (``allowCustomValue: false``): no free
# text reaches an InfluxQL query through a variable.
ID_REGEX: Final = "/^[A-Za-z0-9][A-Za-z0-9._-]*$/"


def study_variable(*, include_all: bool) -> db.QueryVariable:
    v = (
        db.QueryVariable("study")
        .label("Study")
        .datasource(DATASOURCE)
        .query('SHOW TAG VALUES WITH KEY = "study"')
        .regex(ID_REGEX)
        .allow_custom_value(False)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
    )
    if include_all:
        v = v.include_all(True).all_value(".*")
    return v


def participant_variable(*, multi: bool = False) -> db.QueryVariable:
    return (
        db.QueryVariable("participant")
        .label("Participant")
        .datasource(DATASOURCE)
        .query(f'SHOW TAG VALUES WITH KEY = "participant" WHERE {STUDY}')
        .regex(ID_REGEX)
        .allow_custom_value(False)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.NATURAL_ASC)
        .multi(multi)
    )


# Grafana's InfluxQL annotations (public/app/plugins/datasource/influxdb/response_parser.ts,
# transformAnnotationResponse): the backend names each column "<measurement>.<column>", the
# end column is matched by that exact name, and a row with a null in any column is dropped.
# So each query selects only columns every row has, and open sessions (no end_ms) get
# "now" (${__to}) as their end from a query of their own.
SESSION_END: Final = "session.end_ms"


def session_annotations(*filters: str) -> list[cogbuilder.Builder[dm.AnnotationQuery]]:
    """Sessions as region annotations: self-care (green), other kinds (blue), open (orange).

    One ``session`` point per session at its start, ``end_ms`` and ``open = 0`` once closed
    (docs/schema.md): closed sessions span start to end, open ones start to now.
    """
    self_care = f"\"kind\" = '{SELF_CARE_KIND}'"
    other = f"\"kind\" != '{SELF_CARE_KIND}'"
    closed, is_open = '"open" = 0', '"open" = 1'
    specs = (
        (
            "Self-care sessions",
            "green",
            f'SELECT "end_ms", "kind", "mode", "label" FROM "session" '
            f"{where(*filters, self_care, closed)}",
            "kind,mode",
            "label",
        ),
        (
            "Other sessions",
            "blue",
            f'SELECT "end_ms", "kind" FROM "session" {where(*filters, other, closed)}',
            "",
            "kind",
        ),
        (
            "Open sessions",
            "orange",
            'SELECT "open" * 0 + ${__to} AS "end_ms", "kind" FROM "session" '
            + where(*filters, is_open),
            "",
            "kind",
        ),
    )
    out: list[cogbuilder.Builder[dm.AnnotationQuery]] = []
    for name, color, text, tags, text_column in specs:
        target = InfluxAnnotationTarget(
            text, time_end_column=SESSION_END, tags_column=tags, text_column=text_column
        )
        out.append(
            db.AnnotationQuery()
            .name(name)
            .datasource(DATASOURCE)
            .enable(True)
            .icon_color(color)
            .target(_Built(target))
        )
    return out


class _Built(cogbuilder.Builder[dm.AnnotationTarget]):
    """A builder for an already built target (the SDK's ``target()`` takes a builder)."""

    def __init__(self, target: dm.AnnotationTarget) -> None:
        self._target = target

    def build(self) -> dm.AnnotationTarget:
        return self._target


def timeseries_panel(title: str, unit: str, *, description: str = "") -> timeseries.Panel:
    """A time series panel with the defaults of our curves (lines, no fill, legend below)."""
    p = (
        timeseries.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .unit(unit)
        .line_width(1)
        .fill_opacity(0)
        .span_nulls(False)
        .legend(
            cb.VizLegendOptions()
            .show_legend(True)
            .display_mode(cm.LegendDisplayMode.LIST)
            .placement(cm.LegendPlacement.BOTTOM)
        )
        .height(8)
        .span(12)
    )
    return p.description(description) if description else p


def finish(board: dm.Dashboard) -> dm.Dashboard:
    """Number the panels in order (stable JSON, and ids for panel links and filters)."""
    next_id = 1
    for panel in board.panels or []:
        panel.id_val = next_id
        next_id += 1
        if isinstance(panel, dm.RowPanel):
            for inner in panel.panels:
                inner.id_val = next_id
                next_id += 1
    return board
