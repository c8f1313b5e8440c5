"""The three dashboards as Grafana 11.6 shows them, on a simulated study in a real influxd.

Each query's answer goes through Grafana's own logic (``grafana_harness``: the InfluxDB
plugin's frontend and backend, ported, and ``@grafana/data`` run by Node), so these tests see
the names, regions and values a Grafana user would see, not the raw InfluxDB rows.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pytest
from dashboard_study import LoadedStudy
from grafana_harness import backend, frontend
from grafana_harness.grafana import Dashboard, PanelResult, display_text, node_available, render

from stresstrack.dashboards import build_dashboards
from stresstrack.dashboards.provisioning import dashboard_json
from stresstrack.dashboards.sessions import COMPARED, DELTAS
from stresstrack.events import LabSample, SelfReport
from stresstrack.simulators.study import DEFAULT_START
from stresstrack.store import Store

pytestmark = [
    pytest.mark.influx,
    # Skipped without Node and @grafana/data, except on CI (CI=true), where it must run.
    pytest.mark.skipif(
        not node_available() and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
        reason="scripts/test installs @grafana/data",
    ),
]

MS = 1_000_000
START_MS = int(DEFAULT_START.timestamp() * 1000)
FROM_MS, TO_MS = START_MS - 60_000, START_MS + 3 * 3_600_000
P3 = "sim-003"  # the participant with an open session (dashboard_study.py)


def boards() -> dict[str, dict[str, Any]]:
    return {k: json.loads(dashboard_json(b)) for k, b in build_dashboards().items()}


def show(loaded: LoadedStudy, name: str, **url: str) -> Dashboard:
    server = loaded.server
    return render(
        boards()[name],
        url=server.url,
        db=loaded.db,
        auth=(server.user, server.password),
        from_ms=FROM_MS,
        to_ms=TO_MS,
        variables=url,
    )


@pytest.mark.parametrize("name", ["participant", "cohort", "sessions", "days"])
def test_first_load_has_no_query_errors_and_every_override_matches(
    loaded_study: LoadedStudy, name: str
) -> None:
    """On first load (no URL variables) every panel answers and each override hits a field."""
    d = show(loaded_study, name)
    for title, panel in d.panels.items():
        assert panel.errors == [], f"{name}/{title}: {panel.errors}"
        assert panel.display_names(), f"{name}/{title}: no data"
        for matcher, hit in panel.overrides:
            assert hit, (
                f"{name}/{title}: override {matcher!r} matches none of {panel.display_names()}"
            )
        for n in panel.display_names():  # aliases: no "measurement.column" legends
            assert not n.startswith(("stress.", "features.", "eda.", "heart_rate.")), (title, n)
    assert d.annotation_errors == {}


@pytest.mark.parametrize("name", ["participant", "sessions"])
def test_every_session_kind_is_a_region(loaded_study: LoadedStudy, name: str) -> None:
    """Every session of the participant, open ones included, is a region from its start to
    its end (an open session: to the end of the range, "now")."""
    d = show(loaded_study, name, participant=P3)
    events = [e for evs in d.annotations.values() for e in evs]
    with Store(loaded_study.store, readonly=True) as store:
        sessions = [s for s in store.sessions(P3) if FROM_MS * MS <= s.start_ns <= TO_MS * MS]
    assert {s.kind for s in sessions} >= {"baseline", "stressor", "self-care", "recovery"}
    assert len(events) == len(sessions)
    for s in sessions:
        (e,) = [e for e in events if e.time == s.start_ns // MS]
        assert e.is_region, (s, e)
        assert e.time_end == (s.end_ns // MS if s.end_ns is not None else TO_MS), (s, e)
    open_events = d.annotations["Open sessions"]
    assert [e.time for e in open_events] == [loaded_study.open_session.start_ns // MS]
    self_care = d.annotations["Self-care sessions"]
    assert all(e.text == "serum" and {"self-care", "solo"} <= set(e.tags) for e in self_care)


def test_sessions_first_load_picks_the_newest_session_and_computes_deltas(
    loaded_study: LoadedStudy,
) -> None:
    """First load: a default session (the newest closed one), every comparison answers and
    Grafana's calculateField adds Δ during / Δ after = window mean minus before."""
    d = show(loaded_study, "sessions", participant="sim-001")
    with Store(loaded_study.store, readonly=True) as store:
        closed = [s for s in store.sessions("sim-001") if s.end_ns is not None]
    newest = max(closed, key=lambda s: s.start_ns)
    assert newest.end_ns is not None
    assert d.variables["session_start"].value == str(newest.start_ns // MS)
    assert d.variables["session_end"].value == str(newest.end_ns // MS)
    _assert_deltas(d)


def test_sessions_after_a_click_on_a_table_row(loaded_study: LoadedStudy) -> None:
    """The row link carries the raw start (``${__value.time}``), and the board follows it."""
    board = boards()["sessions"]
    table = next(p for p in board["panels"] if p["type"] == "table")
    (link,) = table["fieldConfig"]["defaults"]["links"]
    assert "var-session_start=${__value.time}" in link["url"]
    assert "__data.fields" not in link["url"]  # formatted cells never reach a query
    with Store(loaded_study.store, readonly=True) as store:
        s = next(s for s in store.sessions("sim-001") if s.kind == "self-care")
    assert s.end_ns is not None
    d = show(loaded_study, "sessions", participant="sim-001", session_start=str(s.start_ns // MS))
    assert d.variables["session_start"].value == str(s.start_ns // MS)
    assert d.variables["session_end"].value == str(s.end_ns // MS)
    assert {t: p.errors for t, p in d.panels.items() if p.errors} == {}
    assert d.annotation_errors == {}
    _assert_deltas(d)


def test_a_session_between_two_milliseconds_is_offered_found_and_compared(
    loaded_study: LoadedStudy,
) -> None:
    """A live session starts and ends at markers' nanoseconds, not on a millisecond. The
    sessions table shows its start floored to the ms (InfluxDB's ``epoch=ms``), which the row
    link carries (``${__value.time}``); the ``session_start`` variable must offer that very
    value, and ``session_end`` must find the session from it (regression: the start was
    rebuilt as ``round(end_ms - duration_s * 1000)``, 1 ms off here, so a click fell back to
    another session, and ``time = <start>ms`` never matched a sub-ms start: no end, and the
    "during"/"after" queries failed). Reference: the session as stored, floored to ms."""
    s = loaded_study.sub_ms_session
    assert s.end_ns is not None and s.start_ns % MS and s.end_ns % MS  # the case under test
    start_ms, end_ms = s.start_ns // MS, s.end_ns // MS
    d = show(loaded_study, "sessions", participant=s.participant, session_start=str(start_ms))
    (table,) = d.panels["Sessions (click a row to compare before / during / after)"].frames
    (times,) = [f["values"] for f in table["fields"] if f["type"] == "time"]
    assert start_ms in times  # what the row link carries
    assert str(start_ms) in d.options["session_start"]
    assert d.variables["session_start"].value == str(start_ms)
    assert d.variables["session_end"].value == str(end_ms)
    assert {t: p.errors for t, p in d.panels.items() if p.errors} == {}
    _assert_deltas(d)


def _assert_deltas(d: Dashboard) -> None:
    for c in COMPARED:
        panel = d.panels[f"{c.title} around the session"]
        assert panel.errors == []
        before = panel.value("before")
        assert before is not None, panel.display_names()
        for alias, left in DELTAS:
            assert panel.value(alias) == pytest.approx(panel.value(left) - before), alias


def test_a_formatted_cell_in_a_link_would_break_the_query(loaded_study: LoadedStudy) -> None:
    """Why links carry ``${__value.time}``: ``${__data.fields.end_ms}`` of a dateTimeAsIso
    column is the formatted cell, which InfluxDB rejects in a time condition."""
    frames = [
        {
            "schema": {"fields": [{"name": "end_ms", "type": "number"}]},
            "data": {"values": [[1767604440000]]},
        }
    ]
    text = display_text(frames, "end_ms", "dateTimeAsIso", 0)
    assert text is not None and not text.isdigit()
    server = loaded_study.server
    q = backend.BackendQuery(f'SELECT "stress_index" FROM "stress" WHERE time < {text}ms')
    r = backend.execute(server.url, loaded_study.db, (server.user, server.password), q.raw_query, q)
    assert r.error is not None and "error parsing query" in r.error


INJECTION = '1767600000000ms; DROP MEASUREMENT "stress"; SELECT 1 FROM x WHERE time > 0'


def test_influxql_injection_through_variables_is_not_possible(loaded_study: LoadedStudy) -> None:
    """Regression: a text box feeding ``${session_start}ms`` let a URL run any InfluxQL
    (Grafana passes a value that starts with a number unescaped). The variables now only
    take values from their option lists; a crafted URL falls back to a real session."""
    old = frontend.interpolate_query_expr(
        INJECTION, frontend.Variable("session_start", ""), "time >= ${session_start}ms"
    )
    assert "DROP MEASUREMENT" in old  # what the text box let through
    for name in ("participant", "cohort", "sessions", "days"):
        for v in boards()[name]["templating"]["list"]:
            assert v["type"] in ("query", "custom"), (name, v["name"], v["type"])
            if v["type"] == "query":
                assert v.get("allowCustomValue") is False and v.get("regex"), (name, v["name"])
    d = show(
        loaded_study,
        "sessions",
        participant="sim-001",
        session_start=INJECTION,
        session_end=INJECTION,
        study=INJECTION,
    )
    assert all("DROP" not in q for q in d.queries)
    assert loaded_study.rows('SELECT count("stress_index") FROM "stress"')


def test_cohort_stress_trend_is_a_table_row_with_a_sparkline_per_participant(
    loaded_study: LoadedStudy,
) -> None:
    """The cohort's "Stress trend" table: query A on the downsampled ``stress_1m`` returns one
    series per participant named by its alias (``$tag_participant``), "Time series to table"
    makes one row each (the ``participant`` label and a ``Trend #A`` sparkline cell), and the
    sparkline override matches that field.

    ``timeSeriesTable`` is not part of ``@grafana/data`` (Grafana's app registers it from
    ``public/app/features/transformers/timeSeriesTable``): the harness runs a port of it
    (``grafana_node/harness.cjs``), so the table's shape depends on that port; the series, their
    names and values come from the real influxd through the ported backend and Grafana's own
    display-name code. The reference is InfluxDB asked directly for each participant's 5-min
    means of ``stress_1m``. The panel's JSON (transformation id, the ``sparkline`` cell type
    from the SDK's 11.6 schema) is checked too; the sparkline drawing itself is not.
    """
    board = boards()["cohort"]
    (spec,) = [p for p in board["panels"] if p["title"] == "Stress trend"]
    assert spec["type"] == "table"
    assert spec["transformations"] == [{"id": "timeSeriesTable", "options": {}}]
    (target,) = spec["targets"]
    assert target["alias"] == "$tag_participant" and target["resultFormat"] == "time_series"
    assert 'FROM "stress_1m"' in target["query"] and '"participant"' in target["query"]
    (override,) = spec["fieldConfig"]["overrides"]
    assert override["matcher"] == {"id": "byName", "options": "Trend #A"}
    assert {"id": "custom.cellOptions", "value": {"type": "sparkline"}} in override["properties"]

    panel = show(loaded_study, "cohort").panels["Stress trend"]
    assert panel.errors == []
    assert panel.overrides == [("Trend #A", True)]
    (frame,) = panel.frames
    fields = {f["displayName"]: f for f in frame["fields"]}
    assert list(fields) == ["participant", "Trend #A"]
    rows = dict(zip(fields["participant"]["values"], fields["Trend #A"]["values"], strict=True))
    assert sorted(rows) == sorted(loaded_study.participants)
    for pid, spark in rows.items():
        assert spark["series"] == pid  # the alias, not "stress_1m.stress index"
        direct = loaded_study.rows(
            f'SELECT mean("stress_index") FROM "stress_1m" WHERE "participant" = \'{pid}\' '
            f"AND time >= {FROM_MS}ms AND time <= {TO_MS}ms GROUP BY time(5m) fill(none)"
        )
        assert len(direct) >= 2  # a curve, not a point
        assert spark["times"] == [int(r["time"]) // MS for r in direct]
        assert spark["values"] == pytest.approx([r["mean"] for r in direct])
        assert spark["value"] == pytest.approx(direct[-1]["mean"])
        assert spark["length"] == len(direct)


def _series(panel: PanelResult, name: str) -> list[tuple[int, Any]]:
    """(time in ms, value) of the field Grafana names ``name``, from its frame's time field."""
    found = [(fr, f) for fr in panel.frames for f in fr["fields"] if f.get("displayName") == name]
    assert len(found) == 1, f"{panel.title}: {name!r} in {panel.display_names()}"
    ((frame, values),) = found
    (times,) = [f["values"] for f in frame["fields"] if f["type"] == "time"]
    return list(zip(times, values["values"], strict=True))


POINTS = "Self-report beside the stress index"


def test_self_report_and_lab_values_show_every_stored_answer_and_sample(
    loaded_study: LoadedStudy,
) -> None:
    """What Grafana shows in the participant's "Self-report and lab values" row equals the
    answers and samples in the store (the reference: the events as written, read back from
    SQLite): one point series per item named by the item, each answer with its prompt in the
    table, one series per analyte named "analyte (unit)", each beside the stress index; the
    answers' panel is on the sessions dashboard too."""
    pid = "sim-001"
    d = show(loaded_study, "participant", participant=pid)
    with Store(loaded_study.store, readonly=True) as store:
        events = list(store.iter_events(pid, types=("selfreport", "lab")))
    answers = [e for e in events if isinstance(e, SelfReport)]
    samples = [e for e in events if isinstance(e, LabSample)]
    assert {a.item for a in answers} == {"stress", "calm", "sam_valence"} and len(samples) >= 4

    sessions = show(loaded_study, "sessions", participant=pid)
    for points in (d.panels[POINTS], sessions.panels[POINTS]):  # on both dashboards
        assert points.errors == [] and points.overrides == [("stress index", True)]
        assert set(points.display_names()) == {"stress", "calm", "sam_valence", "stress index"}
        for item in ("stress", "calm", "sam_valence"):
            # The ms Grafana shows: the nanosecond (the second of two items at one instant is
            # written 1 ns later, docs/schema.md "Same instant") floored to ms.
            want = sorted((a.time_ns // MS, a.value) for a in answers if a.item == item)
            assert _series(points, item) == want, item
        assert len(_series(points, "stress index")) > 50  # the line beside the points

    (table,) = d.panels["Self-report answers"].frames
    cols = {f["name"]: f["values"] for f in table["fields"]}
    rows = sorted(zip(cols["Time"], cols["item"], cols["value"], cols["prompt_id"], strict=True))
    assert rows == sorted((a.time_ns // MS, a.item, a.value, a.prompt_id or None) for a in answers)

    lab = d.panels["Lab values beside the stress index"]
    assert lab.errors == [] and lab.overrides == [("stress index", True)]
    assert set(lab.display_names()) == {"cortisol (nmol/L)", "stress index"}
    assert _series(lab, "cortisol (nmol/L)") == [(s.time_ns // MS, s.value) for s in samples]


SCR = "SCR rate (≥ 0.05 µS)"


def _bucket_means(points: list[tuple[int, float]], every_ms: int) -> list[tuple[int, float]]:
    """numpy means of (time in ns, value) per ``every_ms`` bucket from the epoch."""
    buckets: dict[int, list[float]] = {}
    for t, v in points:
        if FROM_MS * MS <= t <= TO_MS * MS:
            buckets.setdefault(t // MS // every_ms * every_ms, []).append(v)
    return [(t, float(np.mean(v))) for t, v in sorted(buckets.items())]


def test_scr_panel_draws_the_stored_non_specific_scr_rate(loaded_study: LoadedStudy) -> None:
    """The participant's SCR panel is the stress index's SCR component (index 2.1): what
    Grafana draws equals the store's ``ns_scr_per_min`` (SCRs rising >= 0.05 uS, Boucsein et
    al. 2012), not NeuroKit2's relative-rule ``scr_per_min``, and its description says so. The
    reference is the feature rows read back from SQLite, averaged by numpy per 10 s bucket (the
    harness's $__interval: the panel's 5 s minimum raised to 10 s)."""
    pid = "sim-001"
    board = boards()["participant"]
    (spec,) = [p for p in board["panels"] if p.get("title") == SCR]
    assert "0.05 µS" in spec["description"] and "ns_scr_per_min" in spec["description"]
    assert "relative rule" in spec["description"]
    panel = show(loaded_study, "participant", participant=pid).panels[SCR]
    assert panel.errors == [] and panel.display_names() == [SCR]
    with Store(loaded_study.store, readonly=True) as store:
        features = store.features(pid)

    def stored(field: str) -> list[tuple[int, float]]:
        points = [(f.time_ns, f.values.get(field)) for f in features]
        return _bucket_means([(t, float(v)) for t, v in points if v is not None], 10_000)

    want = stored("ns_scr_per_min")
    assert len(want) > 50 and any(v > 0 for _, v in want)  # a curve with responses
    got = _series(panel, SCR)
    assert [t for t, _ in got] == [t for t, _ in want]
    assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-9)
    relative = dict(stored("scr_per_min"))  # the other rule: a different curve
    assert any(relative[t] != pytest.approx(v, abs=0.5) for t, v in want)
