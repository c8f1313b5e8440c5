"""One clean beat stream per source: R-peaks from ECG/PPG chunks, and Kubios-style artefact
correction of any beat stream, online with a bounded delay.

Artefact correction is NeuroKit2's ``signal_fixpeaks(method="kubios")`` (Lipponen &
Tarvainen 2019, J Med Eng Technol 43:173), run over a sliding buffer: each run sees
``CONTEXT_BEATS`` already-final beats before the pending ones, and a beat becomes final once
``LOOKAHEAD_BEATS`` beats follow it (or at the end of the data). The method's thresholds come
from a 91-beat neighbourhood, so far from the buffer's edges the result equals a batch run;
tests/pipeline/test_beats.py measures the agreement. The delay is about LOOKAHEAD_BEATS beats
(~15 s) plus the run interval.

The correction runs on the chain of intervals, not on timestamps (a strap's reconstructed
beat times may be re-anchored by up to a notification period, which must not look like an
ectopic beat). Beats separated by a gap (the next beat's interval misses the previous beat's
time by more than 2.5 s, as after a disconnection or contact loss) start a new segment:
correction never bridges a gap.
"""

from __future__ import annotations

import bisect
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from stresstrack.pipeline.fixpeaks import fixpeaks_pass
from stresstrack.pipeline.window import ARTEFACT_TYPES
from stresstrack.sample_rate import SampleClock

__all__ = ["ArtefactCorrection", "CleanBeat", "KubiosCorrector", "PeakDetector"]

ArtefactCorrection = Literal["kubios", "none"]

NS: Final = 1_000_000_000
US: Final = 1_000
CONTEXT_BEATS: Final = 50
LOOKAHEAD_BEATS: Final = 20
RUN_EVERY_BEATS: Final = 90
MIN_SEGMENT_BEATS: Final = 8  # fixpeaks needs a few beats; shorter segments pass unchanged
# A beat whose interval misses the previous beat's recorded time by more than this starts a
# new segment; smaller mismatches are re-anchored beat times (sensors/timing.py, < 1 s).
GAP_TOLERANCE_NS: Final = 2_500_000_000
# A fitted sample rate this close to the nominal one (relative) is timing noise: a crystal
# clock drifts by 10-100 ppm, nanosecond rounding of time stamps moves the fit by ~1e-9.
SAME_RATE: Final = 1e-6


@dataclass(frozen=True, slots=True)
class CleanBeat:
    time_ns: int
    rr_ms: float
    corrected: bool  # this interval was changed (moved, inserted or merged) by the correction
    segment_start: bool  # first beat after a gap: its interval does not follow the previous beat
    # Lipponen & Tarvainen's classes of the raw beats this output beat replaces (an extra
    # beat removed before it, a missed beat inserted before it, itself ectopic or long/short)
    artefacts: tuple[str, ...] = ()


