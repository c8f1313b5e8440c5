"""A store as a BIDS dataset (``stresstrack export STORE --bids DIR``).

Layout (BIDS 1.9, "Physiological recordings" and "Behavioral experiments"; one recording per
participant, so no ``ses-`` level)::

    dataset_description.json  README  participants.tsv  participants.json
    sub-<id>/sub-<id>_scans.tsv                        # acquisition time (UTC) of each file
    sub-<id>/beh/sub-<id>_task-<protocol>_events.tsv   # sessions, markers and beats
    sub-<id>/beh/sub-<id>_task-<protocol>_recording-<signal>_physio.tsv.gz  (+ .json)

``<signal>`` is ``eda`` (µS), ``ecg`` (µV) and ``ppg`` at the device's rate, and ``features``:
the rows of ``stresstrack export --table features`` (same column names, ``time``,
``participant``, ``study`` and ``reasons`` left out) at one row per hop. Physio files are
continuous on their sampling grid: a sample missing there (a gap) is ``n/a``. Time zero of
every file of a participant is their first event; ``scans.tsv`` gives its UTC date and time.
Beats, irregular by nature, are rows of the events file (``trial_type`` ``beat``, ``rr_ms``).

BIDS labels are letters and digits only: ``p-01`` becomes ``sub-p01`` (``participants.tsv``
keeps the pseudonym), and two pseudonyms that would give the same label are an error. Only
pseudonyms leave the store. Files are written owner-only, like the store.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from stresstrack import __version__
from stresstrack.errors import StressTrackError
from stresstrack.events import Beat, EdaSamples, Marker, MarkerAction, Waveform, WaveformKind
from stresstrack.export.tables import iso_utc, table_rows
from stresstrack.files import write_private
from stresstrack.replay.csv_generic import parse_time
from stresstrack.store.sqlite import Store

__all__ = ["BIDS_VERSION", "BidsSummary", "bids_label", "export_bids"]

BIDS_VERSION: Final = "1.9.0"
NS: Final = 1_000_000_000
_NOT_LABEL: Final = re.compile(r"[^A-Za-z0-9]")
_SKIPPED_FEATURE_COLUMNS: Final = frozenset({"time", "participant", "study", "reasons"})
_UNITS: Final = {"eda": "uS", "ecg": "uV", "ppg": "arbitrary"}
_DESCRIPTIONS: Final = {
    "eda": "skin conductance (electrodermal activity)",
    "ecg": "electrocardiogram",
    "ppg": "photoplethysmogram",
}


def bids_label(text: str) -> str:
    """A BIDS label (letters and digits) of a pseudonym or protocol name.

    >>> bids_label("p-01"), bids_label("stress-selfcare-recovery")
    ('p01', 'stressselfcarerecovery')
    """
    label = _NOT_LABEL.sub("", text)
    if not label:
        raise StressTrackError(f"{text!r} has no letter or digit to make a BIDS label of")
    return label


@dataclass(frozen=True, slots=True)
class BidsSummary:
    participants: int
    files: int


def _na(v: float | None) -> str:
    return "n/a" if v is None or v != v else repr(float(v))


def _json(path: Path, obj: Any) -> None:
    write_private(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def _tsv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    lines = ["\t".join(header), *("\t".join(r) for r in rows)]
    write_private(path, "\n".join(lines) + "\n")


@dataclass
class _Sampled:
    rate: float
    times: list[int]
    values: list[float]


def grid(times: Sequence[int], values: Sequence[float], rate: float) -> npt.NDArray[np.float64]:
    """Samples on their regular grid from the first one; missing grid points are NaN.

    >>> grid([0, 250_000_000, 1_000_000_000], [1.0, 2.0, 5.0], 4.0).tolist()
    [1.0, 2.0, nan, nan, 5.0]
    """
    t = np.asarray(times, dtype=np.int64)
    index = np.rint((t - t[0]) * rate / NS).astype(np.int64)
    out = np.full(int(index[-1]) + 1, np.nan)
    out[index] = values
    return out


def _physio(
    base: Path, signal: str, t0: int, start_ns: int, rate: float, columns: dict[str, Any]
) -> list[Path]:
    """Write ``<base>_recording-<signal>_physio.tsv.gz`` and its sidecar."""
    names = list(columns)
    arrays = [np.asarray(columns[n], dtype=float) for n in names]
    rows = ("\t".join(_na(a[i]) for a in arrays) for i in range(len(arrays[0])))
    data = Path(f"{base}_recording-{signal}_physio.tsv.gz")
    write_private(data, "\n".join(rows) + "\n")
    side: dict[str, Any] = {
        "SamplingFrequency": rate,
        "StartTime": (start_ns - t0) / NS,
        "Columns": names,
    }
    if signal in _UNITS:
        side[names[0]] = {"Description": _DESCRIPTIONS[signal], "Units": _UNITS[signal]}
    side["Manufacturer"] = "stresstrack"
    side["SoftwareVersions"] = __version__
    sidecar = Path(f"{base}_recording-{signal}_physio.json")
    _json(sidecar, side)
    return [data, sidecar]


def _events_rows(
    store: Store, pid: str, t0: int, beats: Sequence[Beat], markers: Sequence[Marker]
) -> list[list[str]]:
    rows: list[tuple[int, list[str]]] = []
    for s in store.sessions(pid):
        duration = "n/a" if s.end_ns is None else repr((s.end_ns - s.start_ns) / NS)
        rows.append(
            (s.start_ns, [repr((s.start_ns - t0) / NS), duration, s.kind, s.mode or "n/a",
                          s.label or "n/a", "n/a"])
        )  # fmt: skip
    for m in markers:
        if m.action is MarkerAction.EVENT:
            rows.append(
                (m.time_ns, [repr((m.time_ns - t0) / NS), "0.0", m.kind, m.mode or "n/a",
                             m.label or "n/a", "n/a"])
            )  # fmt: skip
    for b in beats:
        rows.append((b.time_ns, [repr((b.time_ns - t0) / NS), "0.0", "beat", "n/a", "n/a",
                                 repr(b.rr_ms)]))  # fmt: skip
    rows.sort(key=lambda r: r[0])
    return [r for _, r in rows]


_EVENTS_JSON: Final = {
    "onset": {"Description": "seconds since the participant's first recorded event",
              "Units": "s"},
    "duration": {"Description": "session length (0 for point events and beats; n/a for a "
                 "session still open)", "Units": "s"},
    "trial_type": {"Description": "session kind (baseline, stressor, self-care, recovery...), "
                   "point event, or 'beat' for one beat-to-beat interval ending at onset"},
    "mode": {"Description": "session mode (solo, partner)"},
    "label": {"Description": "product or study arm of the session"},
    "rr_ms": {"Description": "beat-to-beat (RR) interval ending at onset", "Units": "ms"},
}  # fmt: skip


def _features(store: Store, pid: str) -> tuple[list[str], list[int], list[list[float]]]:
    rows = table_rows(store, "features", pid)
    header = next(rows)
    keep = [i for i, h in enumerate(header) if h not in _SKIPPED_FEATURE_COLUMNS]
    times: list[int] = []
    values: list[list[float]] = []
    for r in rows:
        times.append(parse_time(r[0]))
        values.append([float(r[i]) if r[i] else np.nan for i in keep])
    return [header[i] for i in keep], times, values


def export_bids(store: Store, out: Path, *, task: str | None = None) -> BidsSummary:
    """Write the store as a BIDS dataset in ``out`` (see the module's documentation)."""
    participants = store.participants()
    if not participants:
        raise StressTrackError(f"{store.path}: no participants to export")
    labels: dict[str, str] = {}
    for pid in participants:
        label = bids_label(pid)
        if label in labels.values():
            other = next(p for p, lb in labels.items() if lb == label)
            raise StressTrackError(
                f"participants {other} and {pid} would both be sub-{label} in BIDS (labels are "
                "letters and digits only): rename one"
            )
        labels[pid] = label
    task_label = bids_label(task or store.meta("protocol") or "stresstrack")
    study = store.meta("study") or "stresstrack"
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    files: list[Path] = []
    _json(out / "dataset_description.json", {
        "Name": f"stresstrack study {study}",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "raw",
        "GeneratedBy": [{"Name": "stresstrack", "Version": __version__}],
    })  # fmt: skip
    write_private(out / "README", f"Study {study}, exported by stresstrack {__version__}.\n"
           "Pseudonymous participants; physiological recordings in sub-*/beh.\n")  # fmt: skip
    _tsv(
        out / "participants.tsv",
        ["participant_id", "pseudonym"],
        [[f"sub-{labels[p]}", p] for p in participants],
    )
    _json(out / "participants.json", {
        "pseudonym": {"Description": "the participant's pseudonymous ID in stresstrack"}
    })  # fmt: skip
    _json(out / f"task-{task_label}_events.json", _EVENTS_JSON)
    files += [out / n for n in ("dataset_description.json", "README", "participants.tsv")]
    for pid in participants:
        files += _participant(store, out, pid, labels[pid], task_label)
    return BidsSummary(len(participants), len(files))


def _participant(store: Store, out: Path, pid: str, label: str, task: str) -> list[Path]:
    beats: list[Beat] = []
    markers: list[Marker] = []
    sampled: dict[tuple[str, str], _Sampled] = {}
    t0: int | None = None
    for e in store.iter_events(pid):
        t0 = e.time_ns if t0 is None else min(t0, e.time_ns)
        if isinstance(e, Beat):
            beats.append(e)
        elif isinstance(e, Marker):
            markers.append(e)
        elif isinstance(e, EdaSamples | Waveform):
            if isinstance(e, EdaSamples):
                signal, values = "eda", e.values_us
            else:
                signal = "ecg" if e.kind is WaveformKind.ECG else "ppg"
                values = e.values
            s = sampled.setdefault((signal, e.device), _Sampled(e.sampling_rate, [], []))
            s.times.extend(e.time_ns + round(i * NS / e.sampling_rate) for i in range(len(values)))
            s.values.extend(values)
    if t0 is None:
        return []
    sub = out / f"sub-{label}"
    base = sub / "beh" / f"sub-{label}_task-{task}"
    files: list[Path] = []
    scans: list[list[str]] = []
    signals = defaultdict(list)
    for (signal, _device), s in sorted(sampled.items()):
        signals[signal].append(s)
    for signal, streams in signals.items():
        s = max(streams, key=lambda x: len(x.values))  # one device per signal: the longest
        order = np.argsort(np.asarray(s.times, dtype=np.int64), kind="stable")
        times = [s.times[i] for i in order]
        ordered = [s.values[i] for i in order]
        files += _physio(base, signal, t0, times[0], s.rate,
                         {signal: grid(times, ordered, s.rate)})  # fmt: skip
        scans.append([f"beh/{files[-2].name}", iso_utc(times[0])[:-1]])
    names, ftimes, fvalues = _features(store, pid)
    if len(ftimes) >= 2:
        step = int(np.median(np.diff(np.asarray(ftimes, dtype=np.int64))))
        rate = NS / step
        cols = {n: grid(ftimes, [r[i] for r in fvalues], rate)
                for i, n in enumerate(names)}  # fmt: skip
        files += _physio(base, "features", t0, ftimes[0], rate, cols)
        scans.append([f"beh/{files[-2].name}", iso_utc(ftimes[0])[:-1]])
    events = Path(f"{base}_events.tsv")
    _tsv(events, ["onset", "duration", "trial_type", "mode", "label", "rr_ms"],
         _events_rows(store, pid, t0, beats, markers))  # fmt: skip
    files.append(events)
    scans.insert(0, [f"beh/{events.name}", iso_utc(t0)[:-1]])
    scans_file = sub / f"sub-{label}_scans.tsv"
    _tsv(scans_file, ["filename", "acq_time"], scans)
    files.append(scans_file)
    return files
