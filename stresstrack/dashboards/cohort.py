"""The cohort dashboard: every participant of a study at a glance, live, readable at 1000.

Tables with one row per participant (InfluxQL ``last()`` grouped by ``participant``): the
current stress index, connection state, signal quality and when data last arrived; over
time, the distribution of stress across participants (10th-90th percentile band and the
median) rather than one line each, the ten most stressed, a sparkline of each participant's
last hour, the ten lowest batteries; the sessions in progress. "Now" panels read the last
``NOW_WINDOW`` of results; the rest reads
the per-minute series of ``stresstrack influx setup`` (``dashboards/downsampling.py``; the
band: ``stress_cohort_1m``, the participants' percentiles computed by InfluxDB), never raw
samples, so every query stays under a second at 1000 participants x 8 h
(benchmarks/cohort_scale.py).
"""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import table, timeseries
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
NOW_WINDOW: Final = "15m"  # "now": a window is computed every few seconds while data flows
TOP: Final = 10
TREND_WINDOW: Final = "1h"  # the sparklines: each participant's last hour of stress
TREND_STEP: Final = "5m"  # in 5-min means of stress_1m: 12 points a participant
TREND_FIELD: Final = "Trend #A"  # the field Grafana's "Time series to table" makes of query A


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


def _top(title: str, description: str, inner: str, pick: str, column: str) -> table.Panel:
    """The ``TOP`` participants by ``pick`` (top/bottom) of their last ``column``."""
    return (
        _table(title, description=description)
        .sort_by([cb.TableSortByFieldState().display_name(column).desc(pick == "top")])
        .with_target(
            query(
                f'SELECT {pick}("{column}", "participant", {TOP}) AS "{column}" '
                f"FROM ({inner} {W} {BY_PARTICIPANT})"
            ).table()
        )
        .span(8)
    )


def _trends() -> table.Panel:
    """One row per participant with a sparkline of the recent stress index: query A returns one
    series per participant (``$tag_participant``), Grafana's "Time series to table"
    transformation (``timeSeriesTable``) turns each into a row with the ``participant`` label
    and a ``Trend #A`` cell (its last value and the series), drawn as a sparkline."""
    return (
        _table(
            "Stress trend",
            description=f"each participant's stress index over the last {TREND_WINDOW} "
            f"({TREND_STEP} means of stress_1m); the number is the last one",
        )
        .time_from(TREND_WINDOW)
        .interval(TREND_STEP)
        .span(8)
        .with_target(
            query(
                'SELECT mean("stress_index") AS "stress index" FROM "stress_1m" '
                f'{W} GROUP BY time($__interval), "participant" fill(none)',
                alias="$tag_participant",
            )
        )
        .with_transformation(dm.DataTransformerConfig(id_val="timeSeriesTable", options={}))
        .min(0)
        .max(100)
        .thresholds(_thresholds((None, "green"), (60, "yellow"), (75, "red")))
        .override_by_name(
            TREND_FIELD,
            [
                # Grafana 11.6's table cell type, as the SDK's schema types it
                dm.DynamicConfigValue(
                    id_val="custom.cellOptions", value=cm.TableSparklineCellOptions().to_json()
                ),
                dm.DynamicConfigValue(id_val="displayName", value="stress, last hour"),
            ],
        )
    )


def _stress_band() -> timeseries.Panel:
    """Per minute: median and 10th-90th percentile of the participants' stress index."""
    return (
        timeseries_panel(
            "Stress index across participants",
            "none",
            description="per minute: median and 10th-90th percentile of the participants' "
            "stress index (0-100, 50 = own baseline)",
        )
        .min(0)
        .max(100)
        .interval("1m")
        .span(16)
        .with_target(
            query(
                'SELECT mean("p10") AS "p10", mean("median") AS "median", mean("p90") AS "p90" '
                f'FROM "stress_cohort_1m" {W} GROUP BY time($__interval) fill(none)'
            )
        )
        .override_by_name(
            "p90",
            [
                dm.DynamicConfigValue(id_val="custom.fillBelowTo", value="p10"),
                dm.DynamicConfigValue(id_val="custom.lineWidth", value=0),
                dm.DynamicConfigValue(id_val="custom.fillOpacity", value=25),
            ],
        )
        .override_by_name("p10", [dm.DynamicConfigValue(id_val="custom.lineWidth", value=0)])
        .override_by_name("median", [dm.DynamicConfigValue(id_val="custom.lineWidth", value=2)])
    )


