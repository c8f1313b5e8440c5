"""The local SQLite store: raw events, features, stress index and sessions in one file.

It is the embedded default, the durable source of truth, the source for replay and the
outbox of the sinks (``stresstrack.sinks``), which ship rows in store order and keep their
cursors here.

Crash safety. WAL journal mode lets readers (export, report, the InfluxDB sink, ``mark``
from another terminal) work while a collector writes. Every ``add_*`` call is one
transaction. ``synchronous=NORMAL`` in WAL mode: a commit is appended to the WAL without an
fsync, and the WAL is fsynced at each checkpoint. So:

- if the *process* dies (crash, ``kill -9``), every committed transaction is kept: it is in
  the WAL, which the OS holds; the store opens cleanly and only the transaction in flight is
  lost (tested in ``tests/store/test_crash.py``);
- if the *machine* loses power, the database is still consistent, and at most the
  transactions committed since the last checkpoint are rolled back.

``FULL`` would fsync every commit, a disk flush per batch (several per second live) for a
case, power loss on a participant's laptop, where the last seconds of data are lost anyway.

Schema versions: 1 (first release); 2 adds the outbox: a store-wide sequence number ``seq``
on features, stress and sessions, taken anew by every insert *and replacement*, the sinks'
cursors and their dead letters; 3 adds ``quarantine``: events refused at a boundary (outside
the limits of :mod:`stresstrack.limits`, or that the pipeline could not process), with their
source and the reason, kept instead of stored as data. Older stores are migrated in one
transaction when opened for writing; read-only opening works on every version.

Size (issue 17): over 400 lines because ``Store`` is the one place that speaks SQL (every
query of the package is a short method here) and its schema and migrations are kept beside
the queries that depend on them.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import quote

from stresstrack.errors import EventError
from stresstrack.events import Event
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.store.codec import event_from_payload, event_to_payload

__all__ = [
    "RAW_TYPES",
    "RESULT_TABLES",
    "SCHEMA_VERSION",
    "DeadLetter",
    "EventRow",
    "Quarantined",
    "Store",
    "StoreError",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 3
# Longest text kept of a quarantined event (what arrived, for the investigator to look at).
QUARANTINE_TEXT_MAX: Final = 65_536
RESULT_TABLES: Final = ("features", "stress", "sessions")
# Event types that hold raw signal samples (one point per sample in InfluxDB, docs/schema.md).
RAW_TYPES: Final = ("eda", "waveform")


def _raw_filter(raw: bool | None) -> str:
    """The SQL condition (after ``WHERE ...``) picking raw, other or all events."""
    if raw is None:
        return ""
    types = ", ".join(f"'{t}'" for t in RAW_TYPES)
    return f" AND type {'IN' if raw else 'NOT IN'} ({types})"


# Version 1, exactly as the first release created it. New stores are created with it and
# then migrated, so every store goes through the same migration code.
_SCHEMA_V1: Final = """
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
INSERT OR IGNORE INTO meta VALUES ('schema_version', '1');
"""

# 1 -> 2: the outbox. Existing result rows get sequence numbers in table order, so a sink
# ships them once like new rows.
_MIGRATE_V2: Final = """
ALTER TABLE features ADD COLUMN seq INTEGER;
ALTER TABLE stress ADD COLUMN seq INTEGER;
ALTER TABLE sessions ADD COLUMN seq INTEGER;
UPDATE features SET seq = rowid;
UPDATE stress SET seq = rowid + (SELECT COALESCE(MAX(seq), 0) FROM features);
UPDATE sessions SET seq = rowid + (
    SELECT MAX(m) FROM (
        SELECT COALESCE(MAX(seq), 0) AS m FROM features
        UNION ALL SELECT COALESCE(MAX(seq), 0) FROM stress
    )
);
INSERT OR REPLACE INTO meta VALUES ('result_seq', (
    SELECT MAX(m) FROM (
        SELECT COALESCE(MAX(seq), 0) AS m FROM features
        UNION ALL SELECT COALESCE(MAX(seq), 0) FROM stress
        UNION ALL SELECT COALESCE(MAX(seq), 0) FROM sessions
    )
));
CREATE UNIQUE INDEX features_seq ON features (seq);
CREATE UNIQUE INDEX stress_seq ON stress (seq);
CREATE UNIQUE INDEX sessions_seq ON sessions (seq);
CREATE TABLE sink_cursors (
    target TEXT NOT NULL,
    stream TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (target, stream)
);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    stream TEXT NOT NULL,
    position INTEGER NOT NULL,
    rejected_ns INTEGER NOT NULL,
    status INTEGER NOT NULL,
    message TEXT NOT NULL,
    line TEXT NOT NULL
);
"""

# 2 -> 3: events refused at a boundary, kept apart with the reason.
_MIGRATE_V3: Final = """
CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY,
    received_ns INTEGER NOT NULL,
    source TEXT NOT NULL,
    participant TEXT NOT NULL,
    reason TEXT NOT NULL,
    content TEXT NOT NULL
);
"""

_MIGRATIONS: Final = {2: _MIGRATE_V2, 3: _MIGRATE_V3}

_RESULT_COLUMNS: Final = {
    "features": "study, participant, time_ns, vals, quality, reasons",
    "stress": "study, participant, time_ns, stress_index, confidence, components, version, reason",
    "sessions": "study, participant, kind, start_ns, end_ns, mode, label, note",
}

EventRow = tuple[int, str, int, str, str, str, str]
"""A raw event as stored: ``(id, type, time_ns, participant, study, device, payload)``."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A line a sink's server rejected for good (400/422), kept with the server's message."""

    target: str
    stream: str
    position: int  # event id or result seq it came from
    rejected_ns: int
    status: int
    message: str
    line: str


