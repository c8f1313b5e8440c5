"""The Python API for notebooks: a store as pandas DataFrames, and the pipeline on arrays.

Tables have the columns of ``stresstrack export --table ...`` (one definition,
:func:`stresstrack.export.table_rows`, shared with the CSV/Parquet export and the BIDS
``features`` files) and a tz-aware UTC ``DatetimeIndex`` named ``time``; ``end`` columns are
tz-aware too. Empty cells are ``NaN``/``NaT``.

* :func:`open` → :class:`Study`: ``.participants``, ``.features()``, ``.stress()``,
  ``.sessions()``, ``.events(kind)``, ``.analyze()``, ``.days()`` (multi-day tables) and
  ``.profile(participant)`` (one participant's :class:`stresstrack.days.DaysResult`);
* :func:`process` → :class:`Results`: features, stress and sessions of plain arrays (RR
  intervals, skin conductance, markers), through the same pipeline as everything else.
"""

from __future__ import annotations

import builtins
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd

from stresstrack.events import (
    EVENT_TYPES,
    Beat,
    BeatSource,
    EdaSamples,
    Event,
    EventIds,
    Marker,
    MarkerAction,
)
from stresstrack.pipeline.engine import Pipeline, PipelineConfig
from stresstrack.store.sqlite import Store

if TYPE_CHECKING:
    from stresstrack.days import DaysResult

__all__ = ["Results", "Study", "open", "process"]

NS: Final = 1_000_000_000
TableName = Literal["features", "stress", "sessions"]
DEFAULT_START: Final = pd.Timestamp("2000-01-01T00:00:00Z")  # time 0 of relative times


def _table(store: Store, table: TableName, participant: str | None) -> pd.DataFrame:
    from stresstrack.export.parquet import table_parquet

    frame: pd.DataFrame = table_parquet(store, table, participant).to_pandas()
    return frame.set_index("time")


def _events_frame(events: Iterable[Event]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for e in events:
        row: dict[str, Any] = {}
        for f in fields(e):
            v = getattr(e, f.name)
            row[f.name] = v.value if hasattr(v, "value") else v
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="time"))
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("time_ns"), unit="ns", utc=True))
    frame.index.name = "time"
    return frame


