"""The participant dashboard: one participant's curves, sessions and signal, live.

Stress index with its confidence; self-report answers and lab values (e.g. cortisol) beside
it; HR and RMSSD, skin conductance and the non-specific SCR rate (``ns_scr_per_min``, the
index's SCR component), signal quality, contact, connection and battery; self-care and other
sessions as region annotations.
"""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import statetimeline, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from stresstrack.dashboards.common import (
    DEFAULT_RANGE,
    PARTICIPANT,
    REFRESH,
    STUDY,
    UID_PREFIX,
    finish,
    participant_variable,
    query,
    session_annotations,
    study_variable,
    timeseries_panel,
    where,
)
from stresstrack.dashboards.influxql import DATASOURCE, InfluxQueryBuilder

__all__ = [
    "SCR_FIELD",
    "SCR_RULE",
    "SCR_TITLE",
    "UID",
    "build",
    "endpoint_panels",
    "selfreport_panel",
    "sessions_table",
    "stress_panel",
]

UID: Final = UID_PREFIX + "participant"
HOP: Final = "5s"  # the pipeline's default hop: no point in finer buckets for window results
BY_TIME: Final = "GROUP BY time($__interval) fill(none)"
BY_TIME_DEVICE: Final = 'GROUP BY time($__interval), "device" fill(none)'
W: Final = where(STUDY, PARTICIPANT)

# The SCR rate the stress index (version 2.1) uses; `scr_per_min` (NeuroKit2's relative rule)
# stays in the features measurement but is not the index's component (docs/features.md).
SCR_FIELD: Final = "ns_scr_per_min"
SCR_TITLE: Final = "SCR rate (≥ 0.05 µS)"
SCR_RULE: Final = (
    "Non-specific skin conductance responses per minute: peaks of the cleaned EDA rising "
    "≥ 0.05 µS (absolute rule, Boucsein et al. 2012), field ns_scr_per_min, the stress "
    "index's SCR component; not scr_per_min, NeuroKit2's relative rule (10 % of the "
    "window's largest SCR)"
)

# Colours of the string states (docs/schema.md: heart_rate.contact, device_status.state).
CONTACT_COLORS: Final = {"detected": "green", "not_detected": "red", "unsupported": "text"}
STATE_COLORS: Final = {
    "connected": "green",
    "connecting": "yellow",
    "disconnected": "red",
    "gap": "orange",
    "bad_packet": "purple",
}


def _mean(field: str, label: str) -> str:
    return f'mean("{field}") AS "{label}"'


def _unit(unit: str) -> dm.DynamicConfigValue:
    return dm.DynamicConfigValue(id_val="unit", value=unit)


def _states(colors: dict[str, str]) -> list[dm.ValueMapping]:
    return [
        dm.ValueMap(
            options={
                value: dm.ValueMappingResult(text=value.replace("_", " "), color=color, index=i)
                for i, (value, color) in enumerate(colors.items())
            }
        )
    ]


def _right_axis(unit: str, lo: float, hi: float) -> list[dm.DynamicConfigValue]:
    return [
        dm.DynamicConfigValue(id_val="unit", value=unit),
        dm.DynamicConfigValue(id_val="min", value=lo),
        dm.DynamicConfigValue(id_val="max", value=hi),
        dm.DynamicConfigValue(id_val="custom.axisPlacement", value="right"),
    ]


def stress_panel() -> timeseries.Panel:
    """Stress index (0-100, 50 = own baseline) and confidence (0-1, right axis)."""
    return (
        timeseries_panel(
            "Stress index",
            "none",
            description="0-100, 50 = the participant's own baseline; confidence 0-1 on the "
            "right (docs/stress-index.md)",
        )
        .min(0)
        .max(100)
        .interval(HOP)
        .span(24)
        .with_target(
            query(f'SELECT {_mean("stress_index", "stress index")} FROM "stress" {W} {BY_TIME}')
        )
        .with_target(
            query(
                f'SELECT {_mean("stress_confidence", "confidence")} FROM "stress" {W} {BY_TIME}',
                "B",
            )
        )
        .override_by_name("confidence", _right_axis("percentunit", 0, 1))
    )


