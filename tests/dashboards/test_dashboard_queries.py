"""Every query of every dashboard, run on a real InfluxDB holding a simulated study.

Queries are taken from the generated dashboard JSON (what Grafana gets), with Grafana's macros
and variables substituted (``stresstrack.dashboards.influxql.interpolate``), and checked
against the store the data came from.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from dashboard_study import LoadedStudy

from stresstrack.dashboards import build_dashboards
from stresstrack.dashboards.influxql import TimeRange, interpolate
from stresstrack.dashboards.provisioning import dashboard_json
from stresstrack.dashboards.sessions import COMPARED, DELTAS, WINDOWS
from stresstrack.events import DeviceStatus
from stresstrack.pipeline.results import Session
from stresstrack.simulators.study import DEFAULT_START
from stresstrack.store import Store

pytestmark = pytest.mark.influx

MS = 1_000_000
P1 = "sim-001"
START_MS = int(DEFAULT_START.timestamp() * 1000)
RANGE = TimeRange(START_MS - 60_000, START_MS + 3 * 3_600_000)


def boards() -> dict[str, dict[str, Any]]:
    return {k: json.loads(dashboard_json(b)) for k, b in build_dashboards().items()}


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for p in board["panels"]:
        yield p
        yield from p.get("panels", [])


def panel(board: dict[str, Any], title: str) -> dict[str, Any]:
    found = [p for p in panels(board) if p.get("title") == title and p["type"] != "row"]
    assert len(found) == 1, f"{title!r}: {[p.get('title') for p in panels(board)]}"
    return found[0]


def target(board: dict[str, Any], title: str, ref_id: str = "A") -> dict[str, Any]:
    (t,) = [t for t in panel(board, title)["targets"] if t["refId"] == ref_id]
    return t


def variables(study: LoadedStudy, session: Session | None = None) -> dict[str, str]:
    v = {"study": study.study, "participant": P1, "around": "2m", "threshold": "60"}
    if session is not None:
        assert session.end_ns is not None
        v |= {
            "session_start": str(session.start_ns // MS),
            "session_end": str(session.end_ns // MS),
        }
    return v


def run(study: LoadedStudy, query: str, interval: str = "10s", **extra: str) -> list[dict]:
    text = interpolate(query, RANGE, interval=interval, variables={**variables(study), **extra})
    assert "$" not in text.replace("$/", "").replace("^(", ""), text  # every macro replaced
    return study.rows(text)


def store_events(study: LoadedStudy) -> list[Any]:
    with Store(study.store, readonly=True) as store:
        return [e for p in study.participants for e in store.iter_events(p)]


def pseudonym(study: str, device: str) -> str:
    """docs/schema.md: the device tag is d- and 12 hex digits of SHA-256(study NUL device)."""
    return "d-" + hashlib.sha256(f"{study}\x00{device}".encode()).hexdigest()[:12]


def same_series(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> bool:
    """Equal times and equal values (floats to 1e-6 relative)."""
    assert [g[0] for g in got] == [w[0] for w in want]
    for g, w in zip(got, want, strict=True):
        assert list(g[1:]) == pytest.approx(list(w[1:]), rel=1e-6), g[0]
    return True


def self_care(store: Store, participant: str = P1) -> Session:
    (s,) = [s for s in store.sessions(participant) if s.kind == "self-care" and s.end_ns]
    return s


def test_every_panel_annotation_and_variable_query_answers(loaded_study: LoadedStudy) -> None:
    """Each query is valid InfluxQL for the server and finds data of the simulated study."""
    with Store(loaded_study.store, readonly=True) as store:
        session = self_care(store)
    count = 0
    for name, board in boards().items():
        queries = [t["query"] for p in panels(board) for t in p.get("targets", [])]
        queries += [a["target"]["query"] for a in board["annotations"].get("list", [])]
        queries += [v["query"] for v in board["templating"]["list"] if v["type"] == "query"]
        for q in queries:
            text = interpolate(q, RANGE, variables=variables(loaded_study, session))
            rows = loaded_study.rows(text)
            if 'open" = 1' in q:  # the in-progress table: the open session is sim-003's
                text = text.replace(f"^({P1})$", "^(.*)$")
                rows = loaded_study.rows(text)
            assert rows, f"{name}: no data for {text}"
            count += 1
    assert count >= 40


@pytest.mark.parametrize("interval", ["1s", "5s"])
def test_stress_panel_equals_the_stores_stress_rows(
    loaded_study: LoadedStudy, interval: str
) -> None:
    """Buckets no wider than the hop hold one row each: the curve is the store's, exactly."""
    board = boards()["participant"]
    with Store(loaded_study.store, readonly=True) as store:
        rows = store.stress(P1)
    index = [(r.time_ns, r.index) for r in rows if r.index is not None]
    confidence = [(r.time_ns, r.confidence) for r in rows]
    assert len(index) > 50
    got = run(loaded_study, target(board, "Stress index")["query"], interval)
    assert same_series([(r["time"], r["stress index"]) for r in got], index)
    got = run(loaded_study, target(board, "Stress index", "B")["query"], interval)
    assert same_series([(r["time"], r["confidence"]) for r in got], confidence)