class Study:
    """A store opened read-only (see :func:`open`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._store = Store(self.path, readonly=True)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<stresstrack.Study {self.path} ({len(self._store.participants())} participants)>"

    @property
    def participants(self) -> pd.DataFrame:
        """One row per participant (index ``participant``): study arm, results, first and
        last window."""
        from stresstrack.session.study import store_arms

        pids = self._store.participants()
        arms = store_arms(self._store, pids)
        rows = []
        for p in pids:
            stress = self._store.stress(p)
            rows.append({
                "participant": p,
                "arm": arms.get(p, ""),
                "windows": len(stress),
                "sessions": len(self._store.sessions(p)),
                "first": pd.Timestamp(stress[0].time_ns, tz="UTC") if stress else pd.NaT,
                "last": pd.Timestamp(stress[-1].time_ns, tz="UTC") if stress else pd.NaT,
            })  # fmt: skip
        columns = ["participant", "arm", "windows", "sessions", "first", "last"]
        return pd.DataFrame(rows, columns=columns).set_index("participant")

    def features(self, participant: str | None = None) -> pd.DataFrame:
        """Every window's features, stress index and quality (``export --table features``)."""
        return _table(self._store, "features", participant)

    def stress(self, participant: str | None = None) -> pd.DataFrame:
        """The stress index with its components' z-scores and shares (``--table stress``)."""
        return _table(self._store, "stress", participant)

    def sessions(self, participant: str | None = None) -> pd.DataFrame:
        """Sessions: kind, mode, label, ``end``, ``duration_s`` (``--table sessions``)."""
        return _table(self._store, "sessions", participant)

    def events(self, kind: str, participant: str | None = None) -> pd.DataFrame:
        """Raw events of one kind (``beat``, ``hr``, ``eda``, ``waveform``, ``marker``,
        ``status``), one row each, with the event's fields as columns; ``eda`` and
        ``waveform`` rows hold a chunk of samples (``values_us`` / ``values``)."""
        if kind not in EVENT_TYPES:
            raise ValueError(f"unknown event kind {kind!r}: one of {', '.join(EVENT_TYPES)}")
        wanted = EVENT_TYPES[kind]
        return _events_frame(e for e in self._store.iter_events(participant)
                             if isinstance(e, wanted))  # fmt: skip

    def analyze(
        self, *, pre_s: float = 300.0, post_s: float = 300.0, control: str | None = None,
        boot: int = 2000, seed: int = 0,
    ) -> dict[str, pd.DataFrame]:  # fmt: skip
        """``stresstrack analyze``'s tables (``effects``: the study's answer, ``sessions``,
        ``participants``, ``summary``, ``measures``) as DataFrames with the same columns as its
        CSV files."""
        from stresstrack.analysis import AnalysisSettings, analyze_store
        from stresstrack.analysis.tables import (
            effects_rows,
            measures_rows,
            participants_rows,
            sessions_rows,
            summary_rows,
        )

        settings = AnalysisSettings(pre_s=pre_s, post_s=post_s, control=control, boot=boot,
                                    seed=seed)  # fmt: skip
        a = analyze_store(self._store, settings)
        tables = {
            "effects": effects_rows(a),
            "sessions": sessions_rows(a),
            "participants": participants_rows(a),
            "summary": summary_rows(a),
            "measures": measures_rows(a),
        }
        out = {}
        for name, rows in tables.items():
            header, *body = list(rows)
            out[name] = pd.DataFrame(body, columns=[str(h) for h in header])
        return out

    def profile(self, participant: str, *, tz: str = "UTC") -> DaysResult:
        """One participant's days, nights and rhythms (:func:`stresstrack.days.profile`)."""
        from stresstrack.days import DaysSettings, profile

        return profile(self._store, participant, DaysSettings(tz=tz))

    def days(self, *, tz: str = "UTC") -> dict[str, pd.DataFrame]:
        """``stresstrack days``'s tables (``days``, ``episodes``, ``rhythm``, ``selfcare``) as
        DataFrames with the columns of its CSV files (docs/days.md); empty cells are NaN."""
        from stresstrack.days import DaysSettings, profile_store
        from stresstrack.days.tables import TABLE_FILES

        study = profile_store(self._store, DaysSettings(tz=tz))
        out = {}
        for name, rows in TABLE_FILES.items():
            header, *body = list(rows(study))
            frame = pd.DataFrame(body, columns=header).replace("", np.nan)
            out[name.removesuffix(".csv")] = frame.apply(_numeric_column)
        return out


def _numeric_column(column: pd.Series) -> pd.Series:
    """Numbers where every value is one, else the column as it is."""
    try:
        return pd.to_numeric(column)
    except (ValueError, TypeError):
        return column


def open(path: str | Path) -> Study:
    """Open a store (``stresstrack.db``) read-only as a :class:`Study`."""
    if not Path(path).exists():
        raise FileNotFoundError(f"no store at {path}")
    return Study(path)


@dataclass(frozen=True, slots=True)
class Results:
    """What :func:`process` computed, as DataFrames with the export's columns."""

    features: pd.DataFrame
    stress: pd.DataFrame
    sessions: pd.DataFrame


def _to_ns(times: Any, start: pd.Timestamp) -> npt.NDArray[np.int64]:
    """Times as UTC ns: datetimes as they are, numbers as seconds since ``start``."""
    arr = np.asarray(times)
    if arr.dtype.kind in "fiu":
        return np.asarray(start.value + np.round(arr.astype(float) * NS), dtype=np.int64)
    index = pd.DatetimeIndex(pd.to_datetime(arr, utc=True)).as_unit("ns")
    return np.asarray(index.asi8, dtype=np.int64)


