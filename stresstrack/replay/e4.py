"""Empatica E4 session exports: a folder or zip of CSV files, one per signal.

Layout (Empatica's ``info.txt`` shipped in every export, e.g. the copy in
github.com/im-ethz/flirt ``test/wearable-data/empatica/info.txt``, and its EDA/IBI/HR files):

* ``EDA.csv`` (µS), ``BVP.csv`` (PPG, device units), ``HR.csv`` (bpm), ``TEMP.csv``,
  ``ACC.csv``: line 1 is the session's start as a Unix time in UTC (``1560279825.000000``),
  line 2 the sample rate in Hz (``4.000000``), then one sample per line (ACC: three columns);
* ``IBI.csv``: line 1 is the start time and ``IBI`` (``1560279825.000000, IBI``), then rows
  ``offset_s,ibi_s``: the time of the beat from the start, and the interval it ends, in s;
* ``tags.csv`` (``TAGS.csv`` in some exports): one Unix time per line, one per press of the
  E4's button.

What becomes what: EDA → :class:`~stresstrack.events.EdaSamples`, BVP → PPG
:class:`~stresstrack.events.Waveform`, HR → :class:`~stresstrack.events.HeartRate`, IBI →
:class:`~stresstrack.events.Beat` (``BeatSource.FILE``). TEMP and ACC have no event type and are
skipped (noted in the summary).

Tags: a button press carries no meaning of its own, so each becomes a point
:class:`~stresstrack.events.Marker` (``event``, kind ``tag``, note ``E4 button press N``). When
the protocol told participants to press at the start and at the end of a session,
``--tag-sessions KIND`` pairs presses instead: the 1st, 3rd, ... start a session of KIND and the
2nd, 4th, ... stop it (an unpaired last press leaves the session open).
"""

from __future__ import annotations

import zipfile
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
    NS,
    DataFile,
    Detection,
    Format,
    ImportOptions,
    ImportStats,
    bad_row,
    check_rate,
    check_value,
    iter_lines,
    merge_by_time,
    parse_number,
    parse_unix_ns,
    participant_from_name,
)
from stresstrack.replay.chunks import eda_maker, grid_chunks, waveform_maker

__all__ = ["DEVICE", "FORMAT", "read_session"]

DEVICE: Final = "empatica-e4"
SIGNAL_FILES: Final = ("eda.csv", "bvp.csv", "hr.csv", "ibi.csv")
TAG_FILES: Final = ("tags.csv",)
SKIPPED_FILES: Final = ("temp.csv", "acc.csv")
KNOWN: Final = SIGNAL_FILES + TAG_FILES + SKIPPED_FILES
MAX_RATE_HZ: Final = 10_000.0
MAX_OFFSET_S: Final = 366 * 86_400.0
TAG_KIND: Final = "tag"