def test_participant_curves_equal_the_stores_features(loaded_study: LoadedStudy) -> None:
    board = boards()["participant"]
    with Store(loaded_study.store, readonly=True) as store:
        features = store.features(P1)
    for title, ref, field, column in (
        ("RMSSD", "A", "rmssd_ms", "RMSSD"),
        ("Heart rate", "B", "mean_hr_bpm", "window mean"),
        ("Skin conductance", "B", "scl_us", "SCL"),
        # The index's SCR component (version 2.1), not NeuroKit2's relative scr_per_min.
        ("SCR rate (≥ 0.05 µS)", "A", "ns_scr_per_min", "SCR rate (≥ 0.05 µS)"),
    ):
        want = [(f.time_ns, f.values[field]) for f in features if f.values.get(field) is not None]
        got = run(loaded_study, target(board, title, ref)["query"], "1s")
        assert same_series([(r["time"], r[column]) for r in got], want), title
    quality = run(loaded_study, target(board, "Signal quality")["query"], "1s")
    assert same_series(
        [(r["time"], r["hrv coverage"], r["eda coverage"]) for r in quality],
        [(f.time_ns, f.quality["hrv_coverage"], f.quality["eda_coverage"]) for f in features],
    )


def test_device_panels_show_each_device(loaded_study: LoadedStudy) -> None:
    board = boards()["participant"]
    with Store(loaded_study.store, readonly=True) as store:
        statuses = [e for e in store.iter_events(P1) if isinstance(e, DeviceStatus)]
    devices = {pseudonym(e.study, e.device) for e in statuses}
    assert len(devices) == 2  # the strap and the EDA band
    addresses = {e.device for e in statuses}
    assert all(re.fullmatch(r"([0-9A-F]{2}:){5}[0-9A-F]{2}", a) for a in addresses), addresses
    tagged = {r["value"] for r in loaded_study.rows('SHOW TAG VALUES WITH KEY = "device"')}
    assert tagged and not tagged & {e.device for e in store_events(loaded_study)}  # no address
    for title in ("Connection", "Battery"):
        got = run(loaded_study, target(board, title)["query"], "1m")
        assert {r["device"] for r in got} <= devices, title
    states = run(loaded_study, target(board, "Connection")["query"], "1m")
    assert {r["device"] for r in states} == devices
    last = {
        d: [e.state.value for e in statuses if pseudonym(e.study, e.device) == d][-1]
        for d in devices
    }
    for d in devices:
        assert [r["state"] for r in states if r["device"] == d][-1] == last[d]
    battery = run(loaded_study, target(board, "Battery")["query"], "1m")
    assert sorted(r["battery"] for r in battery) == sorted(
        e.battery_pct for e in statuses if e.battery_pct is not None
    )
    contact = run(loaded_study, target(board, "Contact")["query"], "1m")
    assert contact and {r["contact"] for r in contact} <= {"detected", "not_detected"}


