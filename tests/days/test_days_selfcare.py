"""Self-care in everyday life: a known after-effect is recovered against the same hours of
other days, per session, per participant and across participants."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from days_synthetic import NS, multi_day

from stresstrack.days import DaysSettings, ParticipantRows, StudyDays, profile
from stresstrack.days.selfcare import mean_ci


def _cohort(effect: float, seeds: range) -> StudyDays:
    results = []
    for seed in seeds:
        s = multi_day(seed=seed, participant=f"p{seed}", selfcare_effect=effect)
        results.append(profile(ParticipantRows(s.features, s.stress, s.sessions), f"p{seed}"))
    return StudyDays(results, mean_ci([r.selfcare_mean.mean for r in results]))


def _span_mean(rows: list[tuple[int, float]], lo: int, hi: int) -> float:
    return statistics.fmean(v for t, v in rows if lo <= t < hi)


def test_session_effect_against_matched_days_from_the_rows() -> None:
    """Each session's after and matched means equal the means of the confident stress rows
    (window centres) in the 2 h after its end and at the same hours of the 4 days without a
    session."""
    s = multi_day(seed=2)
    r = profile(ParticipantRows(s.features, s.stress, s.sessions), "p1")
    rows = [(x.time_ns - 30 * NS, x.index) for x in s.stress
            if x.confidence >= 0.5 and x.index is not None]  # fmt: skip
    day, span = 86400 * NS, 2 * 3600 * NS
    session_days = {(sc.start_ns - s.truth.start_ns) // day for sc in s.sessions}
    for e in r.selfcare:
        end = e.session.end_ns
        assert end is not None
        assert e.after == pytest.approx(_span_mean(rows, end, end + span), abs=0.3)
        others = [end + k * day for k in range(-6, 7)
                  if k and 0 <= (end + k * day - s.truth.start_ns) // day < 7
                  and (end + k * day - s.truth.start_ns) // day not in session_days]  # fmt: skip
        assert e.matched_days == len(others) == 4
        want = statistics.fmean(_span_mean(rows, lo, lo + span) for lo in others)
        assert e.matched == pytest.approx(want, abs=0.3)


def test_session_intervals_hold_the_known_effect() -> None:
    """Over 12 participants with two sessions each, the sessions' 95 % intervals hold the true
    effect (-8) in at least 20 of 24 (measured: 23)."""
    hits = total = 0
    for seed in range(12):
        s = multi_day(seed=seed, days=6, selfcare_days=(1, 3))
        r = profile(ParticipantRows(s.features, s.stress, s.sessions), "p1")
        total += len(r.selfcare)
        hits += sum(e.ci[0] <= -8 <= e.ci[1] for e in r.selfcare)
    assert total == 24 and hits >= 20


def test_known_effect_recovered_across_participants() -> None:
    study = _cohort(-8.0, range(6))
    assert study.selfcare.n == 6
    lo, hi = study.selfcare.ci
    assert lo <= -8 <= hi and hi < 0
    assert study.selfcare.mean == pytest.approx(-8, abs=1.5)
    for r in study.participants:
        assert r.selfcare_mean.n == 3
        assert r.selfcare_mean.mean == pytest.approx(-8, abs=3)


def test_no_effect_is_not_called_an_effect() -> None:
    study = _cohort(0.0, range(6))
    lo, hi = study.selfcare.ci
    assert lo <= 0 <= hi
    assert abs(study.selfcare.mean) < 2


def test_one_session_without_enough_matched_days_has_no_interval() -> None:
    s = multi_day(seed=1, days=2, selfcare_days=(1,))
    r = profile(ParticipantRows(s.features, s.stress, s.sessions), "p1", DaysSettings())
    (e,) = r.selfcare
    assert e.matched_days == 1 and math.isfinite(e.effect)
    assert all(math.isnan(x) for x in e.ci)
    assert np.isnan(r.selfcare_mean.ci[0])
