"""Self-report answers and lab values from CSV files (docs/formats.md, "Self-report and lab
CSV").

Self-report: ``time,participant,item,value[,prompt_id]``; lab values:
``time,participant,analyte,value,unit``. ``time`` is Unix seconds or ISO 8601 (naive = UTC),
as in the generic CSV layout. Every row is checked (pseudonymous participant, a known item
within its scale, a finite value); the first bad row stops the import with an error naming
the file and the line, and nothing of the file is stored.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from stresstrack.endpoints.items import Item
from stresstrack.errors import EventError, ImportFormatError
from stresstrack.events import LabSample, SelfReport, validate_participant_id
from stresstrack.limits import check_event
from stresstrack.replay.base import parse_number
from stresstrack.replay.csv_generic import _time

__all__ = ["LAB_COLUMNS", "SELFREPORT_COLUMNS", "read_lab_csv", "read_selfreport_csv"]

SELFREPORT_COLUMNS: Final = ("time", "participant", "item", "value")  # optional: prompt_id
LAB_COLUMNS: Final = ("time", "participant", "analyte", "value", "unit")
DEVICE: Final = "csv"

Row = dict[str, str]


def _rows(
    path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> list[tuple[int, Row]]:
    where = str(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [h.strip().lower() for h in next(reader, [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise ImportFormatError(
                    where,
                    1,
                    f"missing column(s) {', '.join(missing)} (need {','.join(required)}"
                    + (f"[,{','.join(optional)}]" if optional else "")
                    + ")",
                )
            out = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise ImportFormatError(
                        where, reader.line_num, f"{len(row)} fields, the header has {len(header)}"
                    )
                out.append((reader.line_num, dict(zip(header, row, strict=True))))
            return out
    except FileNotFoundError:
        raise ImportFormatError(where, None, "no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ImportFormatError(where, None, f"cannot read ({exc})") from None


def _read(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    build: Callable[[Row], SelfReport | LabSample],
) -> list[SelfReport | LabSample]:
    out: list[SelfReport | LabSample] = []
    for line, row in _rows(path, required, optional):
        try:
            event = build(row)
            check_event(event)
            out.append(event)
        except (ValueError, EventError) as exc:
            raise ImportFormatError(str(path), line, str(exc)) from None
    return out


def read_selfreport_csv(
    path: Path, items: Mapping[str, Item], *, study: str = "default"
) -> list[SelfReport]:
    """The answers of a self-report CSV, each checked against its item's scale."""

    def build(row: Row) -> SelfReport:
        name = row["item"].strip()
        item = items.get(name)
        if item is None:
            raise ValueError(f"unknown item {name!r} (known: {', '.join(sorted(items))})")
        return SelfReport(
            time_ns=_time(row["time"]),
            participant=validate_participant_id(row["participant"].strip()),
            study=study,
            device=DEVICE,
            item=name,
            value=item.check(parse_number(row["value"], name)),
            prompt_id=row.get("prompt_id", "").strip(),
        )

    return [
        e
        for e in _read(path, SELFREPORT_COLUMNS, ("prompt_id",), build)
        if isinstance(e, SelfReport)
    ]


def read_lab_csv(path: Path, *, study: str = "default") -> list[LabSample]:
    """The samples of a lab CSV (any analyte; the unit is kept as written)."""

    def build(row: Row) -> LabSample:
        analyte, unit = row["analyte"].strip().lower(), row["unit"].strip()
        if not unit:
            raise ValueError(f"{analyte or 'value'}: the unit is empty (e.g. nmol/L)")
        value = parse_number(row["value"], analyte or "lab")
        if value < 0:
            raise ValueError(f"{analyte}: a concentration cannot be negative ({value:g})")
        return LabSample(
            time_ns=_time(row["time"]),
            participant=validate_participant_id(row["participant"].strip()),
            study=study,
            device=DEVICE,
            analyte=analyte,
            value=value,
            unit=unit,
        )

    return [e for e in _read(path, LAB_COLUMNS, (), build) if isinstance(e, LabSample)]
