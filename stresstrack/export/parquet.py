"""Tables out of a store as Parquet: the same rows and column order as the CSV export.

The rows come from :func:`stresstrack.export.table_rows` (so both formats always agree);
columns are typed: ``time`` and ``end`` as UTC timestamps (µs), text columns as strings,
every other column as float64 with nulls where the CSV has an empty cell.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from stresstrack.export.tables import table_rows
from stresstrack.outputs import private_file
from stresstrack.store.sqlite import Store

__all__ = ["STRING_COLUMNS", "TIME_COLUMNS", "export_table_parquet", "table_parquet"]

TIME_COLUMNS: Final = frozenset({"time", "end"})
STRING_COLUMNS: Final = frozenset(
    {"participant", "study", "kind", "mode", "label", "note", "reasons", "reason", "version"}
    | {"item", "prompt_id", "analyte", "unit", "device"}  # self-report and lab tables
)


def _time(text: str) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _float(text: str) -> float | None:
    return float(text) if text else None


def _column(name: str, cells: list[str]) -> tuple[Any, list[Any]]:
    import pyarrow as pa

    if name in TIME_COLUMNS:
        return pa.timestamp("us", tz="UTC"), [_time(c) for c in cells]
    if name not in STRING_COLUMNS:
        try:
            return pa.float64(), [_float(c) for c in cells]
        except ValueError:
            pass  # a text column this module does not know yet: keep it as text
    return pa.string(), cells


def table_parquet(store: Store, table: str, participant: str | None = None) -> Any:
    """``table`` as a ``pyarrow.Table``."""
    import pyarrow as pa

    rows = table_rows(store, table, participant)
    header = next(rows)
    body = list(rows)
    fields, arrays = [], []
    for i, name in enumerate(header):
        kind, values = _column(name, [r[i] for r in body])
        fields.append(pa.field(name, kind))
        arrays.append(pa.array(values, type=kind))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def export_table_parquet(
    store: Store, table: str, out: Path, participant: str | None = None
) -> int:
    """Write ``table`` to ``out`` as Parquet; return the number of rows."""
    import pyarrow.parquet as pq

    data = table_parquet(store, table, participant)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = private_file(out.with_name(f".{out.name}.tmp"))  # owner-only before any data
    try:
        pq.write_table(data, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return int(data.num_rows)
