"""Schema version 2 (the outbox): stores written by version-1 code open, migrate and ship."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from stresstrack.events import Beat
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.sinks.outbox import Outbox
from stresstrack.store import SCHEMA_VERSION, Store, StoreError
from stresstrack.store.sqlite import _SCHEMA_V1

T0 = 1_767_603_600_000_000_000


def _write_v1_store(path: Path) -> None:
    """A store as the version-1 code wrote it (its DDL and INSERTs, verbatim)."""
    db = sqlite3.connect(path)
    db.executescript(_SCHEMA_V1)
    db.execute(
        "INSERT INTO events (time_ns, study, participant, device, type, payload) "
        "VALUES (?, 's', 'p1', 'AA', 'beat', ?)",
        (T0, json.dumps({"rr_ms": 800.0, "rr_ticks": 819, "source": "hrs"})),
    )
    db.execute(
        "INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?, ?, ?)",
        ("s", "p1", T0, json.dumps({"rmssd_ms": 40.0}), json.dumps({}), json.dumps({})),
    )
    db.execute(
        "INSERT OR REPLACE INTO stress VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ("s", "p1", T0, 55.0, 0.8, json.dumps({"hr": 0.5}), "1.0", ""),
    )
    db.execute(
        "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ("s", "p1", "baseline", T0, T0 + 10, "", "", ""),
    )
    db.commit()
    db.close()


def test_v1_store_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _write_v1_store(path)
    with Store(path, readonly=True) as old:  # read-only opening reads a v1 store as is
        assert old.schema_version == 1
        assert old.features()[0].values == {"rmssd_ms": 40.0}
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION == 3
        assert store.meta("schema_version") == "3"
        assert list(store.iter_events()) == [
            Beat(time_ns=T0, participant="p1", study="s", device="AA", rr_ms=800.0, rr_ticks=819)
        ]
        assert store.stress() == [
            StressRow(
                time_ns=T0,
                participant="p1",
                study="s",
                index=55.0,
                confidence=0.8,
                components={"hr": 0.5},
                version="1.0",
            )
        ]
        # Existing results got sequence numbers, so a sink ships them once.
        outbox = Outbox(store, "t")
        batches = {s: outbox.next_batch(s, 0) for s in ("features", "stress", "sessions")}
        assert all(b is not None and len(b.lines) == 1 for b in batches.values())
        seqs = [b.last for b in batches.values() if b is not None]
        assert sorted(seqs) == seqs and len(set(seqs)) == 3
        # New rows continue the sequence after the migrated ones.
        store.add_results(
            [FeatureRow(time_ns=T0 + 5, participant="p1", study="s", values={"rmssd_ms": 41.0})]
        )
        newest = outbox.next_batch("features", seqs[0])
        assert newest is not None and newest.last > max(seqs)
        assert store.integrity_check() == "ok"
    with Store(path) as again:  # opening a migrated store is a no-op
        assert again.schema_version == 3
        assert len(again.features()) == 2


def test_replaced_rows_take_a_new_sequence_number(tmp_path: Path) -> None:
    """A session that closes is a replacement: the outbox must see it after the open one."""
    with Store(tmp_path / "a.db") as store:
        opened = Session(participant="p1", study="s", kind="self-care", start_ns=T0, end_ns=None)
        store.add_results(sessions=[opened])
        outbox = Outbox(store, "t")
        first = outbox.next_batch("sessions", 0)
        assert first is not None
        outbox.ack(first, [], 0)
        assert outbox.next_batch("sessions", first.last) is None
        closed = Session(participant="p1", study="s", kind="self-care", start_ns=T0, end_ns=T0 + 5)
        store.add_results(sessions=[closed])
        again = outbox.next_batch("sessions", outbox.positions()["sessions"])
        assert again is not None and again.last > first.last
        assert again.lines == [
            "session,kind=self-care,participant=p1,study=s "
            f"open=0i,start_ms={T0 // 1_000_000}i,end_ms={(T0 + 5) // 1_000_000}i,"
            f"duration_s=5e-09 {T0}"
        ]
        assert store.sessions() == [closed]


def test_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    for readonly in (False, True):
        with pytest.raises(StoreError, match="newer stresstrack"):
            Store(path, readonly=readonly)


def test_other_sqlite_file_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE contacts (name TEXT)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not a stresstrack store"):
        Store(path)
    db = sqlite3.connect(path)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    db.close()
    assert tables == ["contacts"]