def _markers(
    markers: Iterable[Sequence[Any] | Mapping[str, Any]] | pd.DataFrame, start: pd.Timestamp,
    participant: str,
) -> list[Marker]:  # fmt: skip
    rows: Iterable[Any] = (
        markers.to_dict("records") if isinstance(markers, pd.DataFrame) else markers
    )
    out = []
    for r in rows:
        if isinstance(r, Mapping):
            t, action, kind = r["time"], r["action"], r["kind"]
            mode, label = r.get("mode", ""), r.get("label", "")
        else:
            t, action, kind, *rest = r
            mode, label = [*rest, "", ""][:2]
        (t_ns,) = _to_ns([t], start)
        out.append(
            Marker(time_ns=int(t_ns), participant=participant, action=MarkerAction(action),
                   kind=str(kind), mode=str(mode), label=str(label), device="api")
        )  # fmt: skip
    return out


def process(
    *,
    rr_ms: Sequence[float] | npt.ArrayLike | None = None,
    times: Sequence[Any] | npt.ArrayLike | None = None,
    eda: Sequence[float] | npt.ArrayLike | None = None,
    eda_rate: float | None = None,
    eda_start: Any = None,
    markers: Iterable[Sequence[Any] | Mapping[str, Any]] | pd.DataFrame = (),
    start: Any = None,
    participant: str = "p1",
    config: PipelineConfig | None = None,
) -> Results:
    """Features, stress index and sessions of plain arrays, through the pipeline.

    ``rr_ms``: beat-to-beat intervals; ``times``: when each beat ended (datetimes, or seconds
    since ``start``), by default the running sum of the intervals. ``eda``: skin conductance in
    µS at ``eda_rate`` Hz from ``eda_start`` (default: ``start``). ``markers``: ``(time,
    "start"|"stop"|"event", kind[, mode[, label]])`` tuples, mappings with those keys, or a
    DataFrame. ``start`` (default 2000-01-01 UTC) is time 0 of relative times.
    """
    t0 = DEFAULT_START if start is None else pd.Timestamp(start)
    t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
    events: list[Event] = []
    ids = EventIds(participant=participant, study="default", device="api")
    if rr_ms is not None:
        rr = np.asarray(rr_ms, dtype=float)
        if times is None:
            beat_ns = t0.value + np.round(np.cumsum(rr) * 1e6).astype(np.int64)
        else:
            beat_ns = _to_ns(times, t0)
            if len(beat_ns) != len(rr):
                raise ValueError(f"{len(rr)} RR intervals but {len(beat_ns)} times")
        events += [Beat(time_ns=int(t), rr_ms=float(v), source=BeatSource.FILE, **ids)
                   for t, v in zip(beat_ns, rr, strict=True)]  # fmt: skip
    if eda is not None:
        if eda_rate is None or not eda_rate > 0:
            raise ValueError("eda needs eda_rate (Hz) > 0")
        values = np.asarray(eda, dtype=float)
        (first,) = _to_ns([0.0], t0) if eda_start is None else _to_ns([eda_start], t0)
        per = max(1, round(eda_rate))  # 1 s chunks, as devices send them
        for i in builtins.range(0, len(values), per):
            events.append(EdaSamples(time_ns=int(first) + round(i * NS / eda_rate),
                                     sampling_rate=float(eda_rate),
                                     values_us=tuple(float(v) for v in values[i : i + per]),
                                     **ids))  # fmt: skip
    events += _markers(markers, t0, participant)
    events.sort(key=lambda e: e.time_ns)
    with tempfile.TemporaryDirectory(prefix="stresstrack-") as tmp:
        from stresstrack.session.recorder import Recorder

        with Store(Path(tmp) / "process.db") as store:
            recorder = Recorder(store, Pipeline(config), store_raw=False)
            recorder.emit(events)
            recorder.close()
            return Results(
                features=_table(store, "features", None),
                stress=_table(store, "stress", None),
                sessions=_table(store, "sessions", None),
            )