# Self-report and lab values (docs/endpoints.md): raw points, one series per item / analyte.
STRESS_LINE: Final = "stress index"
BY_ITEM: Final = 'GROUP BY "item"'
BY_ANALYTE: Final = 'GROUP BY "analyte", "unit"'


def _stress_line(ref_id: str) -> InfluxQueryBuilder:
    return query(f'SELECT {_mean("stress_index", STRESS_LINE)} FROM "stress" {W} {BY_TIME}', ref_id)


def _as_line() -> list[dm.DynamicConfigValue]:
    return [
        dm.DynamicConfigValue(id_val="custom.drawStyle", value=str(cm.GraphDrawStyle.LINE)),
        dm.DynamicConfigValue(id_val="custom.showPoints", value=str(cm.VisibilityMode.NEVER)),
    ]


def selfreport_panel() -> timeseries.Panel:
    """Each answer a point, one series per item, beside the stress index (a line)."""
    return (
        timeseries_panel(
            "Self-report beside the stress index",
            "none",
            description="each answer a point, one series per item on its own scale (VAS 0-100, "
            "SAM 1-9, Likert 1..points); the stress index (0-100, 50 = own baseline) as a line",
        )
        .draw_style(cm.GraphDrawStyle.POINTS)
        .show_points(cm.VisibilityMode.ALWAYS)
        .point_size(8)
        .interval(HOP)
        .with_target(query(f'SELECT "value" FROM "selfreport" {W} {BY_ITEM}', alias="$tag_item"))
        .with_target(_stress_line("B"))
        .override_by_name(STRESS_LINE, _as_line())
    )


def endpoint_panels() -> list[cogbuilder.Builder[dm.Panel]]:
    """Answers per item as points beside the stress index, the answers with their prompts,
    and lab values (e.g. salivary cortisol) beside the stress index (right axis)."""
    answers = selfreport_panel()
    given = (
        table.Panel()
        .align(cm.FieldTextAlignment.AUTO)
        .inspect(False)  # the defaults the SDK fills in on reading
        .title("Self-report answers")
        .description("prompt_id: the prompt answered (empty: unprompted)")
        .datasource(DATASOURCE)
        .with_target(query(f'SELECT "item", "value", "prompt_id" FROM "selfreport" {W}').table())
        .height(8)
        .span(12)
    )
    lab = (
        timeseries_panel(
            "Lab values beside the stress index",
            "none",
            description="each sample at the time it was taken, in its unit (salivary cortisol "
            "peaks 15-20 min after a stressor ends); the stress index on the right",
        )
        .show_points(cm.VisibilityMode.ALWAYS)
        .point_size(6)
        .interval(HOP)
        .with_target(
            query(f'SELECT "value" FROM "lab" {W} {BY_ANALYTE}', alias="$tag_analyte ($tag_unit)")
        )
        .with_target(_stress_line("B"))
        .override_by_name(STRESS_LINE, [*_as_line(), *_right_axis("none", 0, 100)])
    )
    return [answers, given, lab]


def sessions_table(title: str) -> table.Panel:
    """The participant's sessions in the time range, one row each (docs/schema.md)."""
    return (
        table.Panel()
        .align(cm.FieldTextAlignment.AUTO)
        .inspect(False)  # the defaults the SDK fills in on reading
        .title(title)
        .datasource(DATASOURCE)
        .with_target(
            query(
                f'SELECT "end_ms", "duration_s", "open", "kind", "mode", "label" FROM "session" {W}'
            ).table()
        )
        .override_by_name("end_ms", [dm.DynamicConfigValue(id_val="unit", value="dateTimeAsIso")])
        .override_by_name("duration_s", [dm.DynamicConfigValue(id_val="unit", value="s")])
        .height(8)
        .span(12)
    )


def build() -> dm.Dashboard:
    board = (
        db.Dashboard("StressTrack: participant")
        .uid(UID)
        .description(
            "One participant live: stress, self-report and lab values, HRV, EDA, sessions "
            "and signal quality."
        )
        .tags(["stresstrack"])
        .timezone("browser")
        .time(*DEFAULT_RANGE)
        .refresh(REFRESH)
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .with_variable(study_variable(include_all=False))
        .with_variable(participant_variable())
        .annotations(session_annotations(STUDY, PARTICIPANT))
    )
    for row, panels in (
        ("Stress", _stress_panels()),
        ("Self-report and lab values", endpoint_panels()),
        ("Heart", _heart_panels()),
        ("EDA", _eda_panels()),
        ("Signal", _signal_panels()),
    ):
        board = board.with_row(db.Row(row))
        for panel in panels:
            board = board.with_panel(panel)
    return finish(board.build())


