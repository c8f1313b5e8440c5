"""The local SQLite store: raw events, features, stress index and sessions in one file.

It is the embedded default, the durable source of truth and the source for replay. WAL
journal mode lets readers (export, report, ``mark`` from another terminal) work while a
collector writes. ``synchronous=NORMAL`` in WAL mode keeps the database consistent after a
crash or power loss and loses at most the transactions committed since the last checkpoint
of the WAL to the OS; ``FULL`` would fsync every commit, which costs a disk flush per batch
for little gain on a participant's laptop. Raw events are written in batches, one
transaction each.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from stresstrack.events import Event
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.store.codec import event_from_payload, event_to_payload

__all__ = ["SCHEMA_VERSION", "Store", "StoreError"]

SCHEMA_VERSION: Final = 1

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    study TEXT NOT NULL,
    participant TEXT NOT NULL,
    device TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_participant_time ON events (participant, time_ns);
CREATE TABLE IF NOT EXISTS features (
    study TEXT NOT NULL,
    participant TEXT NOT NULL,
    time_ns INTEGER NOT NULL,
    vals TEXT NOT NULL,
    quality TEXT NOT NULL,
    reasons TEXT NOT NULL,
    PRIMARY KEY (participant, time_ns)
);
CREATE TABLE IF NOT EXISTS stress (
    study TEXT NOT NULL,
    participant TEXT NOT NULL,
    time_ns INTEGER NOT NULL,
    stress_index REAL,
    confidence REAL NOT NULL,
    components TEXT NOT NULL,
    version TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (participant, time_ns)
);
CREATE TABLE IF NOT EXISTS sessions (
    study TEXT NOT NULL,
    participant TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER,
    mode TEXT NOT NULL,
    label TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (participant, kind, start_ns)
);
"""


class StoreError(Exception):
    """The store file cannot be opened or is not a stresstrack store."""


class Store:
    """One SQLite file. Use as a context manager; every ``add_*`` call is one transaction."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly and not self.path.exists():
            raise StoreError(f"{self.path}: no such store")
        if not readonly and not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Health data: the file is created readable by its owner only.
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        uri = f"file:{self.path}?mode=ro" if readonly else f"file:{self.path}"
        try:
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0)
            self._db.execute("PRAGMA busy_timeout = 30000")
            if not readonly:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._db.executescript(_SCHEMA)
                self._db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            version = self._db.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a stresstrack store ({exc})") from exc
        if version is None:
            raise StoreError(f"{self.path}: not a stresstrack store (no schema version)")

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def integrity_check(self) -> str:
        row = self._db.execute("PRAGMA integrity_check").fetchone()
        return str(row[0])

    # -- writing -----------------------------------------------------------------------------
    def add_events(self, events: Sequence[Event]) -> None:
        """Append raw events in one transaction, in the order given (arrival order)."""
        if not events:
            return
        rows = []
        for e in events:
            type_name, payload = event_to_payload(e)
            rows.append((e.time_ns, e.study, e.participant, e.device, type_name, payload))
        with self._transaction():
            self._db.executemany(
                "INSERT INTO events (time_ns, study, participant, device, type, payload) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def add_results(
        self,
        features: Sequence[FeatureRow] = (),
        stress: Sequence[StressRow] = (),
        sessions: Sequence[Session] = (),
    ) -> None:
        """Write pipeline results in one transaction; a row for the same key is replaced."""
        if not (features or stress or sessions):
            return
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        f.study,
                        f.participant,
                        f.time_ns,
                        json.dumps(f.values),
                        json.dumps(f.quality),
                        json.dumps(f.reasons),
                    )
                    for f in features
                ],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO stress VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        s.study,
                        s.participant,
                        s.time_ns,
                        s.index,
                        s.confidence,
                        json.dumps(s.components),
                        s.version,
                        s.reason,
                    )
                    for s in stress
                ],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (s.study, s.participant, s.kind, s.start_ns, s.end_ns, s.mode, s.label, s.note)
                    for s in sessions
                ],
            )

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    # -- reading -----------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def participants(self) -> list[str]:
        rows = self._db.execute("SELECT DISTINCT participant FROM events ORDER BY 1").fetchall()
        names = {str(r[0]) for r in rows}
        for table in ("features", "stress", "sessions"):
            names |= {
                str(r[0]) for r in self._db.execute(f"SELECT DISTINCT participant FROM {table}")
            }
        return sorted(names)

    def iter_events(self, participant: str | None = None, *, batch: int = 5000) -> Iterator[Event]:
        """Raw events in the order they were stored (arrival order), optionally one participant."""
        sql = (
            "SELECT id, type, time_ns, participant, study, device, payload FROM events WHERE id > ?"
        )
        params: list[object] = []
        if participant is not None:
            sql += " AND participant = ?"
            params.append(participant)
        sql += " ORDER BY id LIMIT ?"
        last = 0
        while True:
            rows = self._db.execute(sql, (last, *params, batch)).fetchall()
            if not rows:
                return
            for _rid, type_name, time_ns, part, study, device, payload in rows:
                yield event_from_payload(type_name, time_ns, part, study, device, payload)
            last = rows[-1][0]

    def count(self, table: str) -> int:
        if table not in {"events", "features", "stress", "sessions"}:
            raise ValueError(f"unknown table {table!r}")
        return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def features(self, participant: str | None = None) -> list[FeatureRow]:
        rows = self._select("features", participant, "time_ns")
        return [
            FeatureRow(
                study=r[0],
                participant=r[1],
                time_ns=r[2],
                values=json.loads(r[3]),
                quality=json.loads(r[4]),
                reasons=json.loads(r[5]),
            )
            for r in rows
        ]

    def stress(self, participant: str | None = None) -> list[StressRow]:
        rows = self._select("stress", participant, "time_ns")
        return [
            StressRow(
                study=r[0],
                participant=r[1],
                time_ns=r[2],
                index=r[3],
                confidence=r[4],
                components=json.loads(r[5]),
                version=r[6],
                reason=r[7],
            )
            for r in rows
        ]

    def sessions(self, participant: str | None = None) -> list[Session]:
        rows = self._select("sessions", participant, "start_ns")
        return [
            Session(
                study=r[0],
                participant=r[1],
                kind=r[2],
                start_ns=r[3],
                end_ns=r[4],
                mode=r[5],
                label=r[6],
                note=r[7],
            )
            for r in rows
        ]

    def _select(self, table: str, participant: str | None, order: str) -> list[Any]:
        sql = f"SELECT * FROM {table}"
        params: tuple[str, ...] = ()
        if participant is not None:
            sql += " WHERE participant = ?"
            params = (participant,)
        sql += f" ORDER BY participant, {order}"
        return list(self._db.execute(sql, params).fetchall())

    def delete_results(self, participants: Iterable[str]) -> None:
        """Remove features, stress and sessions of these participants (before a re-run)."""
        with self._transaction():
            for p in participants:
                for table in ("features", "stress", "sessions"):
                    self._db.execute(f"DELETE FROM {table} WHERE participant = ?", (p,))


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
