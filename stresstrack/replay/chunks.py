"""Sampled signals cut into events as the live collector cuts its notifications: chunks of
about a second that restart at gaps (:class:`SampleChunker`), and samples placed on a fitted
rate's grid between gaps (:func:`file_rate`, :class:`GridChunker`, :func:`grid_chunks`).
Shared by the importers of :mod:`stresstrack.replay` and the LSL inlet.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.signal import lfilter

from stresstrack.errors import ImportFormatError
from stresstrack.events import EdaSamples, Event, EventIds, Waveform, WaveformKind
from stresstrack.replay.base import NS, DataFile
from stresstrack.sample_rate import RateEstimate, RateFit, gap_threshold_s

__all__ = [
    "GridChunker",
    "SampleChunker",
    "chunk_samples",
    "eda_maker",
    "file_rate",
    "grid_chunks",
    "samples_per_chunk",
    "waveform_maker",
]


def samples_per_chunk(rate: float, chunk_s: float) -> int:
    """Samples per event of a signal at ``rate`` (Hz) cut into ``chunk_s`` chunks."""
    if not rate > 0:
        raise ValueError("sampling rate must be > 0")
    return max(1, round(rate * chunk_s))


class SampleChunker:
    """Cuts a regularly sampled signal into events of about ``chunk_s`` seconds.

    A new event starts after ``round(rate * chunk_s)`` samples and wherever a sample comes more
    than 1.5 sample periods after the previous one (a gap), like the live collector's
    notifications: the event's time is its first sample's time and the rest follow at ``rate``.
    """

    def __init__(
        self,
        make: Callable[[int, tuple[float, ...]], Event],
        rate: float,
        *,
        chunk_s: float = 1.0,
    ) -> None:
        self.make = make
        self.rate = rate
        self.per_chunk = samples_per_chunk(rate, chunk_s)
        self._gap_ns = 1.5 * NS / rate
        self._first_ns: int | None = None
        self._last_ns = 0
        self._values: list[float] = []

    def add(self, t_ns: int, value: float) -> list[Event]:
        out: list[Event] = []
        if self._first_ns is not None and (
            t_ns - self._last_ns > self._gap_ns or len(self._values) >= self.per_chunk
        ):
            out.append(self._emit())
        if self._first_ns is None:
            self._first_ns = t_ns
        self._values.append(value)
        self._last_ns = t_ns
        return out

    def flush(self) -> list[Event]:
        return [self._emit()] if self._first_ns is not None else []

    def _emit(self) -> Event:
        assert self._first_ns is not None
        event = self.make(self._first_ns, tuple(self._values))
        self._first_ns = None
        self._values = []
        return event


def eda_maker(rate: float, ids: EventIds) -> Callable[[int, tuple[float, ...]], Event]:
    def make(t: int, values: tuple[float, ...]) -> Event:
        return EdaSamples(time_ns=t, sampling_rate=rate, values_us=values, **ids)

    return make


def waveform_maker(
    kind: WaveformKind, rate: float, ids: EventIds
) -> Callable[[int, tuple[float, ...]], Event]:
    def make(t: int, values: tuple[float, ...]) -> Event:
        return Waveform(time_ns=t, kind=kind, sampling_rate=rate, values=values, **ids)

    return make


def _float_times(file: DataFile, column: str, chunk_rows: int) -> Iterator[np.ndarray]:
    """Times (ns, float) of a column of Unix seconds, block by block; ValueError if any is
    not a number."""
    with file.open() as handle:
        reader = pd.read_csv(
            handle, usecols=lambda c: c.strip() == column, dtype=np.float64, chunksize=chunk_rows,
            encoding="utf-8-sig", engine="c",
        )  # fmt: skip
        for chunk in reader:
            with np.errstate(over="ignore", invalid="ignore"):  # absurd times become inf: dropped
                ns = np.round(chunk.to_numpy(dtype=np.float64)[:, 0] * NS)
            yield ns[np.isfinite(ns)]


def _text_times(file: DataFile, column: str, chunk_rows: int) -> Iterator[np.ndarray]:
    """Times (ns, float) of a column of Unix seconds or ISO 8601 times, block by block; bad
    ones left out."""
    with file.open() as handle:
        reader = pd.read_csv(
            handle, usecols=lambda c: c.strip() == column, dtype=str, chunksize=chunk_rows,
            encoding="utf-8-sig", on_bad_lines="skip", engine="c",
        )  # fmt: skip
        for chunk in reader:
            text = chunk.iloc[:, 0].str.strip()
            seconds = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
            with np.errstate(over="ignore", invalid="ignore"):  # absurd times become inf: dropped
                ns = np.round(seconds * NS)
            iso = np.isnan(ns) & text.notna().to_numpy()
            if iso.any():
                when = pd.to_datetime(text[iso], format="ISO8601", errors="coerce", utc=True)
                ns[iso] = (
                    when.astype("datetime64[ns, UTC]")
                    .to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT"))
                    .astype(np.int64)
                )
                ns[iso & (ns == np.iinfo(np.int64).min)] = np.nan
            yield ns[np.isfinite(ns)]


def grid_chunks(
    make: Callable[[int, tuple[float, ...]], Event],
    start_ns: int,
    rate: float,
    values: Iterable[tuple[int, float]],
    *,
    chunk_s: float = 1.0,
) -> Iterator[Event]:
    """Events for ``(sample index, value)`` pairs on the grid ``start + index / rate``.

    Indices must increase; a skipped index (a bad row left out) starts a new event.
    """
    per_chunk = samples_per_chunk(rate, chunk_s)
    first: int | None = None
    last = -1
    chunk: list[float] = []
    try:
        for index, value in values:
            if first is not None and (index != last + 1 or len(chunk) >= per_chunk):
                yield make(start_ns + round(first * NS / rate), tuple(chunk))
                first, chunk = None, []
            if first is None:
                first = index
            chunk.append(value)
            last = index
    except ImportFormatError:
        if first is not None:  # hand on the samples read before the error
            yield make(start_ns + round(first * NS / rate), tuple(chunk))
        raise
    if first is not None:
        yield make(start_ns + round(first * NS / rate), tuple(chunk))


def _fit(blocks: Iterator[np.ndarray]) -> RateFit | None:
    """The rate fit fed every block; None when there is none (an empty file)."""
    fit: RateFit | None = None
    for block in blocks:
        fit = fit or RateFit()
        fit.add(block)
    return fit


def file_rate(file: DataFile, column: str, *, chunk_rows: int = 100_000) -> RateEstimate:
    """A sampled signal's effective rate, fitted to the timestamps of the whole file.

    ``column`` holds Unix seconds or ISO 8601 times (naive = UTC). Rows whose time does not
    parse are left out here (the row-by-row reading reports them). The file is read in
    blocks of ``chunk_rows`` into a :class:`~stresstrack.sample_rate.RateFit`, so memory stays
    bounded however long the recording. Raises ValueError.
    """
    fit: RateFit | None = None
    try:
        fit = _fit(_float_times(file, column, chunk_rows))
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError):
        fit = None  # not all Unix seconds: text, parsed as numbers or ISO 8601 times
    if fit is None:
        try:
            fit = _fit(_text_times(file, column, chunk_rows))
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
            raise ValueError(f"cannot read the {column!r} column ({exc})") from None
    return (fit or RateFit()).result()


@dataclass
class GridChunker:
    """A sampled signal's rows → events, with samples re-timed on the grid of ``rate`` (Hz).

    Rounded, batched or jittered timestamps become regular: each segment is anchored on its
    first sample and the anchor follows the timestamps slowly (an exponential average over
    ~10 s of data, so jitter averages out and a slowly wandering clock is followed). A
    timestamp off the grid by more than :func:`~stresstrack.sample_rate.gap_threshold_s`
    starts a new segment (a gap). Events hold ``round(rate * chunk_s)`` samples and end at
    gaps, like the live collector's notifications. Rows come in blocks (numpy arrays), so
    long files cost little per sample.

    >>> from stresstrack.events import EventIds
    >>> g = GridChunker(eda_maker(1e8, EventIds(participant="p-01")), 1e8, chunk_s=3e-8)
    >>> [e.time_ns for e in g.add(np.array([0, 9, 21, 30, 10**9]), np.ones(5)) + g.flush()]
    [0, 30, 1000000000]
    """

    make: Callable[[int, tuple[float, ...]], Event]
    rate: float
    chunk_s: float = 1.0
    per_chunk: int = field(init=False)
    _period: float = field(init=False)
    _gap: float = field(init=False)
    _gain: float = field(init=False)
    _origin: int = 0  # ns: the segment's first sample
    _anchor: float = 0.0  # ns after _origin: the grid's offset, following the timestamps
    _k: int = -1  # grid index of the last sample; -1: no open segment
    _last: int | None = None  # re-timed time of the last sample
    _first: int = 0  # time of the open event's first sample
    _values: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.per_chunk = samples_per_chunk(self.rate, self.chunk_s)
        self._period = NS / self.rate
        self._gap = gap_threshold_s(self.rate) * NS
        self._gain = min(1.0, 1.0 / (10.0 * self.rate))

    def add(self, times_ns: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> list[Event]:
        """Events completed by these samples (times must not decrease)."""
        if times_ns.size == 0:
            return []
        return self._chunks(self._grid(times_ns), values)

    def flush(self) -> list[Event]:
        """The open event, at the end of the data."""
        return [self._emit()] if self._values else []

    def _grid(self, times: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        n, g = times.size, self._gain
        out = np.empty(n, dtype=np.int64)
        i = 0
        while i < n:
            if self._k < 0:  # a new segment starts here
                self._origin, self._anchor, self._k = int(times[i]), 0.0, 0
                out[i] = times[i]
                i += 1
                continue
            ks = self._k + 1 + np.arange(n - i, dtype=np.float64)
            u = (times[i:] - self._origin).astype(np.float64) - ks * self._period
            # anchor_j = (1 - g) anchor_(j-1) + g u_j, checked against the previous anchor
            a = lfilter([g], [1.0, g - 1.0], u, zi=[(1.0 - g) * self._anchor])[0]
            before = np.concatenate(([self._anchor], a[:-1]))
            off = np.flatnonzero(np.abs(u - before) > self._gap)
            m = int(off[0]) if off.size else u.size
            if m:
                out[i : i + m] = self._origin + np.round(a[:m] + ks[:m] * self._period)
                self._anchor, self._k = float(a[m - 1]), int(ks[m - 1])
            i += m
            if off.size:
                self._k = -1
        return out

    def _chunks(self, times: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> list[Event]:
        out: list[Event] = []
        limit = 1.5 * self._period
        if self._values and self._last is not None and times[0] - self._last > limit:
            out.append(self._emit())
        cuts = [0, *(np.flatnonzero(np.diff(times) > limit) + 1).tolist(), times.size]
        vals = values.tolist()
        for r, (s, e) in enumerate(itertools.pairwise(cuts)):
            j = s
            if self._values:  # the open event continues (no gap before this run)
                take = min(self.per_chunk - len(self._values), e - s)
                self._values.extend(vals[s : s + take])
                j += take
                if len(self._values) >= self.per_chunk:
                    out.append(self._emit())
            while j < e:
                take = min(self.per_chunk, e - j)
                if take == self.per_chunk:
                    out.append(self.make(int(times[j]), tuple(vals[j : j + take])))
                else:
                    self._first, self._values = int(times[j]), vals[j : j + take]
                j += take
            if r < len(cuts) - 2 and self._values:  # a gap follows
                out.append(self._emit())
        self._last = int(times[-1])
        return out

    def _emit(self) -> Event:
        event = self.make(self._first, tuple(self._values))
        self._values = []
        return event


def chunk_samples(chunker: SampleChunker, samples: Iterable[tuple[int, float]]) -> Iterator[Event]:
    """Feed ``(time_ns, value)`` samples to ``chunker``; on an import error, hand on the
    samples read before it, then raise it."""
    try:
        for t, v in samples:
            yield from chunker.add(t, v)
    except ImportFormatError:
        yield from chunker.flush()
        raise
    yield from chunker.flush()