def test_session_annotations_are_every_session_with_its_end(loaded_study: LoadedStudy) -> None:
    """The raw rows behind the regions (test_grafana_harness.py: what Grafana makes of them)."""
    board = boards()["participant"]
    (care, other, opened) = board["annotations"]["list"]
    assert [a["name"] for a in (care, other, opened)] == [
        "Self-care sessions",
        "Other sessions",
        "Open sessions",
    ]
    for a in (care, other, opened):
        assert a["target"]["timeEndColumn"] == "session.end_ms"
    with Store(loaded_study.store, readonly=True) as store:
        sessions = store.sessions(P1)

    def expected(kinds: set[str], keep: bool) -> list[tuple[Any, ...]]:
        return [
            (s.start_ns, s.end_ns // MS, s.kind)
            for s in sessions
            if (s.kind in kinds) == keep and s.end_ns is not None
        ]

    for a, keep in ((care, True), (other, False)):
        got = run(loaded_study, a["target"]["query"])
        assert [(r["time"], r["end_ms"], r["kind"]) for r in got] == expected({"self-care"}, keep)
    assert len(expected({"self-care"}, True)) == 1 and len(expected({"self-care"}, False)) == 3


def test_open_session_is_a_region_to_now_and_in_progress(loaded_study: LoadedStudy) -> None:
    opened = loaded_study.open_session
    annotation = boards()["participant"]["annotations"]["list"][2]
    got = run(loaded_study, annotation["target"]["query"], participant=opened.participant)
    assert [(r["time"], r["end_ms"]) for r in got] == [(opened.start_ns, RANGE.to_ms)]
    table = target(boards()["cohort"], "Sessions in progress")
    assert table["resultFormat"] == "table"
    got = run(loaded_study, table["query"])
    assert got == [
        {
            "time": opened.start_ns,
            "participant": opened.participant,
            "kind": "self-care",
            "mode": "partner",
            "label": "touch",
            "open": 1,
        }
    ]


def test_cohort_tables_have_one_row_per_participant(loaded_study: LoadedStudy) -> None:
    board = boards()["cohort"]
    want = loaded_study.participants
    with Store(loaded_study.store, readonly=True) as store:
        last_stress = {p: [r for r in store.stress(p) if r.index is not None][-1] for p in want}
        last_features = {p: store.features(p)[-1] for p in want}
        events = {p: list(store.iter_events(p)) for p in want}

    got = run(loaded_study, target(board, "Stress now")["query"])
    assert [r["participant"] for r in got] == want
    assert got == [
        {
            "participant": p,
            "time": last_stress[p].time_ns,
            "stress index": pytest.approx(last_stress[p].index),
            "confidence": pytest.approx(last_stress[p].confidence),
        }
        for p in want
    ]

    got = run(loaded_study, target(board, "Signal quality")["query"])
    assert [(r["participant"], r["time"], r["valid features"]) for r in got] == [
        (p, f.time_ns, sum(v is not None for v in f.values.values()))
        for p, f in last_features.items()
    ]
    assert [r["HRV coverage"] for r in got] == pytest.approx(
        [last_features[p].quality["hrv_coverage"] for p in want]
    )

    got = run(loaded_study, target(board, "Connection")["query"])
    assert [r["participant"] for r in got] == want
    for r in got:
        statuses = [e for e in events[str(r["participant"])] if isinstance(e, DeviceStatus)]
        t = max(e.time_ns for e in statuses)
        # The last status; devices that changed at the same instant tie (either may win).
        last = {pseudonym(e.study, e.device): e for e in statuses if e.time_ns == t}
        status = last[str(r["device"])]
        assert r["state"] == status.state.value
        assert t <= int(r["time"]) < t + 10  # same-instant shift of docs/schema.md
        assert r["connected"] == (1 if status.state.value in ("connected", "bad_packet") else 0)

    # Per-minute means of each participant's stress rows, by numpy: the reference for the
    # panels on the downsampled series.
    minute = 60 * 1_000_000_000
    with Store(loaded_study.store, readonly=True) as store:
        per_minute = {
            p: _minute_means([(r.time_ns, r.index) for r in store.stress(p)], minute) for p in want
        }
        features_minutes = {
            p: _minute_means([(f.time_ns, 1.0) for f in store.features(p)], minute) for p in want
        }
    seen = run(loaded_study, target(board, "Last seen")["query"])
    assert [r["participant"] for r in seen] == want
    for r in seen:
        assert r["time"] == max(features_minutes[str(r["participant"])])

    band = run(loaded_study, target(board, "Stress index across participants")["query"], "1m")
    assert band
    for r in band:
        values = [m[r["time"]] for m in per_minute.values() if r["time"] in m]
        assert r["median"] == pytest.approx(float(np.median(values)))
        assert r["p90"] == pytest.approx(max(values))  # nearest rank of 3 values

    top = run(loaded_study, target(board, "Most stressed (10)")["query"])
    last = {p: m[max(m)] for p, m in per_minute.items()}
    assert {str(r["participant"]): r["stress index"] for r in top} == pytest.approx(last)
    battery = run(loaded_study, target(board, "Lowest batteries (10)")["query"])
    assert sorted(str(r["participant"]) for r in battery) == want


def _minute_means(points: list[tuple[int, float | None]], minute: int) -> dict[int, float]:
    buckets: dict[int, list[float]] = {}
    for t, v in points:
        if v is not None:
            buckets.setdefault(t // minute * minute, []).append(v)
    return {t: float(np.mean(v)) for t, v in buckets.items()}


def test_features_1m_holds_both_scr_rates_as_minute_means(loaded_study: LoadedStudy) -> None:
    """The downsampled features (the continuous query's backfill) carry the index's SCR
    component ``ns_scr_per_min`` beside NeuroKit2's ``scr_per_min``: each the numpy mean of the
    store's windows in that minute."""
    minute = 60 * 1_000_000_000
    with Store(loaded_study.store, readonly=True) as store:
        features = store.features(P1)
    got = loaded_study.rows(f'SELECT * FROM "features_1m" WHERE "participant" = \'{P1}\'')
    for field in ("ns_scr_per_min", "scr_per_min"):
        want = _minute_means([(f.time_ns, f.values.get(field)) for f in features], minute)
        assert len(want) >= 5 and any(want.values())  # minutes with responses
        have = {r["time"]: r[field] for r in got if r[field] is not None}
        assert have == pytest.approx(want), field


def test_variables_list_the_study_and_its_participants(loaded_study: LoadedStudy) -> None:
    for board in boards().values():
        for v in board["templating"]["list"]:
            if v["type"] != "query" or v["name"].startswith("session_"):
                continue  # the session bounds: test_grafana_harness.py
            values = {r["value"] for r in run(loaded_study, v["query"])}
            expected = {
                "study": {loaded_study.study},
                "participant": set(loaded_study.participants),
            }
            assert values == expected[v["name"]]


def test_several_participants_selected_match_each_of_them(loaded_study: LoadedStudy) -> None:
    """A multi-value selection becomes (a|b): only those participants, whole IDs."""
    stress = target(boards()["participant"], "Stress index")["query"]
    text = interpolate(
        stress.replace("GROUP BY time($__interval)", 'GROUP BY time($__interval), "participant"'),
        RANGE,
        variables={"study": loaded_study.study, "participant": ["sim-001", "sim-003"]},
    )
    assert {r["participant"] for r in loaded_study.rows(text)} == {"sim-001", "sim-003"}
    text = interpolate(
        stress, RANGE, variables={"study": loaded_study.study, "participant": "sim-00"}
    )
    assert loaded_study.rows(text) == []  # anchored: a prefix matches nobody


def _window_mean(times: list[int], values: list[float], lo: int, hi: int) -> float:
    inside = [v for t, v in zip(times, values, strict=True) if lo <= t < hi]
    return float(np.mean(inside)) if inside else math.nan


def test_sessions_before_during_after_and_deltas(loaded_study: LoadedStudy) -> None:
    """The comparison panels of the self-care session equal means computed from the store."""
    board = boards()["sessions"]
    with Store(loaded_study.store, readonly=True) as store:
        session = self_care(store)
        stress = store.stress(P1)
        features = store.features(P1)
    assert session.end_ns is not None
    start, end = session.start_ns // MS * MS, session.end_ns // MS * MS
    around = 120 * 1_000_000_000
    bounds = {
        "before": (start - around, start),
        "during": (start, end),
        "after": (end, end + around),
    }
    assert [w for w, _ in WINDOWS] == list(bounds)
    # The SCR comparison is the stress index's component (index 2.1), not the relative rule.
    assert [(c.measurement, c.field) for c in COMPARED][-1] == ("features", "ns_scr_per_min")
    for c in COMPARED:
        rows = stress if c.measurement == "stress" else features
        times = [r.time_ns for r in rows]
        values = [
            (r.index if c.field == "stress_index" else r.values.get(c.field))  # type: ignore[union-attr]
            for r in rows
        ]
        pairs = [(t, float(v)) for t, v in zip(times, values, strict=True) if v is not None]
        ts, vs = [t for t, _ in pairs], [v for _, v in pairs]
        p = panel(board, f"{c.title} around the session")
        fields: dict[str, float] = {}
        for t in p["targets"]:
            text = interpolate(t["query"], RANGE, variables=variables(loaded_study, session))
            (row,) = loaded_study.rows(text)
            (name,) = [k for k in row if k != "time"]
            fields[name] = float(row[name])
            lo, hi = bounds[name]
            assert row["time"] == lo
            assert fields[name] == pytest.approx(_window_mean(ts, vs, lo, hi)), (c.title, name)
        # Apply the panel's transformations as Grafana does: concatenate, then binary fields.
        ids = [tr["id"] for tr in p["transformations"]]
        assert ids == ["concatenate", "calculateField", "calculateField"]
        for tr in p["transformations"][1:]:
            o = tr["options"]
            assert o["mode"] == "binary" and o["binary"]["operator"] == "-"
            left = fields[o["binary"]["left"]["matcher"]["options"]]
            right = fields[o["binary"]["right"]["matcher"]["options"]]
            fields[o["alias"]] = left - right
        assert [alias for alias, _ in DELTAS] == ["Δ during", "Δ after"]
        assert fields["Δ during"] == pytest.approx(
            _window_mean(ts, vs, *bounds["during"]) - _window_mean(ts, vs, *bounds["before"])
        )
        assert fields["Δ after"] == pytest.approx(
            _window_mean(ts, vs, *bounds["after"]) - _window_mean(ts, vs, *bounds["before"])
        )


def test_uncontrolled_changes_say_they_are_not_causal() -> None:
    """Issue 13: wherever the dashboards show Δ during / Δ after (minus before), the text shown
    with it (panel descriptions, the dashboard's description, the row title) says it includes
    natural recovery and time effects and is not a causal estimate."""
    board = boards()["sessions"]
    with_deltas = [
        p
        for p in panels(board)
        if any(
            t.get("options", {}).get("alias") == alias
            for t in p.get("transformations", [])
            for alias, _ in DELTAS
        )
    ]
    assert len(with_deltas) == len(COMPARED)
    for text in [board["description"], *(p["description"] for p in with_deltas)]:
        assert "natural recovery" in text and "time effects" in text, text
        assert "not a causal estimate" in text, text
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert any("uncontrolled" in r and "recovery" in r for r in rows), rows
