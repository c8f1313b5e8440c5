"""The days analysis as tables: days.csv, episodes.csv, rhythm.csv and selfcare.csv
(docs/days.md lists the columns). Cells are strings; empty where there is no value."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

import pandas as pd

from stresstrack.days.cosinor import Cosinor, Stability
from stresstrack.days.load import STATES
from stresstrack.days.profile import StudyDays
from stresstrack.days.selfcare import MeanCI
from stresstrack.outputs import csv_safe, private_output

__all__ = [
    "TABLE_FILES",
    "days_rows",
    "episodes_rows",
    "rhythm_rows",
    "selfcare_rows",
    "write_days_tables",
]

Row = list[str]
_COSINOR: Final = ("mesor", "mesor_lo", "mesor_hi", "amplitude", "amplitude_lo", "amplitude_hi",
                   "acrophase_h", "acrophase_lo_h", "acrophase_hi_h", "p")  # fmt: skip


def _num(x: float | None, digits: int = 3) -> str:
    return "" if x is None or not math.isfinite(x) else f"{round(x, digits):g}"


def _time(time_ns: int | None, tz: str) -> str:
    if time_ns is None:
        return ""
    return pd.Timestamp(time_ns, unit="ns", tz="UTC").tz_convert(tz).isoformat()


def _cosinor(c: Cosinor | None) -> Row:
    if c is None:
        return [""] * len(_COSINOR)
    values = (c.mesor, *c.mesor_ci, c.amplitude, *c.amplitude_ci, c.acrophase_h,
              *c.acrophase_ci)  # fmt: skip
    return [*(_num(v) for v in values), "" if not math.isfinite(c.p) else f"{c.p:.3g}"]


def _states_header() -> Row:
    return [f"state_{s.replace(' ', '_')}_min" for s in STATES]


def days_rows(study: StudyDays) -> Iterator[Row]:
    """Header, then one row per participant and local date."""
    yield ["participant", "date", *(f"hr_{c}" for c in _COSINOR),
           *(f"stress_{c}" for c in _COSINOR), "sleep_start", "sleep_end", "sleep_source",
           "sleep_min", "night_hr_bpm", "night_rmssd_ms", "stress_load_min", "load_threshold",
           "episodes", "sessions", *_states_header()]  # fmt: skip
    for r in study.participants:
        tz = r.minutes.tz
        for d in r.days:
            n = d.night
            night = (
                [_time(n.start_ns, tz), _time(n.end_ns, tz), n.source, str(n.sleep_min),
                 _num(n.hr_bpm, 2), _num(n.rmssd_ms, 2)]
                if n is not None else ["", "", "", "", "", ""]
            )  # fmt: skip
            yield [r.participant, d.date.isoformat(), *_cosinor(d.hr), *_cosinor(d.stress),
                   *night, str(d.load_min), _num(d.load_threshold, 2), str(d.episodes),
                   str(d.sessions), *(str(d.states.get(s, 0)) for s in STATES)]  # fmt: skip


def episodes_rows(study: StudyDays) -> Iterator[Row]:
    """Header, then one row per stress episode."""
    yield ["participant", "start", "end", "duration_min", "stressed_min", "peak_time",
           "peak_index", "mean_index"]  # fmt: skip
    for r in study.participants:
        tz = r.minutes.tz
        for e in r.episodes:
            yield [r.participant, _time(e.start_ns, tz), _time(e.end_ns, tz),
                   _num(e.duration_min, 1), str(e.stressed_min), _time(e.peak_ns, tz),
                   _num(e.peak_index, 2), _num(e.mean_index, 2)]  # fmt: skip


def _stab(s: Stability | None) -> Row:
    return ["", ""] if s is None else [_num(s.is_), _num(s.iv)]


def rhythm_rows(study: StudyDays) -> Iterator[Row]:
    """Header, then one row per participant: the rhythm over the whole recording."""
    yield ["participant", "days", *(f"hr_{c}" for c in _COSINOR),
           *(f"stress_{c}" for c in _COSINOR),
           *(f"{k}_{m}" for k in ("activity", "hr", "stress") for m in ("is", "iv"))]  # fmt: skip
    for r in study.participants:
        stab = [x for k in ("activity", "hr", "stress") for x in _stab(r.stability.get(k))]
        yield [r.participant, _num(r.span_days, 2), *_cosinor(r.hr), *_cosinor(r.stress), *stab]


def _mean_row(who: str, m: MeanCI) -> Row:
    return [who, "", "", "", "", "", str(m.n), _num(m.mean, 2), _num(m.ci[0], 2), _num(m.ci[1], 2)]


def selfcare_rows(study: StudyDays) -> Iterator[Row]:
    """Header, one row per self-care session, per participant (``all``) and across them."""
    yield ["participant", "session_start", "label", "after_index", "matched_index",
           "matched_days", "n", "effect", "ci_lo", "ci_hi"]  # fmt: skip
    for r in study.participants:
        tz = r.minutes.tz
        for e in r.selfcare:
            yield [r.participant, _time(e.session.start_ns, tz), e.session.label,
                   _num(e.after, 2), _num(e.matched, 2), str(e.matched_days), "1",
                   _num(e.effect, 2), _num(e.ci[0], 2), _num(e.ci[1], 2)]  # fmt: skip
        if r.selfcare:
            yield _mean_row(r.participant, r.selfcare_mean)
    if study.selfcare.n:
        yield _mean_row("(across participants)", study.selfcare)


TABLE_FILES: Final = {
    "days.csv": days_rows,
    "episodes.csv": episodes_rows,
    "rhythm.csv": rhythm_rows,
    "selfcare.csv": selfcare_rows,
}


def write_days_tables(study: StudyDays, out: Path, names: Sequence[str] = ()) -> list[Path]:
    """Write the tables into folder ``out`` (owner-only files); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in TABLE_FILES.items():
        if names and name not in names:
            continue
        path = out / name
        with private_output(path, newline="") as f:
            w = csv.writer(f)
            for row in rows(study):
                w.writerow([csv_safe(c) for c in row])
        paths.append(path)
    return paths
