"""Sleep: Cole–Kripke against the published formula written as a plain loop, Webster's rules
on hand-made series, and known sleep windows of synthetic multi-day participants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from days_synthetic import MIN, multi_day

from stresstrack.days import DaysSettings, ParticipantRows, SleepSettings, profile
from stresstrack.days.sleep import cole_kripke, webster_rescore
from stresstrack.pipeline.results import Session


def _cole_kripke_loop(activity_mg: list[float]) -> list[bool]:
    """Cole et al. 1992, 1-min epochs (ActiLife form): D = 0.001 (106 A-4 + 54 A-3 + 58 A-2
    + 76 A-1 + 230 A0 + 74 A+1 + 67 A+2), A = min(counts / 100, 300), sleep if D < 1;
    our counts / 100 are mG / 10; epochs beyond the ends count 0."""
    a = [min(x / 10, 300) for x in activity_mg]
    out = []
    for t in range(len(a)):
        d = 0.0
        for w, k in zip((106, 54, 58, 76, 230, 74, 67), range(-4, 3), strict=True):
            if 0 <= t + k < len(a):
                d += w * a[t + k]
        out.append(0.001 * d < 1)
    return out


def test_cole_kripke_matches_the_formula() -> None:
    rng = np.random.default_rng(0)
    activity = rng.lognormal(np.log(12), 1.0, 2000)
    assert cole_kripke(activity).tolist() == _cole_kripke_loop(activity.tolist())
    activity[5] = np.nan  # no activity: never sleep, 0 in the neighbours' sums
    got = cole_kripke(activity)
    assert not got[5]
    assert got[6:].tolist() == _cole_kripke_loop([*activity[:5], 0.0, *activity[6:]])[6:]


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        # (a) >= 4 min wake: the next 1 min of sleep becomes wake.
        ("WWWW" + "S" * 30, "WWWWW" + "S" * 29),
        # (b) >= 10 min wake: the next 3.
        ("W" * 10 + "S" * 30, "W" * 13 + "S" * 27),
        # (c) >= 15 min wake: the next 4.
        ("W" * 15 + "S" * 30, "W" * 19 + "S" * 26),
        # (d) <= 6 min sleep between >= 10 min wake on both sides: wake.
        ("S" * 30 + "W" * 10 + "S" * 9 + "W" * 10 + "S" * 30,
         "S" * 30 + "W" * 32 + "S" * 27),
        # (e) <= 10 min sleep between >= 20 min wake: wake; 11 min stays (after rule b).
        ("S" * 30 + "W" * 20 + "S" * 14 + "W" * 20, "S" * 30 + "W" * 54),
        ("S" * 30 + "W" * 20 + "S" * 15 + "W" * 20, "S" * 30 + "W" * 24 + "S" * 11 + "W" * 20),
        ("S" * 30, "S" * 30),
    ],
)  # fmt: skip
def test_webster_rescoring_rules(series: str, expected: str) -> None:
    got = webster_rescore(np.array([c == "S" for c in series]))
    assert "".join("S" if x else "W" for x in got) == expected


@pytest.mark.parametrize(("seed", "tz"), [(0, "UTC"), (1, "Europe/Paris"), (2, "America/New_York")])
def test_sleep_periods_agree_with_known_sleep(seed: int, tz: str) -> None:
    """Done-when of issue 20: >= 90 % epoch agreement with the known sleep windows, over the
    recording and on every night; sleep onset and wake within 30 min; the night's HR is
    the median of the rows whose window centre lies in the true sleep window (±1 bpm)."""
    s = multi_day(seed=seed, tz=tz)
    r = profile(ParticipantRows(s.features, s.stress, s.sessions), "p1", DaysSettings(tz=tz))
    t = r.minutes.times_ns
    truth = np.zeros(t.size, dtype=bool)
    for a, b in s.truth.sleep:
        truth |= (t >= a) & (t < b)
    assert np.mean(truth == r.asleep) >= 0.90
    full = [(a, b) for a, b in s.truth.sleep if b <= t[-1]]
    assert len(r.nights) == len(full)
    for (a, b), night in zip(full, r.nights, strict=True):
        span = (t >= a - 120 * MIN) & (t < b + 120 * MIN)
        assert np.mean(truth[span] == r.asleep[span]) >= 0.90
        assert abs(night.start_ns - a) <= 30 * MIN and abs(night.end_ns - b) <= 30 * MIN
        hr = [f.values["mean_hr_bpm"] for f in s.features if a <= f.time_ns - 30e9 < b]
        assert night.hr_bpm == pytest.approx(float(np.median(hr)), abs=1.0)
        assert night.source == "acc" and math.isfinite(night.rmssd_ms)


def test_heart_rate_tells_quiet_wake_from_sleep() -> None:
    """Awake hours as still as the nights (a chest strap on someone sitting): the
    accelerometer alone scores most of the day as sleep; with the low-HR gate the nights are
    found again (>= 90 % agreement)."""
    s = multi_day(seed=5, still_awake=True)
    rows = ParticipantRows(s.features, s.stress, s.sessions)
    gated = profile(rows, "p1")
    acc_only = profile(rows, "p1", DaysSettings(sleep=SleepSettings(hr_quantile=1.0)))
    t = gated.minutes.times_ns
    truth = np.zeros(t.size, dtype=bool)
    for a, b in s.truth.sleep:
        truth |= (t >= a) & (t < b)
    assert np.mean(truth == gated.asleep) >= 0.90
    assert np.mean(truth == acc_only.asleep) < 0.75
    assert all(n.end_ns - n.start_ns < 10 * 60 * MIN for n in gated.nights)


def test_sleep_markers_win_and_work_without_an_accelerometer() -> None:
    s = multi_day(seed=4)
    a, b = s.truth.sleep[2]
    marked = Session(participant="p1", study="s", kind="sleep", start_ns=a + 30 * MIN, end_ns=b)
    no_acc = [
        type(f)(time_ns=f.time_ns, participant=f.participant, study=f.study,
                values={k: v for k, v in f.values.items() if k in ("mean_hr_bpm", "rmssd_ms")})
        for f in s.features
    ]  # fmt: skip
    for features in (s.features, no_acc):
        r = profile(ParticipantRows(features, s.stress, [marked]), "p1")
        night = next(n for n in r.nights if n.source == "marker")
        # On the minute grid: the whole minutes inside the marked session.
        assert 0 <= night.start_ns - (a + 30 * MIN) < MIN and 0 <= b - night.end_ns < MIN
        assert night.sleep_min == (night.end_ns - night.start_ns) // MIN
    assert len(r.nights) == 1  # without ACC only the marked night
