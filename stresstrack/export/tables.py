"""Tables out of a store, as CSV: one row per participant and window (or session)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from stresstrack.outputs import csv_safe, private_output
from stresstrack.pipeline.engine import FEATURE_NAMES
from stresstrack.pipeline.stress import COMPONENTS, contributions
from stresstrack.store.sqlite import Store

__all__ = ["TABLES", "export_table", "iso_utc", "table_rows"]

TABLES: Final = ("features", "stress", "sessions", "selfreport", "lab")
_KEYS: Final = ("time", "participant", "study")  # the first columns of every window table
_INDEX: Final = ("stress_index", "stress_confidence")
# Self-report and lab tables: the import CSV's columns first, so an export reads back in.
_ENDPOINT_COLUMNS: Final = {
    "selfreport": ("item", "value", "prompt_id"),
    "lab": ("analyte", "value", "unit"),
}
_QUALITY: Final = (
    "hrv_coverage",
    "hrv_corrected_share",
    "contact_lost_share",
    "beats",
    "eda_coverage",
    "eda_jump_share",
    "eda_low_share",
    "eda_saturated_share",
)


def iso_utc(time_ns: int | None) -> str:
    """ISO 8601 UTC with microseconds, e.g. ``2026-01-05T09:05:00.000000Z``."""
    if time_ns is None:
        return ""
    seconds, ns = divmod(time_ns, 1_000_000_000)
    dt = datetime.fromtimestamp(seconds, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns // 1000:06d}Z"


def _fmt(v: float | int | str | None) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def table_rows(store: Store, table: str, participant: str | None = None) -> Iterator[list[str]]:
    """Header then rows of ``table`` as strings."""
    if table == "features":
        return _feature_rows(store, participant)
    if table == "stress":
        return _stress_rows(store, participant)
    if table == "sessions":
        return _session_rows(store, participant)
    if table in _ENDPOINT_COLUMNS:
        return _endpoint_rows(store, table, participant)
    raise ValueError(f"unknown table {table!r}: choose one of {', '.join(TABLES)}")


def _feature_rows(store: Store, participant: str | None) -> Iterator[list[str]]:
    """One row per window end: every feature, the stress index and its confidence."""
    stress = {(r.participant, r.time_ns): r for r in store.stress(participant)}
    yield [*_KEYS, *FEATURE_NAMES, *_INDEX, *_QUALITY, "reasons"]
    for f in store.features(participant):
        s = stress.get((f.participant, f.time_ns))
        yield [
            iso_utc(f.time_ns),
            f.participant,
            f.study,
            *(_fmt(f.values.get(n)) for n in FEATURE_NAMES),
            _fmt(None if s is None else s.index),
            _fmt(None if s is None else s.confidence),
            *(_fmt(f.quality.get(q)) for q in _QUALITY),
            "; ".join(f"{k}: {v}" for k, v in sorted(f.reasons.items())),
        ]


def _stress_rows(store: Store, participant: str | None) -> Iterator[list[str]]:
    # z: each component's z-score against the baseline; contrib: its weighted, clipped
    # share of the mean z-score the index is computed from (they add up to that mean).
    comps = [c.name for c in COMPONENTS]
    yield [
        *_KEYS,
        *_INDEX,
        *(f"z_{c}" for c in comps),
        *(f"contrib_{c}" for c in comps),
        "version",
        "reason",
    ]
    for s in store.stress(participant):
        zs = [s.components.get(c) for c in comps]
        contrib = contributions(s.components)
        yield [
            iso_utc(s.time_ns),
            s.participant,
            s.study,
            _fmt(s.index),
            _fmt(s.confidence),
            *(_fmt(z) for z in zs),
            *(_fmt(contrib[c]) for c in comps),
            s.version,
            s.reason,
        ]


def _session_rows(store: Store, participant: str | None) -> Iterator[list[str]]:
    yield [*_KEYS, "kind", "mode", "label", "end", "duration_s", "note"]
    for x in store.sessions(participant):
        duration = "" if x.end_ns is None else _fmt((x.end_ns - x.start_ns) / 1e9)
        yield [
            iso_utc(x.start_ns),
            x.participant,
            x.study,
            x.kind,
            x.mode,
            x.label,
            iso_utc(x.end_ns),
            duration,
            x.note,
        ]


def _endpoint_rows(store: Store, table: str, participant: str | None) -> Iterator[list[str]]:
    """Self-report answers or lab values, in the columns their import reads."""
    columns = _ENDPOINT_COLUMNS[table]
    yield ["time", "participant", *columns, "study", "device"]
    for e in store.iter_events(participant, types=(table,)):
        yield [
            iso_utc(e.time_ns),
            e.participant,
            *(_fmt(getattr(e, c)) for c in columns),
            e.study,
            e.device,
        ]


def export_table(store: Store, table: str, out: Path, participant: str | None = None) -> int:
    """Write ``table`` to ``out`` as CSV; return the number of data rows."""
    n = -1
    with private_output(out, newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        for row in table_rows(store, table, participant):
            w.writerow([csv_safe(cell) for cell in row])
            n += 1
    return n
