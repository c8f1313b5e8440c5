"""The participant dashboard: one participant's curves, sessions and signal, live.

Stress index with its confidence, HR and RMSSD, skin conductance and SCR rate, signal quality,
contact, connection and battery; self-care and other sessions as region annotations.
"""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import statetimeline, table, timeseries
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
from stresstrack.dashboards.influxql import DATASOURCE

__all__ = ["UID", "build"]

UID: Final = UID_PREFIX + "participant"
HOP: Final = "5s"  # the pipeline's default hop: no point in finer buckets for window results
BY_TIME: Final = "GROUP BY time($__interval) fill(none)"
BY_TIME_DEVICE: Final = 'GROUP BY time($__interval), "device" fill(none)'
W: Final = where(STUDY, PARTICIPANT)

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


def build() -> dm.Dashboard:
    components = ", ".join(
        _mean(f"z_{c}", f"z {c.replace('_', ' ')}") for c in ("hr", "ln_rmssd", "scl", "scr_rate")
    )
    quality = ", ".join(
        _mean(f, f.replace("_", " "))
        for f in ("hrv_coverage", "eda_coverage", "contact_lost_share", "hrv_corrected_share")
    )
    board = (
        db.Dashboard("StressTrack: participant")
        .uid(UID)
        .description("One participant live: stress, HRV, EDA, sessions and signal quality.")
        .tags(["stresstrack"])
        .timezone("browser")
        .time(*DEFAULT_RANGE)
        .refresh(REFRESH)
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .with_variable(study_variable(include_all=False))
        .with_variable(participant_variable())
        .annotations(session_annotations(STUDY, PARTICIPANT))
        .with_row(db.Row("Stress"))
        .with_panel(stress_panel())
        .with_panel(
            timeseries_panel(
                "Stress components (z against baseline, + = stress)",
                "none",
                description="z-scores of the stress index's components",
            )
            .interval(HOP)
            .with_target(query(f'SELECT {components} FROM "stress" {W} {BY_TIME}'))
        )
        .with_panel(
            table.Panel()
            .align(cm.FieldTextAlignment.AUTO)
            .inspect(False)  # the defaults the SDK fills in on reading
            .title("Sessions")
            .datasource(DATASOURCE)
            .with_target(
                query(
                    'SELECT "end_ms", "duration_s", "open", "kind", "mode", "label" '
                    f'FROM "session" {W}'
                ).table()
            )
            .override_by_name(
                "end_ms", [dm.DynamicConfigValue(id_val="unit", value="dateTimeAsIso")]
            )
            .override_by_name("duration_s", [dm.DynamicConfigValue(id_val="unit", value="s")])
            .height(8)
            .span(12)
        )
        .with_row(db.Row("Heart"))
        .with_panel(
            timeseries_panel("Heart rate", "suffix: bpm")
            .with_target(query(f'SELECT {_mean("bpm", "reading")} FROM "heart_rate" {W} {BY_TIME}'))
            .with_target(
                query(
                    f'SELECT {_mean("mean_hr_bpm", "window mean")} FROM "features" {W} {BY_TIME}',
                    "B",
                )
            )
        )
        .with_panel(
            timeseries_panel(
                "RMSSD", "ms", description="root mean square of successive RR differences"
            )
            .interval(HOP)
            .with_target(
                query(f'SELECT {_mean("rmssd_ms", "RMSSD")} FROM "features" {W} {BY_TIME}')
            )
        )
        .with_row(db.Row("EDA"))
        .with_panel(
            timeseries_panel(
                "Skin conductance",
                "suffix: µS",
                description="SCL per window; raw samples only when the study replicates them "
                "(--influx-raw)",
            )
            .with_target(query(f'SELECT {_mean("conductance_us", "raw")} FROM "eda" {W} {BY_TIME}'))
            .with_target(
                query(f'SELECT {_mean("scl_us", "SCL")} FROM "features" {W} {BY_TIME}', "B")
            )
        )
        .with_panel(
            timeseries_panel("SCR rate", "suffix: /min", description="skin conductance responses")
            .interval(HOP)
            .with_target(
                query(f'SELECT {_mean("scr_per_min", "SCR rate")} FROM "features" {W} {BY_TIME}')
            )
        )
        .with_row(db.Row("Signal"))
        .with_panel(
            timeseries_panel("Signal quality", "percentunit", description="shares of each window")
            .min(0)
            .max(1)
            .interval(HOP)
            .with_target(query(f'SELECT {quality} FROM "features" {W} {BY_TIME}'))
        )
        .with_panel(
            timeseries_panel("Battery", "percent")
            .min(0)
            .max(100)
            .with_target(
                query(
                    f'SELECT last("battery_pct") AS "battery" FROM "device_status" {W} '
                    f"{BY_TIME_DEVICE}",
                    alias="$tag_device",
                )
            )
        )
        .with_panel(_timeline("Contact", "contact", "heart_rate", CONTACT_COLORS))
        .with_panel(_timeline("Connection", "state", "device_status", STATE_COLORS))
    ).build()
    return finish(board)


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
