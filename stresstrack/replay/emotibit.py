"""EmotiBit recordings, as parsed by the EmotiBit DataParser: one CSV file per type tag.

Layout (EmotiBit_Docs ``Working_with_emotibit_data.md``, "Parsed Data File Format", and the
DataParser source, which writes this header): the raw file ``2019-01-30_11-57-13-492.csv``
parses into ``2019-01-30_11-57-13-492_<TAG>.csv`` files whose header is
``LocalTimestamp,EmotiBitTimestamp,PacketNumber,DataLength,TypeTag,ProtocolVersion,
DataReliability,<TAG>`` and whose rows hold one data point each::

    1726714786.598369,531473.000,17305,3,AX,1,100,-0.436

``LocalTimestamp`` is Unix time in seconds; rows of one packet share ``PacketNumber`` (older
parser versions also share its ``LocalTimestamp``). Sampling rates come from the recording's
``<name>_info.json`` (``nominal_srate`` of each ``typeTags`` entry) and default to the rates of
the documented stock firmware (EDA 15 Hz, PPG 25 Hz) when that file is missing.

What becomes what: ``EA`` (EDA, µS) → :class:`~stresstrack.events.EdaSamples`, ``PG`` (PPG
green, the channel wrist heart rate is usually taken from) → PPG
:class:`~stresstrack.events.Waveform`, ``HR`` (bpm) → :class:`~stresstrack.events.HeartRate`,
``BI`` (inter-beat interval, ms) → :class:`~stresstrack.events.Beat` (``FILE``), ``UN`` (user
note) → a point :class:`~stresstrack.events.Marker` of kind ``note``. One event per packet for
sampled signals, at the packet's first ``LocalTimestamp``. Other tags (PPG infrared/red,
motion, temperature, SCR features...) are skipped and listed in the summary.

Size (issue 17): ``_read_file`` is one pass over one EmotiBit file: header, then each row's
time and values checked with the row's line number.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from stresstrack.errors import ImportFormatError
from stresstrack.events import (
    Beat,
    BeatSource,
    Event,
    EventIds,
    HeartRate,
    Marker,
    MarkerAction,
    WaveformKind,
)
from stresstrack.replay.base import (
    DataFile,
    Detection,
    Format,
    ImportOptions,
    ImportStats,
    bad_row,
    check_rate,
    check_value,
    expand_parts,
    folder_participant,
    iter_lines,
    merge_by_time,
    note_unread,
    parse_number,
    parse_unix_ns,
)
from stresstrack.replay.chunks import eda_maker, waveform_maker

__all__ = ["FORMAT", "HEADER"]

HEADER: Final = (
    "LocalTimestamp",
    "EmotiBitTimestamp",
    "PacketNumber",
    "DataLength",
    "TypeTag",
    "ProtocolVersion",
    "DataReliability",
)
USED_TAGS: Final = ("EA", "PG", "HR", "BI", "UN")
# Stock firmware rates, from the sample _info.json in EmotiBit_Docs (firmware 1.12.1).
DEFAULT_RATES: Final = {"EA": 15.0, "PG": 25.0}
MAX_INFO_BYTES: Final = 1 << 20  # the stock _info.json is ~5 KB
DEVICE: Final = "emotibit"
NOTE_KIND: Final = "note"


def _header(path: Path) -> list[str] | None:
    try:
        with path.open("rb") as f:
            first = f.readline(4096).decode("utf-8").removeprefix("\ufeff")
    except (OSError, UnicodeDecodeError):
        return None
    return [c.strip() for c in first.strip().split(",")]


def detect(path: Path) -> Detection | None:
    if path.is_dir():
        return "recording" if _parts([path]) else None
    if path.suffix.lower() == ".csv":
        header = _header(path)
        if header is not None and tuple(header[: len(HEADER)]) == HEADER:
            return "part"
    return None


def _parts(paths: Sequence[Path]) -> list[Path]:
    return expand_parts(paths, lambda f: detect(f) == "part")


def participants(paths: Sequence[Path], options: ImportOptions) -> list[str]:
    return [folder_participant(paths, options)]


def _tag(path: Path) -> str:
    return path.stem.rsplit("_", 1)[-1] if "_" in path.stem else path.stem


def _rates(path: Path, stats: ImportStats) -> dict[str, float]:
    """Nominal rates by type tag from ``<recording>_info.json``, else the stock defaults."""
    base = path.stem.rsplit("_", 1)[0]
    info = path.with_name(f"{base}_info.json")
    rates = dict(DEFAULT_RATES)
    if not info.is_file():
        stats.note(f"{info.name} not found: stock rates used (EDA 15 Hz, PPG 25 Hz)")
        return rates
    try:
        if info.stat().st_size > MAX_INFO_BYTES:
            raise ImportFormatError(str(info), None, f"larger than {MAX_INFO_BYTES} bytes")
        entries = json.loads(info.read_text(encoding="utf-8"))
        for entry in entries:
            details = entry.get("info", {}) if isinstance(entry, dict) else {}
            rate = details.get("nominal_srate")
            if not isinstance(rate, int | float) or not rate > 0:
                continue
            for tag in details.get("typeTags", []):
                if isinstance(tag, str):
                    rates[tag] = float(rate)
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, TypeError) as exc:
        raise ImportFormatError(str(info), None, f"unreadable info file ({exc})") from exc
    except RecursionError:  # JSON nested deeper than Python's stack
        raise ImportFormatError(str(info), None, "unreadable info file (nested too deep)") from None
    for tag, signal in (("EA", "eda"), ("PG", "ppg")):
        check_rate(rates[tag], signal, f"{info}: nominal_srate of {tag}")
    return rates


def read(paths: Sequence[Path], options: ImportOptions, stats: ImportStats) -> Iterator[Event]:
    pid = participants(paths, options)[0]
    files = _parts(paths)
    if not files:
        raise ImportFormatError(str(paths[0]), None, "no EmotiBit parsed files (*_EA.csv...)")
    note_unread(paths, files, "an EmotiBit parsed file", stats)
    ids = EventIds(participant=pid, study=options.study, device=DEVICE)
    streams: list[Iterator[Event]] = []
    for path in files:
        tag = _tag(path)
        if tag not in USED_TAGS:
            stats.note(f"{path.name}: type tag {tag} has no event type, skipped")
            continue
        file = DataFile(path)
        stats.bytes_total += file.size()
        rate = _rates(path, stats).get(tag, 0.0) if tag in DEFAULT_RATES else 0.0
        streams.append(_read_file(file, tag, rate, ids, options, stats))
    return merge_by_time(streams)


def _read_file(
    file: DataFile,
    tag: str,
    rate: float,
    ids: EventIds,
    options: ImportOptions,
    stats: ImportStats,
) -> Iterator[Event]:
    lines = iter_lines(file, stats)
    first = next(lines, None)
    if first is None:
        raise ImportFormatError(file.label, None, "empty file")
    header = [c.strip() for c in first[1].split(",")]
    expected = [*HEADER, tag]
    if header != expected:
        raise ImportFormatError(
            file.label, 1, f"header {header} is not the DataParser header {expected}"
        )
    packet: int | None = None
    packet_t = 0
    values: list[float] = []
    last = -1

    def flush() -> Iterator[Event]:
        if values:
            if tag == "EA":
                yield eda_maker(rate, ids)(packet_t, tuple(values))
            else:
                yield waveform_maker(WaveformKind.PPG, rate, ids)(packet_t, tuple(values))

    try:
        for number, text in lines:
            if not text.strip():
                continue
            fields = text.split(",")
            try:
                if len(fields) < len(expected):
                    raise ValueError(
                        f"{len(fields)} fields, header has {len(expected)} (truncated?)"
                    )
                t = parse_unix_ns(fields[0], "LocalTimestamp")
                if t < last:
                    raise ValueError("time goes backwards (rows must be in time order)")
                if fields[4].strip() != tag:
                    raise ValueError(f"type tag {fields[4].strip()!r} in a {tag} file")
                number_in_file = int(parse_number(fields[2], "PacketNumber"))
                if tag == "UN":
                    value = 0.0
                    note = ",".join(fields[len(HEADER) :]).strip()
                else:
                    quantity = {"EA": "eda_us", "PG": "ppg", "HR": "hr_bpm", "BI": "rr_ms"}[tag]
                    value = check_value(parse_number(fields[len(HEADER)], tag), quantity)
            except ValueError as exc:
                bad_row(file.label, number, str(exc), options, stats)
                continue
            last = t
            stats.rows += 1
            if tag in ("EA", "PG"):
                if packet is not None and number_in_file != packet:
                    yield from flush()
                    values = []
                if not values:
                    packet_t = t
                packet = number_in_file
                values.append(value)
            elif tag == "HR":
                yield HeartRate(time_ns=t, bpm=value, **ids)
            elif tag == "BI":
                yield Beat(time_ns=t, rr_ms=value, source=BeatSource.FILE, **ids)
            else:
                yield Marker(time_ns=t, action=MarkerAction.EVENT, kind=NOTE_KIND, note=note, **ids)
    except ImportFormatError:
        yield from flush()  # hand on the packet read before the error
        raise
    yield from flush()


FORMAT: Final = Format(
    name="emotibit",
    description="EmotiBit DataParser output (*_EA.csv, *_PG.csv, *_HR.csv, *_BI.csv, *_UN.csv)",
    detect=detect,
    participants=participants,
    read=read,
)
