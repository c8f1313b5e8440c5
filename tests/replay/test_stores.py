"""stresstrack stores as replay sources: stored order, participant filter, clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from stresstrack.errors import ImportFormatError
from stresstrack.events import Beat, EdaSamples, Event, Marker, MarkerAction
from stresstrack.replay import FORMATS, ImportOptions, ImportStats
from stresstrack.store import Store

NS = 1_000_000_000
T0 = 1_767_603_600 * NS
EVENTS: list[Event] = [
    Marker(time_ns=T0, participant="p-01", action=MarkerAction.START, kind="baseline"),
    Beat(time_ns=T0 + 2 * NS, participant="p-01", rr_ms=801.0),
    Beat(time_ns=T0 + NS, participant="p-02", rr_ms=790.0),  # arrived late: stays after
    EdaSamples(time_ns=T0, participant="p-02", sampling_rate=4.0, values_us=(2.0, 2.1)),
]


def _read(path: Path, participant: str | None = None) -> tuple[list[Event], ImportStats]:
    stats = ImportStats()
    options = ImportOptions(participant=participant)
    return list(FORMATS["store"].read([path], options, stats)), stats


def test_events_come_in_stored_order(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        store.add_events(EVENTS)
    events, stats = _read(path)
    assert events == EVENTS
    assert (stats.rows, stats.fraction) == (4, 1.0)
    assert _read(path, "p-02")[0] == EVENTS[2:]
    assert FORMATS["store"].participants([path], ImportOptions()) == ["p-01", "p-02"]


@pytest.mark.parametrize("damage", ["garbage", "other-database", "truncated"])
def test_damaged_or_foreign_stores_are_clear_errors(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "s.db"
    if damage == "garbage":
        path.write_bytes(b"SQLite format 3\x00" + b"\x07" * 5000)
    elif damage == "other-database":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE t (x)")
    else:
        with Store(path) as store:
            store.add_events(EVENTS * 200)
        path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(ImportFormatError) as exc:
        _read(path)
    assert exc.value.path == str(path)
    assert "store" in exc.value.problem
