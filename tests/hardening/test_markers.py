"""Issue 16, item 2: a marker that is not valid Unicode must not kill live collection.

``stresstrack mark start --kind $'self-care \\xe9'`` (a Latin-1 byte in a UTF-8 terminal:
Python reads it as the lone surrogate ``"\\udce9"``) was stored with exit 0; ``collect``
following the store died a second later, ``sync`` and ``replay`` failed for ever after.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stresstrack.cli import main
from stresstrack.events import Beat, Marker, MarkerAction
from stresstrack.pipeline.engine import Pipeline
from stresstrack.session.recorder import Recorder
from stresstrack.store.sqlite import Store

NS = 1_000_000_000
T0 = 1_767_603_600 * NS


@pytest.mark.parametrize(
    ("option", "text", "problem"),
    [
        ("--kind", "self-care \udce9", "not valid Unicode text (U+DCE9 at 10)"),
        ("--label", "serum\x1b[2J", "control character (U+001B at 5)"),
        ("--note", "x" * 5000, "5000 characters long (at most 2000)"),
    ],
)
def test_mark_refuses_text_that_is_not_clean_unicode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, text: str, problem: str
) -> None:
    store = tmp_path / "s.db"
    with Store(store) as s:
        s.add_events([Beat(time_ns=T0, participant="p-live", rr_ms=800.0)])
    argv = ["mark", "start", "--participant", "p-live", "--store", str(store), "--kind", "x"]
    assert main([*argv, option, text]) == 2
    assert problem in capsys.readouterr().err
    with Store(store, readonly=True) as s:
        assert s.count("events") == 1


def test_a_recorder_following_the_store_survives_a_bad_marker(tmp_path: Path) -> None:
    """What ``collect`` does once a second: read what other processes stored."""
    path = tmp_path / "live.db"
    beats = [Beat(time_ns=T0 + k * NS, participant="p-live", rr_ms=1000.0) for k in range(200)]
    with Store(path) as store, Store(path) as other:
        recorder = Recorder(store, Pipeline(), batch=1 << 30, live=True, source="collect")
        recorder.emit(beats[:100])
        recorder.flush()
        other._db.execute(  # as the original `mark` stored it
            "INSERT INTO events (time_ns, study, participant, device, type, payload) VALUES "
            "(?, 'default', 'p-live', 'mark', 'marker', ?)",
            (T0 + 100 * NS, '{"action":"start","kind":"self-care \\udce9"}'),
        )
        other.add_events(
            [Marker(time_ns=T0 + 101 * NS, participant="p-live", action=MarkerAction.START,
                    kind="self-care", device="mark")]
        )  # fmt: skip
        recorder.emit(beats[100:])
        recorder.flush()
        recorder.close()
        assert {s.kind for s in store.sessions("p-live")} == {"self-care"}
        assert len(store.features("p-live")) > 20
        # A live event ahead of the clock by a day is quarantined, not stored.
        recorder = Recorder(store, None, live=True, source="collect")
        recorder.emit([Beat(time_ns=4_070_908_800 * NS, participant="p-live", rr_ms=800.0)])
        recorder.close()
        (q,) = store.quarantined()
        assert q.source == "collect" and "is in the future" in q.reason
