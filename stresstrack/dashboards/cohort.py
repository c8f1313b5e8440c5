"""The cohort dashboard: every participant of a study at a glance, live.

Tables with one row per participant (InfluxQL ``last()`` grouped by ``participant``): the
current stress index, connection state, signal quality and when data last arrived; the stress
of everyone over time; the sessions in progress.
"""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import bargauge, table
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from stresstrack.dashboards.common import (
    DEFAULT_RANGE,
    REFRESH,
    STUDY,
    UID_PREFIX,
    finish,
    query,
    study_variable,
    timeseries_panel,
    where,
)
from stresstrack.dashboards.influxql import DATASOURCE

__all__ = ["UID", "build"]

UID: Final = UID_PREFIX + "cohort"
W: Final = where(STUDY)
BY_PARTICIPANT: Final = 'GROUP BY "participant"'
IN_PROGRESS_WINDOW: Final = "24h"  # sessions in progress: those started in the last day


def _table(title: str, *, description: str = "") -> table.Panel:
    p = (
        table.Panel()
        .align(cm.FieldTextAlignment.AUTO)
        .inspect(False)  # the defaults the SDK fills in on reading
        .title(title)
        .datasource(DATASOURCE)
        .sort_by([cb.TableSortByFieldState().display_name("participant")])
        .height(8)
        .span(12)
    )
    return p.description(description) if description else p


def _thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=v, color=c) for v, c in steps])
    )


def _colored(name: str) -> db.DashboardFieldConfigSourceOverrides:
    return (
        db.DashboardFieldConfigSourceOverrides()
        .matcher(dm.MatcherConfig(id_val="byName", options=name))
        .properties(
            [dm.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-background"})]
        )
    )


def build() -> dm.Dashboard:
    board = (
        db.Dashboard("StressTrack: cohort")
        .uid(UID)
        .description("Every participant of a study: stress now, connection, quality, sessions.")
        .tags(["stresstrack"])
        .timezone("browser")
        .time(*DEFAULT_RANGE)
        .refresh(REFRESH)
        .with_variable(study_variable(include_all=True))
        .with_row(db.Row("Now"))
        .with_panel(
            _table("Stress now", description="last stress index of each participant and its time")
            .with_target(
                query(
                    'SELECT last("stress_index") AS "stress index", '
                    f'"stress_confidence" AS "confidence" FROM "stress" {W} {BY_PARTICIPANT}'
                ).table()
            )
            .thresholds(_thresholds((None, "green"), (60, "yellow"), (75, "red")))
            .overrides([_colored("stress index")])
            .override_by_name(
                "confidence", [dm.DynamicConfigValue(id_val="unit", value="percentunit")]
            )
        )
        .with_panel(
            _table(
                "Connection",
                description="last status of any of the participant's devices, and its time",
            ).with_target(
                query(
                    'SELECT last("state") AS "state", "connected", "device" '
                    f'FROM "device_status" {W} {BY_PARTICIPANT}'
                ).table()
            )
        )
        .with_panel(
            _table(
                "Signal quality",
                description="quality of the last window of each participant (shares 0-1)",
            )
            .with_target(
                query(
                    'SELECT last("valid_features") AS "valid features", '
                    '"hrv_coverage" AS "HRV coverage", "eda_coverage" AS "EDA coverage", '
                    '"contact_lost_share" AS "contact lost" '
                    f'FROM "features" {W} {BY_PARTICIPANT}'
                ).table()
            )
            .override_by_regexp(
                ".*(coverage|lost)", [dm.DynamicConfigValue(id_val="unit", value="percentunit")]
            )
        )
        .with_panel(
            _table(
                "Last seen",
                description="time of the last beat and the last EDA sample of each participant",
            )
            .with_target(
                query(
                    f'SELECT last("rr_ms") AS "last RR (ms)" FROM "beat" {W} {BY_PARTICIPANT}'
                ).table()
            )
            .with_target(
                query(
                    'SELECT last("conductance_us") AS "last EDA (µS)" '
                    f'FROM "eda" {W} {BY_PARTICIPANT}',
                    "B",
                ).table()
            )
            .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
        )
        .with_row(db.Row("Over time"))
        .with_panel(
            timeseries_panel("Stress index", "none", description="0-100, 50 = own baseline")
            .min(0)
            .max(100)
            .interval("5s")
            .span(16)
            .with_target(
                query(
                    f'SELECT mean("stress_index") FROM "stress" {W} '
                    'GROUP BY time($__interval), "participant" fill(none)',
                    alias="$tag_participant",
                )
            )
        )
        .with_panel(
            bargauge.Panel()
            .title("Battery")
            .datasource(DATASOURCE)
            .unit("percent")
            .min(0)
            .max(100)
            .orientation(cm.VizOrientation.HORIZONTAL)
            .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]))
            .thresholds(_thresholds((None, "red"), (20, "yellow"), (40, "green")))
            .with_target(
                query(
                    f'SELECT last("battery_pct") FROM "device_status" {W} '
                    'GROUP BY "participant", "device"',
                    alias="$tag_participant $tag_device",
                )
            )
            .height(8)
            .span(8)
        )
        .with_panel(
            _table(
                "Sessions in progress",
                description=f"sessions started in the last {IN_PROGRESS_WINDOW} and not closed",
            )
            .time_from(IN_PROGRESS_WINDOW)
            .span(24)
            .with_target(
                query(
                    'SELECT "participant", "kind", "mode", "label", "open" FROM "session" '
                    + where(STUDY, '"open" = 1')
                ).table()
            )
        )
    ).build()
    return finish(board)
