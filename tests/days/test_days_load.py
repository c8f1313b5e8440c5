"""Daily stress load, episodes and exercise, against synthetic participants whose stressors,
exercise bouts and low-confidence hours are known; the merging rule on hand-made series."""

from __future__ import annotations

import numpy as np
import pytest
from days_synthetic import MIN, multi_day

from stresstrack.days import DaysSettings, ParticipantRows, profile
from stresstrack.days.load import (
    STATES,
    LoadSettings,
    load_thresholds,
    minute_states,
    smoothed_index,
)
from stresstrack.days.load import episodes as find_episodes
from stresstrack.days.minutes import Minutes
from stresstrack.errors import SettingError
from stresstrack.pipeline.results import FeatureRow


@pytest.mark.parametrize(("seed", "tz"), [(0, "UTC"), (3, "Asia/Tokyo")])
def test_daily_load_within_ten_percent_and_exercise_not_counted(seed: int, tz: str) -> None:
    """Done-when of issue 20: each day's load within 10 % of the true stressor minutes (two
    stressors of 25 and 40 min a day), while a daily exercise bout whose index reads 82 is
    not counted; every stressor found as one episode starting within 2 min and ending within
    3 (the personal threshold, ~68 here, is reached by calm minutes at the stress rhythm's
    peak now and then, and one of them within the 2-min merge gap after a stressor's end
    joins its episode)."""
    s = multi_day(seed=seed, tz=tz)
    r = profile(ParticipantRows(s.features, s.stress, s.sessions), "p1", DaysSettings(tz=tz))
    truth_per_day = [sum((b - a) / MIN for a, b in s.truth.stressors[2 * d : 2 * d + 2])
                     for d in range(7)]  # fmt: skip
    loads = [d.load_min for d in r.days]
    assert len(loads) == 7
    for got, want in zip(loads, truth_per_day, strict=True):
        assert abs(got - want) <= 0.10 * want
    t = r.minutes.times_ns
    exercising = np.zeros(t.size, dtype=bool)
    for a, b in s.truth.exercise:
        exercising |= (t >= a) & (t < b)
    assert not np.any(r.states[exercising] == STATES.index("stressed"))
    assert np.mean(r.states[exercising] == STATES.index("active")) > 0.95
    assert len(r.episodes) == len(s.truth.stressors)
    for (a, b), e in zip(s.truth.stressors, r.episodes, strict=True):
        assert abs(e.start_ns - a) <= 2 * MIN and abs(e.end_ns - b) <= 3 * MIN
        assert a <= e.peak_ns < b and e.peak_index >= 85


def test_no_load_on_stress_free_days() -> None:
    """Six synthetic weeks with their stressors (and 10 min either side) cut out: days with a
    10-point stress rhythm, AR(1) noise and exercise, nothing else. The personal threshold
    (65-70 here) counts at most one short episode on a day and 10 min over the 42 days
    (measured: 5 and 3 min on two days of one week, 0 on the other 40)."""
    loads = []
    for seed in range(6):
        s = multi_day(seed=seed)
        half = 30 * 10**9  # rows are dated at their 60 s window's end
        calm = [r for r in s.stress
                if not any(a - 10 * MIN <= r.time_ns - half < b + 10 * MIN
                           for a, b in s.truth.stressors)]  # fmt: skip
        r = profile(ParticipantRows(s.features, calm, s.sessions), "p1")
        loads += [d.load_min for d in r.days]
    assert len(loads) == 42 and max(loads) <= 5 and sum(loads) <= 10


def test_without_an_accelerometer_exercise_reads_as_stress() -> None:
    """The separation is the accelerometer's doing: drop it and the bouts count."""
    s = multi_day(seed=0)
    bare = [
        FeatureRow(time_ns=f.time_ns, participant="p1", study="s", values={"mean_hr_bpm": hr})
        for f in s.features
        for hr in [f.values["mean_hr_bpm"]]
    ]
    with_acc = profile(ParticipantRows(s.features, s.stress), "p1")
    without = profile(ParticipantRows(bare, s.stress), "p1")
    extra = sum(d.load_min for d in without.days) - sum(d.load_min for d in with_acc.days)
    bouts = sum((b - a) / MIN for a, b in s.truth.exercise)
    assert extra == pytest.approx(bouts, rel=0.1)


def _minutes(stress: list[float]) -> Minutes:
    n = len(stress)
    zeros = np.zeros(n)
    return Minutes(0, "UTC", zeros, zeros, np.array(stress), np.ones(n), zeros + 5, zeros)


