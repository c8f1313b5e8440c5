"""The days dashboard: one participant's daily aggregates over a multi-day recording.

Per calendar day (UTC: InfluxQL's ``GROUP BY time(1d)`` starts days at midnight UTC, and the
dashboard shows UTC so bars sit on their days): the mean stress index, the minutes with the
index above a threshold (any confidence: the index already withholds what it cannot judge;
``stresstrack days`` gives the load with its confidence), and the nightly
heart rate, the lowest hourly mean HR of the day (resting HR is lowest at night, 03:00-07:00
for most people, Speed et al. 2023, PLOS Digit Health 2:e0000236). Every query reads the
per-minute series of ``stresstrack influx setup`` (``stress_1m``, ``features_1m``,
:mod:`stresstrack.dashboards.downsampling`), never raw windows: a week is 10,080 points a
series. Sessions (self-care and others) are region annotations, as on the participant board.
"""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from stresstrack.dashboards.common import (
    PARTICIPANT,
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

__all__ = ["THRESHOLDS", "UID", "build", "daily_queries"]

UID: Final = UID_PREFIX + "days"
RANGE: Final = ("now-7d", "now")
THRESHOLDS: Final = ("60", "70", "80")  # stress index above which a minute counts
THRESHOLD_DEFAULT: Final = "70"
W: Final = where(STUDY, PARTICIPANT)
DAILY: Final = "GROUP BY time(1d)"


def daily_queries() -> dict[str, str]:
    """Each panel's InfluxQL by its series name."""
    return {
        "mean stress": f'SELECT mean("stress_index") AS "mean stress" FROM "stress_1m" {W} '
        f"{DAILY} fill(none)",
        "minutes above": 'SELECT count("stress_index") AS "minutes above" FROM "stress_1m" '
        + where(STUDY, PARTICIPANT, '"stress_index" > $threshold')
        + f" {DAILY} fill(0)",
        "nightly HR": 'SELECT min("hr") AS "nightly HR" FROM (SELECT mean("mean_hr_bpm") AS "hr" '
        f'FROM "features_1m" {W} GROUP BY time(1h) fill(none)) WHERE $timeFilter '
        f"{DAILY} fill(none)",
    }


def _bars(title: str, unit: str, series: str, description: str) -> timeseries.Panel:
    return (
        timeseries_panel(title, unit, description=description)
        .draw_style(cm.GraphDrawStyle.BARS)
        .fill_opacity(60)
        .span(8)
        .with_target(query(daily_queries()[series], alias=series))
    )


def build() -> dm.Dashboard:
    board = (
        db.Dashboard("StressTrack: days")
        .uid(UID)
        .description(
            "Daily aggregates of one participant over days (UTC days): mean stress index, "
            "minutes above a threshold and nightly heart rate, from the per-minute series."
        )
        .tags(["stresstrack"])
        .timezone("utc")
        .time(*RANGE)
        .with_variable(study_variable(include_all=False))
        .with_variable(participant_variable())
        .with_variable(
            db.CustomVariable("threshold")
            .label("Stress threshold")
            .values(",".join(THRESHOLDS))
            .allow_custom_value(False)
            .current(
                dm.VariableOption(text=THRESHOLD_DEFAULT, value=THRESHOLD_DEFAULT, selected=True)
            )
        )
        .annotations(session_annotations(STUDY, PARTICIPANT))
        .with_row(db.Row("Per day"))
        .with_panel(
            _bars(
                "Mean stress index per day",
                "none",
                "mean stress",
                "mean of the per-minute stress index (50 = the participant's own baseline; "
                "use the rolling baseline for multi-day recordings, docs/days.md)",
            )
        )
        .with_panel(
            _bars(
                "Minutes above threshold per day",
                "m",
                "minutes above",
                "minutes whose mean stress index is above the chosen threshold",
            )
        )
        .with_panel(
            _bars(
                "Nightly heart rate",
                "suffix: bpm",
                "nightly HR",
                "the lowest hourly mean heart rate of each day: the nocturnal resting HR, "
                "lowest between 03:00 and 07:00 for most people (Speed et al. 2023)",
            )
        )
    )
    return finish(board.build())
