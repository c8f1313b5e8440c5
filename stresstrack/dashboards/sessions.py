"""The sessions dashboard: each session of a participant, before / during / after, and deltas.

InfluxQL cannot join the ``session`` measurement with ``stress``/``features``, and
docs/schema.md has no per-session summary measurement, so this dashboard picks one session at
a time: ``session_start`` lists the starts (``start_ms``: Unix ms, floored) of the
participant's closed sessions in the time range, newest first, so the newest is chosen on first
load; ``session_end`` is the ``end_ms`` of the session starting in that millisecond (a live
session starts at a marker's nanosecond, not on a millisecond). The sessions table links each
row here with its raw start (``${__value.time}``: epoch ms, never the formatted cell). Both
are query variables that refuse typed-in values, so nothing but a session's own number reaches
the queries. The comparison panels query the absolute windows

    before: [start - $around, start)   during: [start, end)   after: [end, end + $around)

with one query each; Grafana's ``concatenate`` and ``calculateField`` transformations put the
three means side by side and add ``Δ during`` and ``Δ after`` (minus before). A session still
open has no end yet and is not offered. Those changes are uncontrolled (:data:`NOT_CAUSAL`,
shown in every comparison panel's description and the row title).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import stat
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from stresstrack.dashboards.common import (
    DEFAULT_RANGE,
    PARTICIPANT,
    STUDY,
    UID_PREFIX,
    finish,
    participant_variable,
    query,
    session_annotations,
    study_variable,
    where,
)
from stresstrack.dashboards.influxql import DATASOURCE
from stresstrack.dashboards.participant import (
    SCR_FIELD,
    SCR_RULE,
    SCR_TITLE,
    selfreport_panel,
    sessions_table,
    stress_panel,
)

__all__ = ["COMPARED", "UID", "WINDOWS", "Compared", "build", "window_condition"]

UID: Final = UID_PREFIX + "sessions"
AROUND_CHOICES: Final = ("2m", "5m", "10m")
AROUND_DEFAULT: Final = "5m"

# (name, InfluxQL time condition) of the three windows around the chosen session.
WINDOWS: Final = (
    ("before", "time >= ${session_start}ms - $around AND time < ${session_start}ms"),
    ("during", "time >= ${session_start}ms AND time < ${session_end}ms"),
    ("after", "time >= ${session_end}ms AND time < ${session_end}ms + $around"),
)
EPOCH_MS_REGEX: Final = "/^[0-9]{1,16}$/"  # a session variable's values: Unix ms, nothing else
DELTAS: Final = (("Δ during", "during"), ("Δ after", "after"))  # each minus "before"


@dataclass(frozen=True, slots=True)
class Compared:
    """One compared value: a field of a measurement (docs/schema.md); ``note`` says what the
    field is where its title cannot (shown in the panel's description)."""

    title: str
    measurement: str
    field: str
    unit: str
    note: str = ""


COMPARED: Final = (
    Compared("Stress index", "stress", "stress_index", "none"),
    Compared("Heart rate", "features", "mean_hr_bpm", "suffix: bpm"),
    Compared("RMSSD", "features", "rmssd_ms", "ms"),
    Compared("SCL", "features", "scl_us", "suffix: µS"),
    Compared(SCR_TITLE, "features", SCR_FIELD, "suffix: /min", SCR_RULE),
)


NOT_CAUSAL: Final = (
    "Δ during and Δ after are uncontrolled changes from before: they include natural recovery "
    "(e.g. from a stressor just before) and time effects, so they are not a causal estimate of "
    "the session's effect; `stresstrack analyze` with a control condition gives that."
)


def window_condition(name: str) -> str:
    return dict(WINDOWS)[name]


def _compare_panel(c: Compared) -> stat.Panel:
    p = (
        stat.Panel()
        .title(f"{c.title} around the session")
        .description(
            f'mean of "{c.field}" before, during and after the session, and the changes. '
            + (f"{c.note}. " if c.note else "")
            + NOT_CAUSAL
        )
        .datasource(DATASOURCE)
        .unit(c.unit)
        .decimals(1)
        .color_mode(cm.BigValueColorMode.NONE)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .text_mode(cm.BigValueTextMode.VALUE_AND_NAME)
        .height(5)
        .span(8)
    )
    for i, (name, condition) in enumerate(WINDOWS):
        p = p.with_target(
            query(
                f'SELECT mean("{c.field}") AS "{name}" FROM "{c.measurement}" '
                f"WHERE {STUDY} AND {PARTICIPANT} AND {condition}",
                "ABC"[i],
                alias=name,
            )
        )
    p = p.with_transformation(
        dm.DataTransformerConfig(id_val="concatenate", options={"frameNameMode": "drop"})
    )
    for alias, left in DELTAS:
        p = p.with_transformation(
            dm.DataTransformerConfig(
                id_val="calculateField",
                options={
                    "mode": "binary",
                    "alias": alias,
                    "binary": {
                        "left": {"matcher": {"id": "byName", "options": left}},
                        "operator": "-",
                        "right": {"matcher": {"id": "byName", "options": "before"}},
                    },
                    "replaceFields": False,
                },
            )
        )
    return p


def _session_variable(name: str, label: str, text: str) -> db.QueryVariable:
    """A session bound: Unix ms from the ``session`` measurement, numbers only, newest first."""
    return (
        db.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(text)
        .regex(EPOCH_MS_REGEX)
        .allow_custom_value(False)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.NUMERICAL_DESC)
    )


def build() -> dm.Dashboard:
    link = (
        f"/d/{UID}/?${{__url_time_range}}&${{study:queryparam}}&${{participant:queryparam}}"
        "&${around:queryparam}&var-session_start=${__value.time}"
    )
    sessions = (
        sessions_table("Sessions (click a row to compare before / during / after)")
        .data_links([db.DashboardLink("Compare before / during / after").url(link)])
        .span(24)
    )
    board = (
        db.Dashboard("StressTrack: sessions")
        .uid(UID)
        .description(
            "Each session of a participant: stress and physiology before, during and after. "
            "Pick a session in the table. " + NOT_CAUSAL
        )
        .tags(["stresstrack"])
        .timezone("browser")
        .time(*DEFAULT_RANGE)
        .with_variable(study_variable(include_all=False))
        .with_variable(participant_variable())
        .with_variable(
            db.CustomVariable("around")
            .label("Before/after window")
            .values(",".join(AROUND_CHOICES))
            .current(dm.VariableOption(text=AROUND_DEFAULT, value=AROUND_DEFAULT, selected=True))
        )
        .with_variable(
            _session_variable(
                "session_start",
                "Session start (Unix ms)",
                'SELECT "start_ms" FROM "session" ' + where(STUDY, PARTICIPANT, '"open" = 0'),
            )
        )
        .with_variable(
            _session_variable(
                "session_end",
                "Session end (Unix ms)",
                f'SELECT "end_ms" FROM "session" WHERE {STUDY} AND {PARTICIPANT} '
                "AND time >= ${session_start}ms AND time < ${session_start}ms + 1ms",
            )
        )
        .annotations(session_annotations(STUDY, PARTICIPANT))
        .with_row(db.Row("Sessions"))
        .with_panel(sessions)
        .with_panel(stress_panel())
        .with_panel(selfreport_panel().span(24))
        .with_row(
            db.Row("Before / during / after the chosen session (uncontrolled: includes recovery)")
        )
    )
    for c in COMPARED:
        board = board.with_panel(_compare_panel(c))
    return finish(board.build())
