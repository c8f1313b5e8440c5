"""The pipeline's EDA buffer (``TimeSeries``) against the Python lists and ``bisect`` it
replaced: the same samples in every window after any sequence of chunks and trims."""

from __future__ import annotations

import bisect

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stresstrack.pipeline.series import TimeSeries

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(1, 700), st.integers(0, 3)),  # chunk size, gap
        st.tuples(st.just("trim"), st.integers(0, 900), st.just(0)),  # back from the newest
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(steps=STEPS, window=st.integers(1, 1000))
def test_windows_match_lists(steps: list[tuple[str, int, int]], window: int) -> None:
    series, ref_t, ref_v = TimeSeries(), [], []
    now = 0
    for op, a, gap in steps:
        if op == "add":
            times = now + gap + np.arange(a, dtype=np.int64)
            values = tuple(float(x) * 0.5 for x in range(now, now + a))
            series.extend(times, values)
            ref_t.extend(times.tolist())
            ref_v.extend(values)
            now = int(times[-1]) + 1
        else:
            k = bisect.bisect_left(ref_t, now - a)
            del ref_t[:k], ref_v[:k]
            series.trim(now - a)
        assert series.t.tolist() == ref_t and series.v.tolist() == ref_v
        assert len(series) == len(ref_t)
        if ref_t:
            assert series.last == ref_t[-1]
        start, end = now - window, now - window // 3
        lo, hi = series.span(start, end)
        assert (lo, hi) == (bisect.bisect_right(ref_t, start), bisect.bisect_right(ref_t, end))
        assert series.v[lo:hi].tolist() == ref_v[lo:hi]
