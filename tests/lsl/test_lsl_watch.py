"""A sender that has gone, told from a stream that is only silent, when liblsl does not say so.

liblsl 1.17.4 (pylsl 1.18.1, our lowest version) sometimes never raises ``LostError`` on an
inlet (``recover=False``) whose outlet was destroyed: in 1 of 6 tries on a busy 2-core machine
(an outlet pushing 500 samples, an inlet pulling them, the outlet deleted) the inlet's pulls went
on for 30 s without it. :class:`StreamWatch` asks the network instead.
"""

from __future__ import annotations

import gc
import time
import uuid
from typing import Any

import pylsl

from stresstrack.events import Marker
from stresstrack.lsl.inlet import LslClock, MarkerInlet, open_inlet, pull
from stresstrack.lsl.watch import StreamWatch

NS = 1_000_000_000
DEADLINE_S = 120.0  # generous: a busy 2-core machine (CI)


def _marker_outlet() -> tuple[pylsl.StreamOutlet, Any]:
    """A PsychoPy-style marker stream (irregular rate) and its resolved header."""
    name = f"markers-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, name)
    outlet = pylsl.StreamOutlet(info)
    (found,) = pylsl.resolve_byprop("source_id", name, 1, DEADLINE_S)
    return outlet, found


class _NeverLost:
    """A real inlet whose ``LostError`` never comes, as with liblsl 1.17.4 at times."""

    def __init__(self, inlet: Any) -> None:
        self.inlet = inlet

    def info(self, timeout: float) -> Any:
        return self.inlet.info(timeout)

    def pull_chunk(self, timeout: float, max_samples: int) -> tuple[list[Any], list[float]]:
        from pylsl.util import LostError

        try:
            return self.inlet.pull_chunk(timeout=timeout, max_samples=max_samples)  # type: ignore[no-any-return]
        except LostError:
            time.sleep(timeout)  # what a pull of a lost stream does in liblsl 1.17.4
            return [], []


def test_the_watch_finds_a_live_stream_and_misses_a_gone_one() -> None:
    """A stream whose outlet exists is found at every look-up, however long it is silent; once
    the outlet is destroyed, two look-ups in a row miss it."""
    outlet, found = _marker_outlet()
    watch = StreamWatch(found.uid(), silent_s=0.0, resolve_s=5.0)
    assert [watch.gone() for _ in range(3)] == [False, False, False]
    assert watch.lookups == 3
    del outlet
    gc.collect()
    deadline = time.monotonic() + DEADLINE_S
    while not watch.gone():
        assert time.monotonic() < deadline, "the destroyed outlet is still found"
    assert watch.lookups >= 5
    assert "no longer on the network (2 look-ups in a row)" in watch.why


def test_a_silent_marker_stream_stays_open_and_a_gone_one_closes_without_lost_error() -> None:
    """Marker streams are silent between markers: pulls of a silent, advertised stream give no
    events (not the end) across several look-ups, and a marker sent afterwards arrives. With
    liblsl's ``LostError`` missing, the destroyed outlet still ends the pulls, with the reason."""
    outlet, found = _marker_outlet()
    ids = {"participant": "p", "study": "s", "device": "lsl:m"}
    clock = LslClock(lsl_s=0.0, utc_ns=1_767_603_600 * NS)
    conv = MarkerInlet(_NeverLost(open_inlet(found)), ids, {}, clock)  # type: ignore[arg-type]
    conv.watch = StreamWatch(found.uid(), silent_s=0.3, resolve_s=5.0)
    assert outlet.wait_for_consumers(DEADLINE_S)
    deadline = time.monotonic() + DEADLINE_S
    while conv.watch.lookups < 3:
        assert pull(conv) == []
        assert time.monotonic() < deadline, "no look-ups"
    outlet.push_sample(["start stressor"])
    got: list[object] = []
    while not got:
        events = pull(conv)
        assert events is not None
        got += events
        assert time.monotonic() < deadline, "the marker did not arrive"
    assert [type(e) for e in got] == [Marker]
    del outlet
    gc.collect()
    while (events := pull(conv)) is not None:
        assert events == []
        assert time.monotonic() < deadline, "the gone stream was not noticed"
    assert "its sender has gone" in conv.watch.why
