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
    "PARTICIPANT",
    "REFRESH",
    "SELF_CARE_KIND",
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


def query(text: str, ref_id: str = "A", *, alias: str | None = None) -> InfluxQueryBuilder:
    q = InfluxQueryBuilder(text).ref_id(ref_id)
    return q.alias(alias) if alias is not None else q


def study_variable(*, include_all: bool) -> db.QueryVariable:
    v = (
        db.QueryVariable("study")
        .label("Study")
        .datasource(DATASOURCE)
        .query('SHOW TAG VALUES WITH KEY = "study"')
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
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.NATURAL_ASC)
        .multi(multi)
    )


# "open" is always present: without it an open session (no end_ms, no duration_s yet) would
# have no selected field, and InfluxQL leaves such points out.
SESSION_FIELDS: Final = '"end_ms", "duration_s", "open", "kind", "mode", "label"'


def session_annotations(*filters: str) -> list[cogbuilder.Builder[dm.AnnotationQuery]]:
    """Self-care sessions (green) and the other sessions (blue) as region annotations.

    One ``session`` point per session at its start, ``end_ms`` once closed (docs/schema.md):
    the end becomes the region's end; an open session shows as a point.
    """
    out: list[cogbuilder.Builder[dm.AnnotationQuery]] = []
    for name, color, kind in (
        ("Self-care sessions", "green", f"\"kind\" = '{SELF_CARE_KIND}'"),
        ("Other sessions", "blue", f"\"kind\" != '{SELF_CARE_KIND}'"),
    ):
        text = f'SELECT {SESSION_FIELDS} FROM "session" {where(*filters, kind)}'
        target = InfluxAnnotationTarget(
            text, time_end_column="end_ms", tags_column="kind,mode,label", text_column="label"
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