def test_episode_merging_rule() -> None:
    """Runs of stressed minutes 2 min apart merge, 3 min apart do not; episodes under 3 min
    are dropped (a fixed threshold, no smoothing: the merging alone)."""
    hi, lo, nan = 90.0, 40.0, float("nan")
    series = [hi] * 4 + [lo, nan] + [hi] * 3 + [lo] * 3 + [hi] * 5 + [lo] * 5 + [hi] * 2
    m = _minutes(series)
    fixed = LoadSettings(threshold=75.0, smooth_min=1)
    states = minute_states(m, np.zeros(len(series), dtype=bool), fixed)
    eps = find_episodes(m, states, "p", fixed)
    assert [(e.start_ns // MIN, e.end_ns // MIN, e.stressed_min) for e in eps] == [
        (0, 9, 7),
        (12, 17, 5),
    ]
    assert eps[0].duration_min == 9 and eps[0].peak_index == hi


# The personal threshold against numbers computed by hand (docs/days.md).
_PATTERN = [40.0, 50.0, 60.0, 45.0, 55.0]  # median 50, |deviations| 10 0 10 5 5: MAD 5


@pytest.mark.parametrize(
    ("k", "want"),
    [(2.0, 50 + 2 * 1.4826 * 5), (3.0, 50 + 3 * 1.4826 * 5), (5.0, 75.0), (0.5, 60.0)],
)
def test_personal_threshold_is_median_plus_k_robust_sd_within_floor_and_cap(
    k: float, want: float
) -> None:
    """200 awake minutes repeating 40 50 60 45 55: 50 + k × 1.4826 × 5, i.e. 64.826 at k = 2,
    72.239 at 3; 87.065 at 5 is capped at 75, 53.7 at 0.5 raised to the floor 60."""
    m = _minutes(_PATTERN * 40)
    got = load_thresholds(m, np.zeros(200, dtype=bool), LoadSettings(k=k, smooth_min=1))
    assert list(got.values()) == [pytest.approx(want, abs=1e-9)]


def test_threshold_reference_is_awake_still_confident_minutes_of_each_date() -> None:
    """Asleep, active and unconfident minutes do not move the threshold; each date has its
    own; a date with fewer than 120 reference minutes gets the cap; a fixed threshold is
    used as given."""
    day1 = _PATTERN * 40 + [95.0] * 100  # + 100 asleep minutes at 95
    day2 = [v + 4.0 for v in _PATTERN] * 40 + [95.0] * 100  # + 100 active minutes at 95
    day3 = _PATTERN * 20  # 100 minutes
    stress = day1 + [90.0] * (1440 - 300) + day2 + [float("nan")] * (1440 - 300) + day3
    n = len(stress)
    m = _minutes(stress)
    moving = np.zeros(n)
    moving[1440 + 200 : 1440 + 300] = 1.0
    m = Minutes(0, "UTC", m.hr, m.rmssd, m.stress, m.confidence, m.activity, moving)
    asleep = np.zeros(n, dtype=bool)
    asleep[200:1440] = True  # the 95s and the 90s of day 1
    got = list(load_thresholds(m, asleep, LoadSettings(smooth_min=1)).values())
    assert got == [pytest.approx(64.826), pytest.approx(68.826), 75.0]
    fixed = load_thresholds(m, asleep, LoadSettings(threshold=70.0))
    assert set(fixed.values()) == {70.0}


def test_smoothing_keeps_a_lone_spike_out_and_a_weak_sustained_rise_in() -> None:
    """Calm minutes repeating 40 50 60 45 55 have 9-min means of 48.9-51.1, so the threshold
    is the floor, 60: a single minute at 80 in that calm stretch is no episode (its 9-min mean
    is 485 / 9 = 53.9); 12 minutes at 66 (minutes 141-152) are one, which a fixed 75 misses.
    Its first minute's mean is (50 + 60 + 45 + 55 + 5 × 66) / 9 = 60, in; its last one's
    (5 × 66 + 40 + 50 + 60 + 45) / 9 = 58.3, out: the episode is minutes 141-151."""
    calm = _PATTERN * 40
    series = calm[:100] + [80.0] + calm[100:140] + [66.0] * 12 + calm[140:]
    assert smoothed_index(np.array(series), np.ones(len(series), dtype=bool), 9)[100] == (
        pytest.approx((50 + 60 + 45 + 55 + 80 + 40 + 50 + 60 + 45) / 9)
    )
    m = _minutes(series)
    awake = np.zeros(len(series), dtype=bool)
    assert list(load_thresholds(m, awake).values()) == [60.0]
    eps = find_episodes(m, minute_states(m, awake), "p")
    assert [(e.start_ns // MIN, e.end_ns // MIN) for e in eps] == [(141, 152)]
    assert find_episodes(m, minute_states(m, awake, LoadSettings(threshold=75.0)), "p") == []


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [({"threshold": 0.0}, "load threshold"), ({"threshold": 120.0}, "load threshold"),
     ({"k": -1.0}, "personal threshold k"), ({"floor": 80.0}, "load threshold"),
     ({"smooth_min": 4}, "smoothing"), ({"reference_min": 0}, "load threshold")],
)  # fmt: skip
def test_load_settings_refuse_bad_values(kwargs: dict[str, float], setting: str) -> None:
    with pytest.raises(SettingError) as caught:
        LoadSettings(**kwargs)  # type: ignore[arg-type]
    assert caught.value.setting == setting