@dataclass
class KubiosCorrector:
    """Feed raw beats with :meth:`add`; collect final corrected beats from its return value.

    The correction works on the *chain* of intervals (each beat = the previous one + its RR),
    not on the beats' timestamps: a strap's beat times are reconstructed from receive times
    and may be re-anchored by a few hundred ms (``sensors/timing.py``), which must not look
    like an ectopic beat. Output beats keep their recorded time; inserted or moved beats get
    the time of their chain position relative to the nearest recorded beat (a window's beat
    times are rebuilt from the intervals: ``pipeline/window.py``).

    ``method="none"`` changes nothing: beats pass at once, segmented the same way and all
    flagged uncorrected, for data that is already edited (NN intervals).
    """

    method: ArtefactCorrection = "kubios"
    # How the Kubios passes are computed: "fast" (numpy, pipeline/fixpeaks.py) or "neurokit"
    # (nk.signal_fixpeaks itself); the same peaks out (tests/pipeline/test_fixpeaks.py).
    implementation: Literal["fast", "neurokit"] = "fast"

    # pending raw beats: (time_ns, rr_ms, chain position ns)
    _raw: list[tuple[int, float, int]] = field(default_factory=list)
    _context: list[int] = field(default_factory=list)  # chain positions of final beats
    _last_final: tuple[int, int] | None = None  # (time, chain) of the last final beat
    _origin: int | None = None  # chain position of the peak before the segment's first beat
    _chain_last: int = 0
    corrected_total: int = 0
    beats_total: int = 0

    def add(self, time_ns: int, rr_ms: float) -> list[CleanBeat]:
        out: list[CleanBeat] = []
        rr_ns = round(rr_ms * 1e6)
        last_time = self._raw[-1][0] if self._raw else None
        if last_time is None and self._last_final is not None:
            last_time = self._last_final[0]
        if last_time is not None and abs(time_ns - rr_ns - last_time) > GAP_TOLERANCE_NS:
            out.extend(self.flush())  # a gap: close the segment
            self._context.clear()
            self._origin = None
            self._last_final = None
        if self._origin is None and not self._raw:
            self._origin = time_ns - rr_ns
            self._chain_last = self._origin
        self._chain_last += rr_ns
        self._raw.append((time_ns, rr_ms, self._chain_last))
        if self.method == "none":
            out.extend(self._run(final=True))  # nothing to wait for
        elif len(self._raw) >= RUN_EVERY_BEATS + LOOKAHEAD_BEATS:
            out.extend(self._run(final=False))
        return out

    def flush(self) -> list[CleanBeat]:
        """Finalise every pending beat (end of data, or before a gap)."""
        return self._run(final=True) if self._raw else []

    def _run(self, *, final: bool) -> list[CleanBeat]:
        origin = self._origin
        assert origin is not None
        chains = [c for _, _, c in self._raw]
        head = self._context if self._context else [origin]
        clean, tags = self._corrected(np.array([*head, *chains], dtype=np.int64))
        known = set(chains) | set(head)
        clean_set = set(clean)
        by_chain = {c: (t, r) for t, r, c in self._raw}
        boundary = self._last_final[1] if self._last_final is not None else origin
        cutoff = chains[-1] if final else chains[-1 - LOOKAHEAD_BEATS]
        known_sorted = sorted(known)
        out: list[CleanBeat] = []
        prev = boundary
        last_time = self._last_final[0] if self._last_final is not None else None
        for c in clean:
            if c <= boundary or c > cutoff:
                continue
            original = by_chain.get(c)
            # Unchanged: both ends are original beats and none was removed between them; the
            # interval is then the device's own value, and the beat keeps its recorded time.
            removed_between = bisect.bisect_right(known_sorted, prev) < bisect.bisect_left(
                known_sorted, c
            )
            corrected = prev not in known or original is None or removed_between
            t = original[0] if original is not None else self._time_of(c)
            if last_time is not None and t <= last_time:
                t = last_time + 1  # never backwards
            rr = original[1] if original is not None and not corrected else (c - prev) / 1e6
            first = self._last_final is None and not out
            kinds: tuple[str, ...] = ()
            if tags:
                lo = bisect.bisect_right(tags, (prev, "~"))
                hi = bisect.bisect_right(tags, (c, "~"))
                kinds = tuple(k for _, k in tags[lo:hi])
            out.append(
                CleanBeat(
                    time_ns=t, rr_ms=rr, corrected=corrected, segment_start=first,
                    artefacts=kinds,
                )
            )  # fmt: skip
            prev, last_time = c, t
        # Extra beats the correction removed count as corrections too.
        removed = sum(1 for c in chains if c <= cutoff and c not in clean_set)
        self.corrected_total += sum(b.corrected for b in out) + removed
        self.beats_total += len(out)
        if out:
            self._last_final = (out[-1].time_ns, prev)
        self._context = (self._context + [c for c in clean if boundary < c <= cutoff])[
            -CONTEXT_BEATS:
        ]
        self._raw = [x for x in self._raw if x[2] > cutoff]
        return out

    def _corrected(self, peaks: npt.NDArray[np.int64]) -> tuple[list[int], list[tuple[int, str]]]:
        """The chain positions after correction, and (chain position, artefact class) tags."""
        if peaks.size < MIN_SEGMENT_BEATS or self.method != "kubios":
            return [int(c) for c in peaks], []
        rel_us = (peaks - peaks[0]) // US
        clean_us, found = _fixpeaks_kubios(rel_us, self.implementation)
        tags = sorted((int(peaks[0]) + int(pos) * US, kind) for pos, kind in found)
        p0 = int(peaks[0])
        # Unchanged peaks keep their exact position (the µs grid only serves the correction).
        exact = {int(r): int(c) for r, c in zip(rel_us, peaks, strict=True)}
        return [exact.get(int(c), p0 + round(float(c)) * US) for c in clean_us], tags

    def _time_of(self, chain: int) -> int:
        """Recorded time of a corrected chain position: from the nearest recorded beat."""
        chains = [c for _, _, c in self._raw]
        k = bisect.bisect_left(chains, chain)
        t, _, c = self._raw[k] if k < len(self._raw) else self._raw[-1]
        return t - (c - chain)


def _fixpeaks_kubios(
    peaks_us: npt.NDArray[np.int64], implementation: Literal["fast", "neurokit"] = "fast"
) -> tuple[npt.NDArray[np.float64], list[tuple[int, str]]]:
    """``nk.signal_fixpeaks(method="kubios")`` (iterative), one pass at a time so that the
    artefacts of every pass are kept (NeuroKit2 returns those of the last pass only): the
    corrected peaks and the (µs position, class) of each artefact found.

    NeuroKit2's loop: correct once, then correct again while a new pass finds fewer
    artefacts than the previous one.
    """
    found: list[tuple[int, str]] = []

    def one_pass(
        p: npt.NDArray[np.float64],
    ) -> tuple[npt.NDArray[np.float64], list[tuple[int, str]]]:
        if implementation == "fast":
            info, out = fixpeaks_pass(p, 1_000_000)
        else:
            import neurokit2 as nk  # on first use: the reference is slow to import

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                info, out = nk.signal_fixpeaks(
                    p, sampling_rate=1_000_000, method="kubios", iterative=False
                )
        kinds = [(int(p[int(i)]), k) for k in ARTEFACT_TYPES for i in info[k] if int(i) < p.size]
        return np.asarray(out, dtype=np.float64), kinds

    clean, kinds = one_pass(np.asarray(peaks_us, dtype=np.float64))
    found.extend(kinds)
    n = len(kinds)
    while n:
        again, kinds = one_pass(clean)
        if len(kinds) >= n:
            break
        clean, n = again, len(kinds)
        found.extend(kinds)
    return clean, found


