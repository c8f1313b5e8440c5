"""The sample-value limit of ``check_event`` (min, max and a NaN-revealing sum, in C) accepts
exactly the chunks a value-by-value check accepts: every sample a real number within the
limits, NaN and infinities refused, the error naming the first bad sample."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stresstrack.errors import EventError
from stresstrack.events import EdaSamples
from stresstrack.limits import check_event

NS = 1_000_000_000
LO, HI = -1_000.0, 1_000.0  # docs/formats.md: EDA samples, µS
VALUES = st.one_of(
    st.floats(-2_000.0, 2_000.0),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([LO, HI, math.nextafter(HI, math.inf), math.nextafter(LO, -math.inf)]),
    st.integers(-1_500, 1_500),
)


def chunk(values: tuple[float, ...]) -> EdaSamples:
    return EdaSamples(time_ns=1_767_603_600 * NS, participant="p-1", sampling_rate=32.0,
                      values_us=values)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(values=st.lists(VALUES, min_size=1, max_size=40).map(tuple))
def test_sample_limit_agrees_with_each_value(values: tuple[float, ...]) -> None:
    bad = [i for i, v in enumerate(values) if not LO <= v <= HI]  # the reference rule
    if not bad:
        check_event(chunk(values))
        return
    with pytest.raises(EventError, match=rf"values_us\[{bad[0]}\]"):
        check_event(chunk(values))


@pytest.mark.parametrize("where", [0, 5, 9])
def test_one_nan_anywhere_is_refused(where: int) -> None:
    values = [1.0] * 10
    values[where] = math.nan
    with pytest.raises(EventError, match=rf"values_us\[{where}\]"):
        check_event(chunk(tuple(values)))