def _first_field(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            return f.readline(256).decode("utf-8").split(",")[0].strip()
    except (OSError, UnicodeDecodeError):
        return None


def _looks_numeric(text: str | None) -> bool:
    try:
        return text is not None and float(text) > 0
    except ValueError:
        return False


def detect(path: Path) -> Detection | None:
    if path.is_dir():
        signals = [p for p in path.iterdir() if p.is_file() and p.name.lower() in SIGNAL_FILES]
        return "recording" if any(_looks_numeric(_first_field(p)) for p in signals) else None
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = {n.rsplit("/", 1)[-1].lower() for n in archive.namelist()}
        except (OSError, zipfile.BadZipFile):
            return None
        return "recording" if names & set(SIGNAL_FILES) else None
    if path.name.lower() in SIGNAL_FILES and _looks_numeric(_first_field(path)):
        return "part"
    return None


def _participant_source(paths: Sequence[Path]) -> tuple[Path, bool]:
    first = paths[0]
    if first.is_dir():
        return first, False
    if first.suffix.lower() == ".zip":
        return first, True
    return first.resolve().parent, False


def participants(paths: Sequence[Path], options: ImportOptions) -> list[str]:
    source, use_stem = _participant_source(paths)
    return [participant_from_name(options, source, use_stem=use_stem)]


def session_files(paths: Sequence[Path]) -> dict[str, DataFile]:
    """The session's files by lower-case name (``eda.csv``...), from folders, zips or files."""
    found: dict[str, DataFile] = {}

    def add(name: str, file: DataFile) -> None:
        key = name.lower()
        if key not in KNOWN:
            return
        if key in found:
            raise ImportFormatError(
                file.label, None, f"two {name} files ({found[key].label}): one session at a time"
            )
        found[key] = file

    for path in paths:
        if path.is_dir():
            for p in sorted(path.iterdir()):
                if p.is_file():
                    add(p.name, DataFile(p))
        elif path.suffix.lower() == ".zip":
            try:
                with zipfile.ZipFile(path) as archive:
                    members = [n for n in archive.namelist() if not n.endswith("/")]
            except (OSError, zipfile.BadZipFile) as exc:
                raise ImportFormatError(str(path), None, f"not a zip archive ({exc})") from exc
            for member in sorted(members):
                add(member.rsplit("/", 1)[-1], DataFile(path, member))
        else:
            add(path.name, DataFile(path))
    return found


def read(paths: Sequence[Path], options: ImportOptions, stats: ImportStats) -> Iterator[Event]:
    pid = participants(paths, options)[0]
    files = session_files(paths)
    if not files.keys() & set(SIGNAL_FILES):
        raise ImportFormatError(
            str(paths[0]), None, "no E4 signal files (EDA.csv, BVP.csv, HR.csv, IBI.csv)"
        )
    return read_session(files, EventIds(participant=pid, study=options.study, device=DEVICE),
                        options, stats)  # fmt: skip


def read_session(
    files: dict[str, DataFile], ids: EventIds, options: ImportOptions, stats: ImportStats
) -> Iterator[Event]:
    """Events of one E4 session's files, merged by time."""
    for skipped in SKIPPED_FILES:
        if skipped in files:
            stats.note(f"{files[skipped].name}: no event type for this signal, skipped")
    stats.bytes_total += sum(files[k].size() for k in files if k not in SKIPPED_FILES)
    streams: list[Iterator[Event]] = []
    if "eda.csv" in files:
        streams.append(_sampled(files["eda.csv"], "eda", ids, options, stats))
    if "bvp.csv" in files:
        streams.append(_sampled(files["bvp.csv"], "bvp", ids, options, stats))
    if "hr.csv" in files:
        streams.append(_sampled(files["hr.csv"], "hr", ids, options, stats))
    if "ibi.csv" in files:
        streams.append(_ibi(files["ibi.csv"], ids, options, stats))
    if "tags.csv" in files:
        streams.append(_tags(files["tags.csv"], ids, options, stats))
    return merge_by_time(streams)


def _header(
    lines: Iterator[tuple[int, str]], file: DataFile, *, with_rate: bool
) -> tuple[int, float]:
    """Start time (ns) and sample rate (Hz; 0 for IBI) from the first two lines."""
    first = next(lines, None)
    if first is None:
        raise ImportFormatError(file.label, None, "empty file")
    fields = [f.strip() for f in first[1].split(",")]
    try:
        start = parse_unix_ns(fields[0], "start time")
    except ValueError as exc:
        raise ImportFormatError(file.label, 1, f"{exc} (line 1 is the session start)") from None
    if not with_rate:
        if len(fields) < 2 or fields[1].upper() != "IBI":
            raise ImportFormatError(
                file.label, 1, f"header {first[1].strip()!r} is not '<start time>, IBI'"
            )
        return start, 0.0
    second = next(lines, None)
    if second is None:
        raise ImportFormatError(file.label, None, "truncated: line 2 (the sample rate) is missing")
    try:
        rate = parse_number(second[1].split(",")[0], "sample rate")
    except ValueError as exc:
        raise ImportFormatError(file.label, 2, str(exc)) from None
    if not 0 < rate <= MAX_RATE_HZ:
        raise ImportFormatError(file.label, 2, f"sample rate {rate:g} Hz is impossible")
    return start, rate


def _sampled(
    file: DataFile, signal: str, ids: EventIds, options: ImportOptions, stats: ImportStats
) -> Iterator[Event]:
    lines = iter_lines(file, stats)
    start, rate = _header(lines, file, with_rate=True)
    quantity = {"eda": "eda_us", "bvp": "ppg", "hr": "hr_bpm"}[signal]
    check_rate(rate, {"bvp": "ppg"}.get(signal, signal), file.label, 2)

    def values() -> Iterator[tuple[int, float]]:
        for number, text in lines:
            if not text.strip():
                continue
            try:
                value = check_value(parse_number(text.split(",")[0], signal.upper()), quantity)
            except ValueError as exc:
                bad_row(file.label, number, str(exc), options, stats)
                continue
            stats.rows += 1
            yield number - 3, value  # sample index: data start on line 3

    if signal == "hr":
        for index, bpm in values():
            yield HeartRate(time_ns=start + round(index * NS / rate), bpm=bpm, **ids)
        return
    make = eda_maker(rate, ids) if signal == "eda" else waveform_maker(WaveformKind.PPG, rate, ids)
    yield from grid_chunks(make, start, rate, values())


def _ibi(
    file: DataFile, ids: EventIds, options: ImportOptions, stats: ImportStats
) -> Iterator[Event]:
    lines = iter_lines(file, stats)
    start, _ = _header(lines, file, with_rate=False)
    last = -1
    for number, text in lines:
        if not text.strip():
            continue
        fields = text.split(",")
        try:
            if len(fields) < 2:
                raise ValueError("1 field, expected 'offset_s,ibi_s' (truncated row?)")
            offset_s = parse_number(fields[0], "beat time")
            if not 0 <= offset_s <= MAX_OFFSET_S:
                raise ValueError(f"beat time {offset_s:g} s is not within a year of the start")
            offset_ns = round(offset_s * NS)
            if offset_ns <= last:
                raise ValueError("time goes backwards (beat times must increase)")
            rr_ms = check_value(parse_number(fields[1], "IBI") * 1000.0, "rr_ms", "IBI (ms)")
        except ValueError as exc:
            bad_row(file.label, number, str(exc), options, stats)
            continue
        last = offset_ns
        stats.rows += 1
        yield Beat(time_ns=start + offset_ns, rr_ms=rr_ms, source=BeatSource.FILE, **ids)


def _tags(
    file: DataFile, ids: EventIds, options: ImportOptions, stats: ImportStats
) -> Iterator[Event]:
    last = -1
    presses = 0
    for number, text in iter_lines(file, stats):
        if not text.strip():
            continue
        try:
            t = parse_unix_ns(text.split(",")[0], "tag time")
            if t < last:
                raise ValueError("time goes backwards (tags must be in time order)")
        except ValueError as exc:
            bad_row(file.label, number, str(exc), options, stats)
            continue
        last = t
        presses += 1
        stats.rows += 1
        note = f"E4 button press {presses}"
        if options.tag_sessions is None:
            yield Marker(time_ns=t, action=MarkerAction.EVENT, kind=TAG_KIND, note=note, **ids)
        else:
            action = MarkerAction.START if presses % 2 else MarkerAction.STOP
            yield Marker(time_ns=t, action=action, kind=options.tag_sessions, note=note, **ids)


FORMAT: Final = Format(
    name="e4",
    description="Empatica E4 session export (folder or zip: EDA, BVP, HR, IBI, tags)",
    detect=detect,
    participants=participants,
    read=read,
)