@dataclass
class PeakDetector:
    """R-peaks (ECG) or pulse peaks (PPG) from a stream of sample chunks, with NeuroKit2.

    Samples are timed by a :class:`~stresstrack.sample_rate.SampleClock`: an effective rate
    fitted to the chunks' timestamps, so a device clock's drift and the receive jitter of
    its notifications neither shift the peaks nor restart the detector. Samples are
    buffered; every ``block_s`` the buffer's unprocessed part plus ``overlap_s`` of context
    is cleaned and searched (``ecg_clean`` + ``ecg_findpeaks``, or ``ppg_clean`` +
    ``ppg_findpeaks``); peaks in the last ``margin_s`` wait for the next block, where they
    have context on both sides. Only a real gap (a chunk far off the fitted clock, or a new
    rate) restarts the buffer, after the samples before it have been searched to their end:
    the intervals on both sides of a gap are kept, only the one across it is not.
    """

    kind: str  # "ecg" or "ppg"
    block_s: float = 10.0
    overlap_s: float = 3.0
    margin_s: float = 1.0
    _clock: SampleClock | None = None
    _values: list[float] = field(default_factory=list)
    _base: int = 0  # segment index of _values[0]
    _done: int = 0  # segment index up to which peaks are final
    _last_peak: tuple[int, int] | None = None  # (segment index, time ns) of the last peak

    def add(
        self, time_ns: int, sampling_rate: float, values: Sequence[float]
    ) -> list[tuple[int, float]]:
        """Add a chunk; return new ``(peak time, interval ms)`` pairs (none for the first peak)."""
        out: list[tuple[int, float]] = []
        clock = self._clock
        if clock is not None and (
            sampling_rate != clock.nominal_rate
            or abs(clock.residual_s(time_ns)) > (clock.gap_s or 0.0)
        ):
            out.extend(self.flush())
            self._reset()
            clock = None
        if clock is None:
            clock = self._clock = SampleClock(sampling_rate)
        clock.add(time_ns, len(values))
        self._values.extend(values)
        fs = clock.nominal_rate
        if (self._base + len(self._values) - self._done) / fs >= self.block_s + self.margin_s:
            out.extend(self._detect(final=False))
        return out

    def flush(self) -> list[tuple[int, float]]:
        return self._detect(final=True) if self._values else []

    def _reset(self) -> None:
        self._clock = None
        self._values = []
        self._base = self._done = 0
        self._last_peak = None

    def _detect(self, *, final: bool) -> list[tuple[int, float]]:
        clock = self._clock
        assert clock is not None
        fs = clock.nominal_rate
        end = self._base + len(self._values)  # segment index after the last sample
        start = max(self._base, self._done - int(self.overlap_s * fs))
        seg = np.asarray(self._values[start - self._base :], dtype=float)
        if seg.size < int(2 * fs):
            return []
        rate = clock.rate_hz  # the effective rate: filters and windows as on the true signal
        period_ms = clock.period_s * 1e3
        if abs(rate - fs) <= SAME_RATE * fs:
            # Timing noise, not a clock: NeuroKit rounds its windows from the rate (0.75 s at
            # 250 Hz is 187.5 samples) and histograms cut RR at round numbers (900 ms is 225
            # samples), so a fit of 249.9999999 or 250.0000001 Hz would change the beats of
            # two recordings of the same samples.
            rate, period_ms = fs, 1e3 / fs
        import neurokit2 as nk  # on first use: the reference is slow to import

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.kind == "ecg":
                cleaned = nk.ecg_clean(seg, sampling_rate=rate)
                idx = nk.ecg_findpeaks(cleaned, sampling_rate=rate)["ECG_R_Peaks"]
            else:
                cleaned = nk.ppg_clean(seg, sampling_rate=rate)
                idx = nk.ppg_findpeaks(cleaned, sampling_rate=rate)["PPG_Peaks"]
        stop = end if final else end - int(self.margin_s * fs)
        refractory = 0.25 / clock.period_s  # samples: 240 bpm at most
        out = []
        for i in np.asarray(idx, dtype=np.int64) + start:
            if i < self._done or i >= stop:
                continue
            t = clock.time_ns(int(i))
            if self._last_peak is not None:
                last_i, last_t = self._last_peak
                if i - last_i < refractory:
                    continue
                t = max(t, last_t + 1)
                out.append((t, (int(i) - last_i) * period_ms))
            self._last_peak = (int(i), t)
        self._done = stop
        # Keep only what the next block needs as context.
        keep_from = max(self._base, stop - int((self.overlap_s + 1) * fs))
        if keep_from > self._base:
            del self._values[: keep_from - self._base]
            self._base = keep_from
        return out