@dataclass(frozen=True, slots=True)
class Quarantined:
    """An event refused at a boundary: where it came from, why, and what arrived."""

    received_ns: int
    source: str  # e.g. "mqtt stresstrack/v1/...", "collect", "store event 12"
    participant: str
    reason: str
    content: str  # as received (cut at QUARANTINE_TEXT_MAX characters)


def _safe_text(text: str) -> str:
    """Text SQLite can store: lone surrogates escaped, cut at the quarantine limit."""
    return text[:QUARANTINE_TEXT_MAX].encode("utf-8", "backslashreplace").decode("utf-8")


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


class StoreError(Exception):
    """The store file cannot be opened or is not a stresstrack store."""


class Store:
    """One SQLite file. Use as a context manager; every ``add_*`` call is one transaction."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.skipped_events = 0  # stored events outside the limits that iter_events skipped
        if readonly and not self.path.exists():
            raise StoreError(f"{self.path}: no such store")
        if not readonly and not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Health data: the file is created readable by its owner only (SQLite gives its
            # -wal and -shm files the same permissions).
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        uri = f"file:{quote(str(self.path))}" + ("?mode=ro" if readonly else "")
        try:
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open ({exc})") from exc
        try:
            self._db.execute("PRAGMA busy_timeout = 30000")
            if not readonly:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._create_or_migrate()
            version = self._db.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(f"{self.path}: not a stresstrack store ({exc})") from exc
        except StoreError:
            self._db.close()
            raise
        if version is None:
            self._db.close()
            raise StoreError(f"{self.path}: not a stresstrack store (no schema version)")
        self.schema_version = int(version[0])
        if self.schema_version > SCHEMA_VERSION:
            self._db.close()
            raise StoreError(
                f"{self.path}: written by a newer stresstrack (schema version "
                f"{self.schema_version}, this one reads up to {SCHEMA_VERSION}); upgrade"
            )

    def _create_or_migrate(self) -> None:
        """Create the schema or bring it to :data:`SCHEMA_VERSION`, in one transaction."""
        with self._transaction():
            tables = {
                str(r[0])
                for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            if tables and "meta" not in tables:
                raise StoreError(f"{self.path}: not a stresstrack store (an other SQLite file)")
            for statement in _statements(_SCHEMA_V1):
                self._db.execute(statement)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                raise StoreError(f"{self.path}: not a stresstrack store (no schema version)")
            version = int(row[0])
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _statements(_MIGRATIONS[target]):
                    self._db.execute(statement)
                self._db.execute(
                    "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(target),)
                )

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
    def add_events(
        self,
        events: Sequence[Event],
        *,
        unless_stored_by: int | None = None,
        meta: Mapping[str, str] | None = None,
    ) -> list[Event]:
        """Append raw events in one transaction, in the order given (arrival order).

        ``unless_stored_by``: leave out every event already stored with an id up to this one
        (same participant, device, type, time and body: events are keyed by their source
        and time), so that a replay run again into the same store adds nothing. ``meta``
        entries are set in the same transaction (e.g. how far a sender's sequence got).
        Returns the events written.
        """
        if not events and not meta:
            return []
        rows = []
        kept: list[Event] = []
        if unless_stored_by is not None and unless_stored_by < 1:
            unless_stored_by = None  # ids start at 1: a store without events holds none of these
        for e in events:
            type_name, payload = event_to_payload(e)
            row = (e.time_ns, e.study, e.participant, e.device, type_name, payload)
            if (
                unless_stored_by is not None
                and self._db.execute(
                    "SELECT 1 FROM events WHERE participant = ? AND time_ns = ? AND device = ? "
                    "AND type = ? AND payload = ? AND id <= ? LIMIT 1",
                    (e.participant, e.time_ns, e.device, type_name, payload, unless_stored_by),
                ).fetchone()
            ):
                continue
            rows.append(row)
            kept.append(e)
        if not rows and not meta:
            return []
        with self._transaction():
            self._db.executemany(
                "INSERT INTO events (time_ns, study, participant, device, type, payload) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            if meta:
                self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
        return kept

    def add_results(
        self,
        features: Sequence[FeatureRow] = (),
        stress: Sequence[StressRow] = (),
        sessions: Sequence[Session] = (),
    ) -> None:
        """Write pipeline results in one transaction; a row for the same key is replaced.

        Every row written takes the next number of the store-wide sequence ``seq``, so a
        replaced row (a session that closes, a re-run) is newer than anything a sink shipped.
        """
        if not (features or stress or sessions):
            return
        tables: dict[str, list[tuple[object, ...]]] = {
            "features": [
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
            "stress": [
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
            "sessions": [
                (x.study, x.participant, x.kind, x.start_ns, x.end_ns, x.mode, x.label, x.note)
                for x in sessions
            ],
        }
        with self._transaction():
            row = self._db.execute("SELECT value FROM meta WHERE key = 'result_seq'").fetchone()
            seq = int(row[0])
            for table, rows in tables.items():
                if not rows:
                    continue
                numbered = [(*r, seq + i) for i, r in enumerate(rows, start=1)]
                seq += len(rows)
                marks = ", ".join("?" * len(numbered[0]))
                self._db.executemany(
                    f"INSERT OR REPLACE INTO {table} ({_RESULT_COLUMNS[table]}, seq) "
                    f"VALUES ({marks})",
                    numbered,
                )
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'result_seq'", (str(seq),))

    def quarantine(self, entries: Sequence[Quarantined]) -> None:
        """Keep refused events apart from the data, in one transaction."""
        if not entries:
            return
        with self._transaction():
            self._db.executemany(
                "INSERT INTO quarantine (received_ns, source, participant, reason, content) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        q.received_ns,
                        _safe_text(q.source),
                        _safe_text(q.participant),
                        _safe_text(q.reason),
                        _safe_text(q.content),
                    )
                    for q in entries
                ],
            )

    def quarantined(self) -> list[Quarantined]:
        """The events refused so far, oldest first (none in stores before schema 3)."""
        if self.schema_version < 3:
            return []
        rows = self._db.execute(
            "SELECT received_ns, source, participant, reason, content FROM quarantine ORDER BY id"
        )
        return [Quarantined(*r) for r in rows]

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    # -- reading -----------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def meta_items(self, prefix: str) -> list[tuple[str, str]]:
        """``(key, value)`` of the meta keys starting with ``prefix``, sorted by key."""
        rows = self._db.execute(
            "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ? ORDER BY key",
            (len(prefix), prefix),
        ).fetchall()
        return [(str(k), str(v)) for k, v in rows]

    def participants(self) -> list[str]:
        rows = self._db.execute("SELECT DISTINCT participant FROM events ORDER BY 1").fetchall()
        names = {str(r[0]) for r in rows}
        for table in ("features", "stress", "sessions"):
            names |= {
                str(r[0]) for r in self._db.execute(f"SELECT DISTINCT participant FROM {table}")
            }
        return sorted(names)

    def iter_events(
        self,
        participant: str | None = None,
        *,
        batch: int = 5000,
        types: Sequence[str] = (),
    ) -> Iterator[Event]:
        """Raw events in the order they were stored (arrival order), optionally one participant
        and only the event types named (``EVENT_TYPES`` keys, e.g. ``("selfreport",)``)."""
        sql = (
            "SELECT id, type, time_ns, participant, study, device, payload FROM events WHERE id > ?"
        )
        params: list[object] = []
        if participant is not None:
            sql += " AND participant = ?"
            params.append(participant)
        if types:
            sql += f" AND type IN ({', '.join('?' * len(types))})"
            params.extend(types)
        sql += " ORDER BY id LIMIT ?"
        last = 0
        while True:
            rows = self._db.execute(sql, (last, *params, batch)).fetchall()
            if not rows:
                return
            for rid, type_name, time_ns, part, study, device, payload in rows:
                try:
                    event = event_from_payload(type_name, time_ns, part, study, device, payload)
                except EventError as exc:
                    # Stored by an older release or another tool: skipped, never fatal.
                    self.skipped_events += 1
                    log.warning("%s: stored event %d skipped: %s", self.path, rid, exc)
                    continue
                yield event
            last = rows[-1][0]

    def count(self, table: str) -> int:
        if table not in {"events", "features", "stress", "sessions"}:
            raise ValueError(f"unknown table {table!r}")
        return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def features(self, participant: str | None = None) -> list[FeatureRow]:
        return [_feature(r) for r in self._select("features", participant, "time_ns")]

    def stress(self, participant: str | None = None) -> list[StressRow]:
        return [_stress(r) for r in self._select("stress", participant, "time_ns")]

    def sessions(self, participant: str | None = None) -> list[Session]:
        return [_session(r) for r in self._select("sessions", participant, "start_ns")]

    def feature_columns(
        self, participant: str, keys: Sequence[str]
    ) -> tuple[list[int], list[list[float | None]]]:
        """Window end times and the values of ``keys`` (one list per key, None where
        missing) of one participant's features, in time order, without decoding whole rows
        (a week of 5 s windows holds ~120,000 rows of ~60 features)."""
        for k in keys:
            if not k.replace("_", "").isalnum():
                raise ValueError(f"feature name {k!r}: letters, digits and _ only")
        picks = "".join(f", json_extract(vals, '$.{k}')" for k in keys)
        rows = self._db.execute(
            f"SELECT time_ns{picks} FROM features WHERE participant = ? ORDER BY time_ns",
            (participant,),
        )
        times: list[int] = []
        columns: list[list[float | None]] = [[] for _ in keys]
        for r in rows:
            times.append(int(r[0]))
            for column, v in zip(columns, r[1:], strict=True):
                column.append(float(v) if isinstance(v, int | float) else None)
        return times, columns

    def stress_columns(self, participant: str) -> tuple[list[int], list[float | None], list[float]]:
        """Window end times, stress index (None where missing) and confidence of one
        participant, in time order."""
        rows = self._db.execute(
            "SELECT time_ns, stress_index, confidence FROM stress WHERE participant = ? "
            "ORDER BY time_ns",
            (participant,),
        ).fetchall()
        return ([int(r[0]) for r in rows], [None if r[1] is None else float(r[1]) for r in rows],
                [float(r[2]) for r in rows])  # fmt: skip

    def _select(self, table: str, participant: str | None, order: str) -> list[Any]:
        sql = f"SELECT {_RESULT_COLUMNS[table]} FROM {table}"
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

    # -- outbox (sinks) ----------------------------------------------------------------------
    def event_rows_after(
        self, after_id: int, limit: int, *, raw: bool | None = None
    ) -> list[EventRow]:
        """Stored events with ``id > after_id`` in id (arrival) order, at most ``limit``.

        ``raw`` picks only raw signal samples (``RAW_TYPES``: EDA and waveform chunks) when
        true, only the other events when false, all events when ``None``.
        """
        rows = self._db.execute(
            "SELECT id, type, time_ns, participant, study, device, payload FROM events "
            f"WHERE id > ?{_raw_filter(raw)} ORDER BY id LIMIT ?",
            (after_id, limit),
        ).fetchall()
        return [tuple(r) for r in rows]

    def result_rows_after(
        self, table: str, after_seq: int, limit: int
    ) -> list[tuple[int, FeatureRow | StressRow | Session]]:
        """``(seq, row)`` of ``table`` with ``seq > after_seq`` in seq order, at most ``limit``."""
        if table not in RESULT_TABLES:
            raise ValueError(f"unknown result table {table!r}")
        rows = self._db.execute(
            f"SELECT seq, {_RESULT_COLUMNS[table]} FROM {table} WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        build = _ROW_BUILDERS[table]
        return [(int(r[0]), build(r[1:])) for r in rows]

    def same_instant_rank(self, row: EventRow) -> int:
        """How many earlier events of the same type, participant and device share its time."""
        rid, type_name, time_ns, participant, _study, device, _payload = row
        found = self._db.execute(
            "SELECT COUNT(*) FROM events WHERE participant = ? AND time_ns = ? AND type = ? "
            "AND device = ? AND id < ?",
            (participant, time_ns, type_name, device, rid),
        ).fetchone()
        return int(found[0])

    def pending_counts(self, positions: Mapping[str, int]) -> dict[str, tuple[int, int]]:
        """Per stream, ``(rows, samples)`` after the given cursor positions.

        Raw events are two streams: ``events`` (beats, readings, markers, status) and ``raw``
        (EDA and waveform chunks, ``RAW_TYPES``), each with its own cursor.

        ``samples`` counts the points raw events make: one per beat, reading, marker and
        status, one per sample of EDA and waveform chunks.
        """
        out: dict[str, tuple[int, int]] = {}
        for stream, raw in (("events", False), ("raw", True)):
            rows, samples = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(CASE type "
                "WHEN 'eda' THEN json_array_length(payload, '$.values_us') "
                "WHEN 'waveform' THEN json_array_length(payload, '$.values') ELSE 1 END), 0) "
                f"FROM events WHERE id > ?{_raw_filter(raw)}",
                (positions.get(stream, 0),),
            ).fetchone()
            out[stream] = (int(rows), int(samples))
        for table in RESULT_TABLES:
            n = int(
                self._db.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE seq > ?", (positions.get(table, 0),)
                ).fetchone()[0]
            )
            out[table] = (n, n)
        return out

    def last_positions(self) -> dict[str, int]:
        """The newest position of every stream: last event id, last seq of each result table."""
        out = {
            "events": int(self._db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])
        }
        for table in RESULT_TABLES:
            out[table] = int(
                self._db.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {table}").fetchone()[0]
            )
        return out

    def sink_positions(self, target: str) -> dict[str, int]:
        """A sink's cursors: the last position it delivered, per stream (0 = nothing yet)."""
        rows = self._db.execute(
            "SELECT stream, position FROM sink_cursors WHERE target = ?", (target,)
        ).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def advance_sink(
        self,
        target: str,
        stream: str,
        position: int,
        dead: Sequence[tuple[int, int, str, str]] = (),
        *,
        rejected_ns: int = 0,
    ) -> None:
        """Move a sink's cursor to ``position`` and record its dead letters, atomically.

        ``dead`` holds ``(position, status, message, line)`` of each rejected line.
        """
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO sink_cursors VALUES (?, ?, ?)", (target, stream, position)
            )
            self._db.executemany(
                "INSERT INTO dead_letters "
                "(target, stream, position, rejected_ns, status, message, line) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(target, stream, p, rejected_ns, st, msg, line) for p, st, msg, line in dead],
            )

    def dead_letters(self, target: str | None = None) -> list[DeadLetter]:
        sql = (
            "SELECT target, stream, position, rejected_ns, status, message, line FROM dead_letters"
        )
        params: tuple[str, ...] = ()
        if target is not None:
            sql += " WHERE target = ?"
            params = (target,)
        return [DeadLetter(*r) for r in self._db.execute(sql + " ORDER BY id", params)]


def _feature(r: Sequence[Any]) -> FeatureRow:
    return FeatureRow(
        study=r[0],
        participant=r[1],
        time_ns=r[2],
        values=json.loads(r[3]),
        quality=json.loads(r[4]),
        reasons=json.loads(r[5]),
    )


def _stress(r: Sequence[Any]) -> StressRow:
    return StressRow(
        study=r[0],
        participant=r[1],
        time_ns=r[2],
        index=r[3],
        confidence=r[4],
        components=json.loads(r[5]),
        version=r[6],
        reason=r[7],
    )


def _session(r: Sequence[Any]) -> Session:
    return Session(
        study=r[0],
        participant=r[1],
        kind=r[2],
        start_ns=r[3],
        end_ns=r[4],
        mode=r[5],
        label=r[6],
        note=r[7],
    )


_ROW_BUILDERS: Final[dict[str, Callable[[Sequence[Any]], FeatureRow | StressRow | Session]]] = {
    "features": _feature,
    "stress": _stress,
    "sessions": _session,
}


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