def _stress_now() -> table.Panel:
    """Last stress index of each participant, coloured by level."""
    return (
        _table("Stress now", description="last stress index of each participant and its time")
        .time_from(NOW_WINDOW)
        .with_target(
            query(
                'SELECT last("stress_index") AS "stress index", '
                f'"stress_confidence" AS "confidence" FROM "stress" {W} {BY_PARTICIPANT}'
            ).table()
        )
        .thresholds(_thresholds((None, "green"), (60, "yellow"), (75, "red")))
        .overrides([_colored("stress index")])
        .override_by_name("confidence", [dm.DynamicConfigValue(id_val="unit", value="percentunit")])
    )


def _connection() -> table.Panel:
    """Last device status of each participant."""
    return _table(
        "Connection",
        description="last status of any of the participant's devices, and its time",
    ).with_target(
        query(
            'SELECT last("state") AS "state", "connected", "device" '
            f'FROM "device_status" {W} {BY_PARTICIPANT}'
        ).table()
    )


def _quality_now() -> table.Panel:
    """Quality of each participant's last window."""
    return (
        _table(
            "Signal quality",
            description="quality of the last window of each participant (shares 0-1)",
        )
        .time_from(NOW_WINDOW)
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


def _last_seen() -> table.Panel:
    """The last minute with results of each participant."""
    return _table(
        "Last seen",
        description="the last minute with results of each participant (data flowing)",
    ).with_target(
        query(
            'SELECT last("valid_features") AS "valid features" '
            f'FROM "features_1m" {W} {BY_PARTICIPANT}'
        ).table()
    )


def _most_stressed() -> table.Panel:
    """The participants with the highest stress index now."""
    return (
        _top(
            f"Most stressed ({TOP})",
            "highest last per-minute stress index",
            'SELECT last("stress_index") AS "stress index" FROM "stress_1m"',
            "top",
            "stress index",
        )
        .thresholds(_thresholds((None, "green"), (60, "yellow"), (75, "red")))
        .overrides([_colored("stress index")])
    )


def _lowest_batteries() -> table.Panel:
    """The participants whose devices run out first."""
    return (
        _top(
            f"Lowest batteries ({TOP})",
            "lowest last battery level of any device of each participant",
            'SELECT last("battery_pct") AS "battery" FROM "device_status"',
            "bottom",
            "battery",
        )
        .unit("percent")
        .thresholds(_thresholds((None, "red"), (20, "yellow"), (40, "green")))
        .overrides([_colored("battery")])
    )


def _in_progress() -> table.Panel:
    """Sessions started recently and not closed."""
    return (
        _table(
            "Sessions in progress",
            description=f"sessions started in the last {IN_PROGRESS_WINDOW} and not closed",
        )
        .time_from(IN_PROGRESS_WINDOW)
        .span(16)
        .with_target(
            query(
                'SELECT "participant", "kind", "mode", "label", "open" FROM "session" '
                + where(STUDY, '"open" = 1')
            ).table()
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
        .with_panel(_stress_now())
        .with_panel(_connection())
        .with_panel(_quality_now())
        .with_panel(_last_seen())
        .with_row(db.Row("Over time"))
        .with_panel(_stress_band())
        .with_panel(_most_stressed())
        .with_panel(_trends())
        .with_panel(_lowest_batteries())
        .with_panel(_in_progress())
    ).build()
    return finish(board)