def _stress_panels() -> list[cogbuilder.Builder[dm.Panel]]:
    components = ", ".join(
        _mean(f"z_{c}", f"z {c.replace('_', ' ')}") for c in ("hr", "ln_rmssd", "scl", "scr_rate")
    )
    return [
        stress_panel(),
        timeseries_panel(
            "Stress components (z against baseline, + = stress)",
            "none",
            description="z-scores of the stress index's components",
        )
        .interval(HOP)
        .with_target(query(f'SELECT {components} FROM "stress" {W} {BY_TIME}')),
        sessions_table("Sessions"),
    ]


def _heart_panels() -> list[cogbuilder.Builder[dm.Panel]]:
    return [
        timeseries_panel("Heart rate", "suffix: bpm")
        .with_target(query(f'SELECT {_mean("bpm", "reading")} FROM "heart_rate" {W} {BY_TIME}'))
        .with_target(
            query(
                f'SELECT {_mean("mean_hr_bpm", "window mean")} FROM "features" {W} {BY_TIME}',
                "B",
            )
        ),
        timeseries_panel("RMSSD", "ms", description="root mean square of successive RR differences")
        .interval(HOP)
        .with_target(query(f'SELECT {_mean("rmssd_ms", "RMSSD")} FROM "features" {W} {BY_TIME}')),
    ]


def _eda_panels() -> list[cogbuilder.Builder[dm.Panel]]:
    return [
        timeseries_panel(
            "Skin conductance",
            "suffix: µS",
            description="SCL per window; raw samples only when the study replicates them "
            "(--influx-raw)",
        )
        .with_target(query(f'SELECT {_mean("conductance_us", "raw")} FROM "eda" {W} {BY_TIME}'))
        .with_target(query(f'SELECT {_mean("scl_us", "SCL")} FROM "features" {W} {BY_TIME}', "B")),
        timeseries_panel(SCR_TITLE, "suffix: /min", description=SCR_RULE)
        .interval(HOP)
        .with_target(query(f'SELECT {_mean(SCR_FIELD, SCR_TITLE)} FROM "features" {W} {BY_TIME}')),
    ]


def _signal_panels() -> list[cogbuilder.Builder[dm.Panel]]:
    quality = ", ".join(
        _mean(f, f.replace("_", " "))
        for f in ("hrv_coverage", "eda_coverage", "contact_lost_share", "hrv_corrected_share")
    )
    return [
        timeseries_panel("Signal quality", "percentunit", description="shares of each window")
        .min(0)
        .max(1)
        .interval(HOP)
        .with_target(query(f'SELECT {quality} FROM "features" {W} {BY_TIME}')),
        timeseries_panel("Battery", "percent")
        .min(0)
        .max(100)
        .with_target(
            query(
                f'SELECT last("battery_pct") AS "battery" FROM "device_status" {W} '
                f"{BY_TIME_DEVICE}",
                alias="$tag_device",
            )
        ),
        _timeline("Contact", "contact", "heart_rate", CONTACT_COLORS),
        _timeline("Connection", "state", "device_status", STATE_COLORS),
    ]


def _timeline(
    title: str, field: str, measurement: str, colors: dict[str, str]
) -> statetimeline.Panel:
    return (
        statetimeline.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .show_value(cm.VisibilityMode.NEVER)
        .merge_values(True)
        .fill_opacity(70)  # Grafana's defaults, written out: the SDK fills them in on reading
        .line_width(0)
        .mappings(_states(colors))
        .legend(cb.VizLegendOptions().show_legend(True).display_mode(cm.LegendDisplayMode.LIST))
        .with_target(
            query(
                f'SELECT last("{field}") AS "{field}" FROM "{measurement}" {W} {BY_TIME_DEVICE}',
                alias="$tag_device",
            )
        )
        .height(6)
        .span(12)
    )
