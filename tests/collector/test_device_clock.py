"""DeviceClock: sensor time → UTC from receive times, under drift, jitter and clock resets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stresstrack.sensors.timing import DeviceClock

NS = 1_000_000_000
T0 = 1_767_603_600 * NS
SENSOR_START = 599_616_000 * NS  # an H10 that was never set: 2019-01-01 in Polar time


def _frames(drift_ppm: float, minutes: float, jitter_s: float, seed: int):  # type: ignore[no-untyped-def]
    """Frames of an ECG (73 samples at 130 Hz) and an ACC stream (36 at 25 Hz) of one sensor:
    (true UTC of the last sample, its sensor timestamp, receive time)."""
    rng = np.random.default_rng(seed)
    out = []
    for period in (73 / 130, 36 / 25):
        t = np.arange(period, minutes * 60, period)
        out += [(T0 + round(x * NS), 0) for x in t]
    out.sort()
    delays = rng.exponential(jitter_s, len(out))
    frames = []
    for (true_ns, _), delay in zip(out, delays, strict=True):
        sensor = SENSOR_START + round((true_ns - T0) * (1 + drift_ppm * 1e-6))
        frames.append((true_ns, sensor, true_ns + round(delay * NS)))
    frames.sort(key=lambda f: f[2])  # the link delivers in order of arrival
    return frames


@pytest.mark.parametrize(("drift_ppm", "seed"), [(-150.0, 0), (0.0, 1), (80.0, 2), (300.0, 3)])
def test_sensor_times_are_within_milliseconds_of_the_truth(drift_ppm: float, seed: int) -> None:
    """20 minutes with a drifting sensor clock and 30 ms mean transport jitter: after the
    first minute every frame maps within 3 ms of its true time, and the skew estimate is
    within 5 ppm."""
    clock = DeviceClock()
    errors = []
    for true_ns, sensor_ns, recv_ns in _frames(drift_ppm, 20, 0.03, seed):
        clock.update(sensor_ns, recv_ns)
        mapped = clock.to_utc(sensor_ns)
        assert mapped <= recv_ns  # never after the data arrived
        if true_ns - T0 > 60 * NS:
            errors.append((mapped - true_ns) / 1e6)
    err = np.array(errors)
    assert err.min() > -3.0 and err.max() < 3.0
    assert abs(np.median(err)) < 1.0
    assert abs(clock.skew_ppm - drift_ppm) < 5.0
    assert clock.resets == 0


def test_without_skew_estimate_the_error_grows_with_drift() -> None:
    """The same data with the skew fixed at 0 (only the smallest offset, as for HRS beats):
    a sensor 200 ppm slow drifts 60 ms over the 5-minute window, which the smallest offset
    lags behind; that is why the skew is fitted."""
    fitted, fixed = DeviceClock(), DeviceClock(max_skew_ppm=0.0)
    worst = {id(fitted): 0.0, id(fixed): 0.0}
    for true_ns, sensor_ns, recv_ns in _frames(-200.0, 10, 0.03, 4):
        for c in (fitted, fixed):
            c.update(sensor_ns, recv_ns)
            if true_ns - T0 > 120 * NS:
                worst[id(c)] = max(worst[id(c)], abs(c.to_utc(sensor_ns) - true_ns) / 1e6)
    assert worst[id(fitted)] < 3.0
    assert worst[id(fixed)] > 20.0


def test_a_sensor_clock_reset_restarts_the_estimate() -> None:
    """The sensor's clock jumps back a year (it was rebooted): the estimate restarts at once
    and maps the new timestamps right; a jump forward is accepted after 5 frames."""
    clock = DeviceClock()
    for k in range(100):
        clock.update(SENSOR_START + k * NS, T0 + k * NS + 10_000_000)
    assert clock.to_utc(SENSOR_START + 99 * NS) == T0 + 99 * NS + 10_000_000
    year = 365 * 86_400 * NS
    clock.update(SENSOR_START - year + 100 * NS, T0 + 100 * NS + 5_000_000)
    assert clock.resets == 1
    assert clock.to_utc(SENSOR_START - year + 100 * NS) == T0 + 100 * NS + 5_000_000
    for k in range(101, 106):  # the clock was set 10 s ahead
        clock.update(SENSOR_START - year + (k + 10) * NS, T0 + k * NS + 5_000_000)
    assert clock.resets == 2
    assert clock.to_utc(SENSOR_START - year + 115 * NS) == T0 + 105 * NS + 5_000_000


def test_before_any_frame_there_is_no_mapping() -> None:
    clock = DeviceClock()
    assert not clock.ready
    with pytest.raises(RuntimeError, match="no frame seen yet"):
        clock.to_utc(SENSOR_START)


@settings(deadline=None, max_examples=60)
@given(
    st.floats(-400, 400),
    st.lists(st.tuples(st.integers(1, 5 * NS), st.integers(0, 2 * NS)), min_size=1, max_size=300),
    st.integers(0, 2**62),
)
def test_mapped_times_never_follow_their_receive_time(
    drift_ppm: float, steps: list[tuple[int, int]], start: int
) -> None:
    """Whatever the sensor's drift, frame spacing and delays (up to 2 s), a frame's mapped
    time is never later than when it was received: data is never placed in its future."""
    clock = DeviceClock()
    t = 0
    for gap, delay in steps:
        t += gap
        sensor = start + round(t * (1 + drift_ppm * 1e-6))
        recv = T0 + t + delay
        clock.update(sensor, recv)
        assert clock.to_utc(sensor) <= recv
