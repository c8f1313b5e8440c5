"""Session periods, exclusions, within-participant effects and groups on hand-built rows."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from stresstrack.analysis import AnalysisSettings, analyze, analyze_participant
from stresstrack.analysis.sessions import MEASURES
from stresstrack.pipeline.results import FeatureRow, Session, StressRow

NS = 1_000_000_000
T0 = 1_767_603_600 * NS  # on the 5 s grid
HOP = 5 * NS
SETTINGS = AnalysisSettings(boot=200)


def _rows(
    pid: str,
    minutes: float,
    index: Callable[[float], float | None],
    *,
    confidence: Callable[[float], float] = lambda _m: 0.9,
) -> tuple[list[StressRow], list[FeatureRow]]:
    """A row every 5 s for ``minutes``; ``index(m)`` at m minutes after T0 (window end).
    Components and features are simple functions of the index so every measure is known."""
    stress, features = [], []
    for k in range(int(minutes * 12) + 1):
        t = T0 + k * HOP
        m = k / 12
        x = index(m)
        z = None if x is None else (x - 50.0) / 10.0
        stress.append(
            StressRow(
                time_ns=t,
                participant=pid,
                study="s1",
                index=x,
                confidence=confidence(m),
                components={
                    "hr": z,
                    "ln_rmssd": None if z is None else -z,
                    "scl": z,
                    "scr_rate": 0.0,
                },
                version="1.1",
            )
        )
        features.append(
            FeatureRow(
                time_ns=t,
                participant=pid,
                study="s1",
                values={
                    "mean_hr_bpm": None if x is None else 60.0 + x / 5,
                    "rmssd_ms": 40.0,
                    "scl_us": None if x is None else x / 10,
                    "ns_scr_per_min": 2.0,
                },
            )
        )
    return stress, features


def _session(pid: str, kind: str, start_min: float, end_min: float | None, **kw: str) -> Session:
    return Session(
        participant=pid,
        study="s1",
        kind=kind,
        start_ns=T0 + round(start_min * 60 * NS),
        end_ns=None if end_min is None else T0 + round(end_min * 60 * NS),
        **kw,
    )


def test_windows_count_only_when_wholly_inside_a_period() -> None:
    """Self-care 10-15 min: pre 5-10, post 15-20. Windows (60 s) ending less than a minute
    after a boundary straddle it and carry a value (999) that must not reach any mean."""

    def index(m: float) -> float:
        for boundary in (5.0, 10.0, 15.0):
            if boundary < m < boundary + 1:
                return 999.0
        return 40.0 if m <= 10 else 30.0 if m <= 15 else 45.0

    stress, features = _rows("P1", 21, index)
    (r,) = analyze_participant(
        [_session("P1", "baseline", 0, 5), _session("P1", "self-care", 10, 15, mode="solo")],
        stress,
        features,
        SETTINGS,
    )
    assert r.included and r.reason == "" and r.post_note == ""
    # Window ends in [start + 60 s, end] on the 5 s grid: 4 min -> 49 windows per period.
    assert (r.pre.expected, r.during.expected, r.post.expected) == (49, 49, 49)
    assert (r.pre.good, r.during.good, r.post.good) == (49, 49, 49)
    assert r.value("stress_index", "pre") == 40.0
    assert r.value("stress_index", "during") == 30.0
    assert r.value("stress_index", "post") == 45.0
    assert r.delta("stress_index") == -10.0 and r.delta("stress_index", "post") == 5.0
    assert r.delta("hr_z") == pytest.approx(-1.0) and r.delta("ln_rmssd_z") == pytest.approx(1.0)
    assert r.delta("hr") == pytest.approx(-2.0) and r.delta("scl") == pytest.approx(-1.0)
    assert r.delta("rmssd") == 0.0 and r.delta("scr_rate_z") == 0.0
    assert {m.name for m in MEASURES} == set(r.during.values)


def test_low_confidence_and_missing_windows_count_against_coverage() -> None:
    """Pre: 60 % of windows without an index -> excluded, reason says so. Low-confidence
    windows do not count either, and never enter the mean."""

    stress, features = _rows("P1", 21, lambda m: None if 5 <= m < 8.25 else 50.0)
    (r,) = analyze_participant([_session("P1", "self-care", 10, 15)], stress, features, SETTINGS)
    assert not r.included
    assert r.reason == "pre: 45% of windows with an index of confidence >= 0.5 (need 50%)"
    assert (r.pre.good, r.pre.expected) == (22, 49)  # ends 8:15-10:00 of 6:00-10:00

    stress, features = _rows("P2", 21, lambda m: 70.0 if 12 <= m <= 13 else 40.0,
                             confidence=lambda m: 0.2 if 12 <= m <= 13 else 0.9)  # fmt: skip
    (r,) = analyze_participant([_session("P2", "self-care", 10, 15)], stress, features, SETTINGS)
    assert r.included and r.during.good == 49 - 13
    assert r.value("stress_index", "during") == 40.0  # the 70s had low confidence


def test_post_without_data_empties_post_values_but_keeps_the_session() -> None:
    stress, features = _rows("P1", 15.5, lambda m: 40.0)
    (r,) = analyze_participant([_session("P1", "self-care", 10, 15)], stress, features, SETTINGS)
    assert r.included
    assert r.post_note == "post: 0% of windows with an index of confidence >= 0.5 (need 50%)"
    assert r.value("stress_index", "post") is None and r.delta("stress_index", "post") is None


def test_exclusion_reasons() -> None:
    stress, features = _rows("P1", 30, lambda m: 40.0)
    results = analyze_participant(
        [
            _session("P1", "self-care", 10, 10.5),  # 30 s: shorter than a window
            _session("P1", "self-care", 20, None),  # never stopped
            _session("P1", "stressor", 1, 6),  # pre starts 4 min before the data
        ],
        stress,
        features,
        SETTINGS,
    )
    assert [(r.session.kind, r.included, r.reason) for r in results] == [
        ("stressor", False, "pre: 27% of windows with an index of confidence >= 0.5 (need 50%)"),
        ("self-care", False, "shorter than one window (60 s)"),
        ("self-care", False, "not closed (no stop marker)"),
    ]


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="min coverage must be within 0-1"):
        AnalysisSettings(min_coverage=1.5)
    with pytest.raises(ValueError, match="pre window must be > 0 s"):
        AnalysisSettings(pre_s=0)


def _cohort() -> list[tuple[str, list[Session], list[StressRow], list[FeatureRow]]]:
    """Four participants; P1 has two self-care sessions (changes -10 and -20), P4's only
    self-care session is excluded (no data during it). Rest sessions change by -2 each."""
    changes = {"P1": (-10.0, -20.0), "P2": (-6.0,), "P3": (-8.0,), "P4": (-5.0,)}
    data = []
    for pid, deltas in changes.items():
        sessions = []
        spans = []
        for k, d in enumerate(deltas):
            start = 10 + 20 * k
            sessions.append(_session(pid, "self-care", start, start + 5, mode="solo", label="A"))
            spans.append((start, start + 5, d))
        rest_start = 10 + 20 * len(deltas)
        sessions.append(_session(pid, "rest", rest_start, rest_start + 5))
        spans.append((rest_start, rest_start + 5, -2.0))

        def index(
            m: float, spans: list[tuple[int, int, float]] = spans, pid: str = pid
        ) -> float | None:
            for a, b, d in spans:
                if a < m <= b:
                    if pid == "P4" and d == -5.0:
                        return None
                    return 50.0 + d
            return 50.0

        stress, features = _rows(pid, 10 + 20 * len(deltas) + 10, index)
        data.append((pid, sessions, stress, features))
    return data


def test_each_participant_counts_once_with_the_mean_of_their_sessions() -> None:
    a = analyze(_cohort(), SETTINGS, arms={"P1": "serum", "P2": "serum", "P3": "serum"})
    p1 = [e for e in a.participants if e.participant == "P1" and e.group[0] == "self-care"]
    assert [(e.group, e.sessions, e.delta("stress_index")) for e in p1] == [
        (("self-care", "solo", "A", "serum", ""), 2, -15.0)
    ]
    groups = {g.key: g for g in a.groups}
    serum = groups[("self-care", "solo", "A", "serum", "")]
    s = serum.during["stress_index"]
    assert (s.n, s.mean_delta) == (3, pytest.approx((-15 - 6 - 8) / 3))
    assert (serum.sessions, serum.excluded) == (4, 0)
    p4 = groups[("self-care", "solo", "A", "", "")]  # no arm given for P4
    assert (p4.sessions, p4.excluded, p4.during["stress_index"].n) == (1, 1, 0)
    assert p4.reasons == {"during: 0% of windows with an index of confidence >= 0.5 (need 50%)": 1}
    rest = [g for g in a.groups if g.key[0] == "rest"]
    assert sorted(g.during["stress_index"].n for g in rest) == [1, 3]
    assert all(g.during["stress_index"].mean_delta == -2.0 for g in rest)


def test_control_kind_compares_each_participant_with_themselves() -> None:
    a = analyze(_cohort(), AnalysisSettings(boot=200, control="rest"), arms={})
    (g,) = [g for g in a.groups if g.key[0] == "self-care"]
    c = g.control["stress_index"]
    # P1 -15 vs -2, P2 -6 vs -2, P3 -8 vs -2; P4 has no included self-care session.
    assert (c.n, c.mean_before, c.mean_after) == (3, -2.0, pytest.approx(-29 / 3))
    assert c.mean_delta == pytest.approx(-29 / 3 + 2)
    assert all(not g.control for g in a.groups if g.key[0] == "rest")
    assert math.isfinite(c.ttest_p)


def test_recovery_is_grouped_by_the_condition_it_follows() -> None:
    """Recovery after self-care and recovery after rest are different groups (and rows of the
    uncontrolled section of effects.csv), never pooled: each participant does stressor,
    self-care, recovery, stressor, rest, recovery; the index falls by 12 during recovery after
    self-care and by 4 after rest, so a pooled group would show -8 for everyone."""
    data = []
    for pid in ("P1", "P2", "P3"):
        plan = [
            ("stressor", 5, 10, 0.0),
            ("self-care", 10, 15, 0.0),
            ("recovery", 15, 20, -12.0),
            ("stressor", 25, 30, 0.0),
            ("rest", 30, 35, 0.0),
            ("recovery", 35, 40, -4.0),
        ]
        sessions = [_session(pid, k, a, b) for k, a, b, _ in plan]

        def index(m: float, plan: list[tuple[str, int, int, float]] = plan) -> float:
            return next((50.0 + d for _, a, b, d in plan if a < m <= b), 50.0)

        stress, features = _rows(pid, 45, index)
        data.append((pid, sessions, stress, features))
    a = analyze(data, SETTINGS)
    recovery = {g.label: g.during["stress_index"] for g in a.groups if g.key[0] == "recovery"}
    assert set(recovery) == {"recovery · after self-care", "recovery · after rest"}
    assert recovery["recovery · after self-care"].mean_delta == pytest.approx(-12.0)
    assert recovery["recovery · after rest"].mean_delta == pytest.approx(-4.0)
    assert all(s.n == 3 for s in recovery.values())
    contrasts = {e.contrast for e in a.effects.effects if e.outcome == "stress_index"}
    assert "during − pre: recovery · after self-care" in contrasts
    assert "during − pre: recovery · after rest" in contrasts
    assert not any(c.endswith(": recovery") for c in contrasts)
    follows = {(r.session.kind, r.follows) for r in a.sessions}
    assert ("self-care", "") in follows and ("recovery", "rest") in follows
