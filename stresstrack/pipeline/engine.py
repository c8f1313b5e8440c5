"""The streaming pipeline: events in, window features, stress index and sessions out.

It runs on event time. Windows end on a grid of ``hop`` seconds (multiples of the hop since
the Unix epoch, so every participant and every run shares the grid). The window ending at
``T`` is computed once every stream of the participant has passed ``T`` (beats after artefact
correction, skin conductance), or once the participant's newest data is ``max_wait`` past
``T`` (a stream that stopped must not hold the others back). Results therefore depend only on
the events and their order, never on how fast they arrive: live, simulated and replayed runs
of the same events give the same rows.

Feature families and their windows (docs/stress-index.md):

* HRV time domain, Poincaré, Baevsky SI, PNS/SNS — ``hrv_window`` (60 s), every hop;
* HRV frequency domain — ``freq_window`` (300 s), and DFA α1 — ``nonlinear_window`` (120 s);
* EDA level and responses — ``eda_window`` (60 s), every hop; EDASymp — ``edasymp_window``
  (120 s).

The long-window families change little in 5 s and cost most: HRV frequency and DFA are
recomputed every ``slow_hop`` (30 s), EDASymp every ``edasymp_hop`` (60 s), and the rows in
between carry their latest value.

Size (issue 17): over 400 lines because ``Pipeline`` is one state machine per participant
(baseline, windows, gaps, sessions) whose methods share its state; the feature families
themselves live in ``hrv``, ``eda``, ``movement``, ``respiration`` and ``stress``. Splitting
the class is planned with the window objects and baseline state machine of the beats and
features issue, not done mechanically here.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from stresstrack.events import (
    ENDPOINT_TYPES,
    Beat,
    BeatSource,
    Contact,
    DeviceStatus,
    EdaSamples,
    Event,
    HeartRate,
    Marker,
    MarkerAction,
    Waveform,
    WaveformKind,
)
from stresstrack.pipeline.beats import ArtefactCorrection, CleanBeat, KubiosCorrector, PeakDetector
from stresstrack.pipeline.eda import (
    EDA_FEATURES,
    EDA_SYMP_FEATURES,
    eda_features,
    eda_quality,
    eda_sympathetic,
)
from stresstrack.pipeline.hrv import (
    HRV_FREQ_FEATURES,
    HRV_NONLINEAR_FEATURES,
    HRV_TIME_FEATURES,
    Method,
    Spectrum,
    hrv_frequency,
    hrv_nonlinear,
    hrv_time,
)
from stresstrack.pipeline.movement import (
    MOVEMENT_FEATURES,
    acc_activity,
    motion_activity,
    parse_motion_detail,
)
from stresstrack.pipeline.respiration import (
    RESPIRATION_FEATURES,
    respiration_acc,
    respiration_rr,
)
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.pipeline.rolling import REST_KINDS, RollingReference
from stresstrack.pipeline.series import TimeSeries
from stresstrack.pipeline.stress import (
    STRESS_INDEX_VERSION,
    Baseline,
    Derived,
    StressState,
    stress_index,
)
from stresstrack.pipeline.window import ARTEFACT_TYPES, EMPTY, BeatWindow, beat_window
from stresstrack.sample_rate import SampleClock

__all__ = ["FEATURE_NAMES", "METHOD_FIELDS", "Output", "Pipeline", "PipelineConfig"]

NS: Final = 1_000_000_000
Output = FeatureRow | StressRow | Session
FloatArray = npt.NDArray[np.float64]
BaselineMode = Literal["fixed", "rolling"]
# Artefacts found by the correction in the HRV window, by Lipponen & Tarvainen's class.
ARTEFACT_FEATURES: Final = tuple(f"artefacts_{k}" for k in ARTEFACT_TYPES)
FEATURE_NAMES: Final = (
    *HRV_TIME_FEATURES, *ARTEFACT_FEATURES, *HRV_FREQ_FEATURES, *HRV_NONLINEAR_FEATURES,
    *EDA_FEATURES, *EDA_SYMP_FEATURES, *RESPIRATION_FEATURES, *MOVEMENT_FEATURES,
)  # fmt: skip
# Beat-to-beat (vagal) features that a few corrected beats bias most: withheld above
# PipelineConfig.max_artefact_share (docs/features.md).
BEAT_TO_BEAT: Final = ("rmssd_ms", "pnn50_pct", "sd1_ms", "pns_index")
# Which beat source a window prefers when several cover it: an ECG's R-peaks are the most
# precise, then the strap's own RR intervals, then optical pulse intervals.
SOURCE_PRIORITY: Final = ("ecg", "hrs", "file", "ppi", "ppg")
# The method field of each feature family (``fast`` or ``neurokit``).
METHOD_FIELDS: Final = (
    "hrv_time_method", "hrv_frequency_method", "hrv_nonlinear_method", "eda_method",
    "eda_sympathetic_method", "artefact_method",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Windows and hops in seconds; docs/stress-index.md gives the defaults' sources."""

    hrv_window_s: float = 60.0  # ultra-short RMSSD/HR from 60 s agree with 5 min (Munoz 2015)
    freq_window_s: float = 300.0  # Task Force 1996: 5 min for short-term spectral analysis
    nonlinear_window_s: float = 120.0  # DFA α1 needs ~100+ beats (Gronwald & Hoos 2020)
    eda_window_s: float = 60.0  # a minute holds enough SCRs to count a rate
    edasymp_window_s: float = 120.0  # > 64 s needed by Posada-Quintero's Welch segments
    hop_s: float = 5.0
    slow_hop_s: float = 30.0
    edasymp_hop_s: float = 60.0  # EDASymp costs most (resampling to 400 Hz): half-overlapping
    max_wait_s: float = 90.0  # compute a window anyway once data is this far past its end
    baseline_s: float = 300.0  # baseline when none is marked: the first 5 minutes
    baseline_max_s: float = 600.0  # a marked baseline never stopped ends this long after start
    baseline_settle_s: float = 60.0  # windows starting this soon after the baseline's start
    # are left out of its statistics (settling), unless that leaves too few
    # "rolling": after the first baseline, recomputed every UTC midnight (and hourly until
    # the first) from the resting windows of the last baseline_days days (pipeline/rolling.py)
    baseline_mode: BaselineMode = "fixed"
    baseline_days: float = 3.0
    min_coverage: float = 0.8  # share of a window that must hold data
    min_beats: int = 20
    # Artefact correction of every beat stream: Lipponen & Tarvainen 2019 ("kubios"), or
    # "none" for beats that are already edited (NN intervals).
    artefact_correction: ArtefactCorrection = "kubios"
    # Above this share of artefact beats RMSSD, pNN50, SD1, PNS and the spectrum are withheld
    # (Kubios HRV user's guide and Peltola 2012, Front Physiol 3:148: a few % of corrected
    # beats already bias beat-to-beat measures); above max_corrected_share no HRV at all.
    max_artefact_share: float = 0.05
    max_corrected_share: float = 0.2
    # Plausibility (docs/features.md): mean HR and every RR interval in a physiological range,
    # RMSSD below a bound no short-term norm reaches, device-reported HR agreeing.
    hr_range_bpm: tuple[float, float] = (30.0, 200.0)
    rr_range_ms: tuple[float, float] = (300.0, 2000.0)
    max_rmssd_ms: float = 300.0
    max_hr_disagreement_bpm: float = 10.0
    spectrum: Spectrum = "kubios"  # "neurokit": exactly nk.hrv_frequency(interpolation_rate=4)
    # Per family: "fast" (numpy) or "neurokit" (NeuroKit2 itself: the slow reference).
    hrv_time_method: Method = "fast"
    hrv_frequency_method: Method = "fast"
    hrv_nonlinear_method: Method = "fast"
    eda_method: Method = "fast"
    eda_sympathetic_method: Method = "fast"
    artefact_method: Method = "fast"  # the Kubios passes: numpy, or nk.signal_fixpeaks

    def __post_init__(self) -> None:
        for name in (
            "hrv_window_s", "freq_window_s", "nonlinear_window_s", "eda_window_s",
            "edasymp_window_s", "hop_s", "slow_hop_s", "edasymp_hop_s", "baseline_s",
            "max_wait_s", "baseline_max_s", "baseline_days",
        ):  # fmt: skip
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.baseline_mode not in ("fixed", "rolling"):
            raise ValueError(f"baseline_mode must be fixed or rolling, got {self.baseline_mode!r}")
        for name in ("max_artefact_share", "max_corrected_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        for name in ("slow_hop_s", "edasymp_hop_s"):
            if round(getattr(self, name) / self.hop_s, 9) % 1:
                raise ValueError(f"{name} must be a multiple of hop_s")

    def with_methods(self, method: Method) -> PipelineConfig:
        """The same configuration with every feature family computed by ``method``."""
        return dataclasses.replace(
            self, hrv_time_method=method, hrv_frequency_method=method,
            hrv_nonlinear_method=method, eda_method=method, eda_sympathetic_method=method,
            artefact_method=method,
        )  # fmt: skip

    @property
    def span_s(self) -> float:
        return max(
            self.hrv_window_s, self.freq_window_s, self.nonlinear_window_s, self.eda_window_s,
            self.edasymp_window_s,
        )  # fmt: skip


@dataclass
class _Beats:
    """One source's corrected beats: times, intervals, corrected flags, segment starts and
    the artefact classes behind each beat."""

    corrector: KubiosCorrector
    t: list[int] = field(default_factory=list)
    rr: list[float] = field(default_factory=list)
    corrected: list[bool] = field(default_factory=list)
    seg: list[bool] = field(default_factory=list)
    art: list[tuple[str, ...]] = field(default_factory=list)
    progress_ns: int = 0  # beats are final up to here

    def extend(self, beats: Iterable[CleanBeat]) -> None:
        for b in beats:
            self.t.append(b.time_ns)
            self.rr.append(b.rr_ms)
            self.corrected.append(b.corrected)
            self.seg.append(b.segment_start)
            self.art.append(b.artefacts)
            self.progress_ns = b.time_ns

    def trim(self, before_ns: int) -> None:
        k = bisect.bisect_left(self.t, before_ns)
        if k:
            del self.t[:k], self.rr[:k], self.corrected[:k], self.seg[:k], self.art[:k]

    def window(self, key: str, lo: int, hi: int, start: int, end: int) -> BeatWindow:
        counts = Counter(k for a in self.art[lo:hi] if a for k in a)
        return beat_window(
            key, np.asarray(self.t[lo:hi], dtype=np.int64), np.asarray(self.rr[lo:hi]),
            np.asarray(self.corrected[lo:hi], dtype=bool), np.asarray(self.seg[lo:hi], dtype=bool),
            {k: counts.get(k, 0) for k in ARTEFACT_TYPES}, start_ns=start, end_ns=end,
        )  # fmt: skip


@dataclass
class _Participant:
    study: str
    first_ns: int | None = None
    max_ns: int = 0
    next_end_ns: int | None = None
    beats: dict[str, _Beats] = field(default_factory=dict)
    detectors: dict[tuple[str, str], PeakDetector] = field(default_factory=dict)
    raw_progress: dict[str, int] = field(default_factory=dict)  # source -> newest raw beat
    eda: TimeSeries = field(default_factory=TimeSeries)  # skin conductance (µS)
    eda_rate: float = 0.0
    eda_clocks: dict[str, SampleClock] = field(default_factory=dict)
    no_contact: list[tuple[int, int | None]] = field(default_factory=list)
    hr_t: list[int] = field(default_factory=list)  # device-reported heart rate
    hr_bpm: list[float] = field(default_factory=list)
    open_sessions: dict[str, Session] = field(default_factory=dict)
    baseline_session: tuple[int, int | None] | None = None
    stress: StressState = field(default_factory=StressState)
    pending: list[tuple[FeatureRow, Derived]] = field(default_factory=list)
    acc_t: list[int] = field(default_factory=list)  # accelerometer magnitude (mG)
    acc_v: list[float] = field(default_factory=list)
    acc_rate: float = 0.0
    motion: list[tuple[int, bool, float]] = field(default_factory=list)  # Polar still/moving
    slow: dict[str, float | None] = field(default_factory=dict)
    slow_reasons: dict[str, str] = field(default_factory=dict)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (last data, next data)
    rolling: RollingReference | None = None  # baseline_mode="rolling"


class Pipeline:
    """Feed events with :meth:`process`; call :meth:`finish` at the end of the data."""

    def __init__(self, config: PipelineConfig | None = None) -> None:
        self.config = c = config or PipelineConfig()
        self._p: dict[str, _Participant] = {}
        self._input_observers: list[Callable[[Sequence[Event]], None]] = []
        self._output_observers: list[Callable[[list[Output]], None]] = []
        self._hop_ns = int(c.hop_s * NS)
        self._slow_hop_ns = int(c.slow_hop_s * NS)
        self._edasymp_hop_ns = int(c.edasymp_hop_s * NS)
        self._span_ns = int(c.span_s * NS)
        self._wait_ns = int(c.max_wait_s * NS)

    # -- input -------------------------------------------------------------------------------
    def observe(
        self,
        *,
        inputs: Callable[[Sequence[Event]], None] | None = None,
        outputs: Callable[[list[Output]], None] | None = None,
    ) -> None:
        """Also hand every batch given to :meth:`process_many` to ``inputs`` and every batch of
        results of :meth:`process_many` and :meth:`finish` to ``outputs`` (live views, LSL
        outlets): observers compose, where subclasses overriding these methods would not."""
        if inputs is not None:
            self._input_observers.append(inputs)
        if outputs is not None:
            self._output_observers.append(outputs)

    def process_many(self, events: Iterable[Event]) -> list[Output]:
        if self._input_observers:
            events = list(events)
            for see in self._input_observers:
                see(events)
        out: list[Output] = []
        for e in events:
            out.extend(self.process(e))
        return self._observed(out)

    def _observed(self, out: list[Output]) -> list[Output]:
        for see in self._output_observers:
            see(out)
        return out

    def process(self, event: Event) -> list[Output]:
        if isinstance(event, ENDPOINT_TYPES):
            return []  # answers and lab values are not signal (docs/endpoints.md)
        st = self._p.get(event.participant)
        if st is None:
            st = self._p[event.participant] = _Participant(study=event.study)
            if self.config.baseline_mode == "rolling":
                st.rolling = RollingReference(self.config.baseline_days)
        out: list[Output] = []
        t = event.time_ns
        if st.first_ns is None:
            st.first_ns = t
            first_end = t + int(self.config.hrv_window_s * NS)
            st.next_end_ns = -(-first_end // self._hop_ns) * self._hop_ns
        if st.max_ns and t - st.max_ns > self._span_ns:
            st.gaps.append((st.max_ns, t))  # no window can hold data from both sides
        if isinstance(event, Beat):
            key = "hrs" if event.source is BeatSource.HRS else event.source.value
            self._add_beat(st, key, t, event.rr_ms)
        elif isinstance(event, Waveform) and event.kind is WaveformKind.ACC:
            st.acc_rate = event.sampling_rate
            st.acc_t.extend(
                t + round(i * NS / event.sampling_rate) for i in range(len(event.values))
            )
            st.acc_v.extend(event.values)
            t = st.acc_t[-1]
        elif isinstance(event, Waveform):
            key = "ecg" if event.kind is WaveformKind.ECG else "ppg"
            det = st.detectors.setdefault((key, event.device), PeakDetector(kind=key))
            for bt, rr in det.add(t, event.sampling_rate, event.values):
                self._add_beat(st, key, bt, rr)
            t = t + round((len(event.values) - 1) * NS / event.sampling_rate)
        elif isinstance(event, EdaSamples):
            t = self._add_eda(st, event)
        elif isinstance(event, HeartRate):
            self._contact(st, t, event.contact)
            if event.bpm > 0:
                st.hr_t.append(t)
                st.hr_bpm.append(event.bpm)
        elif isinstance(event, DeviceStatus):
            if event.contact is not None:
                self._contact(st, t, event.contact)
            motion = parse_motion_detail(event.detail)
            if motion is not None:
                st.motion.append((t, *motion))
        elif isinstance(event, Marker):
            out.extend(self._marker(st, event))
        st.max_ns = max(st.max_ns, t)
        out.extend(self._advance(event.participant, st, final=False))
        return out

    def finish(self) -> list[Output]:
        """Flush beat correction, compute every window the data covers, freeze baselines and
        emit the sessions still open."""
        out: list[Output] = []
        for pid, st in self._p.items():
            for (key, _dev), det in st.detectors.items():
                for bt, rr in det.flush():
                    self._add_beat(st, key, bt, rr)
            for b in st.beats.values():
                b.extend(b.corrector.flush())
            out.extend(self._advance(pid, st, final=True))
            if not st.stress.baseline.frozen:
                out.extend(self._freeze(st))
            out.extend(st.open_sessions.values())
        return self._observed(out)

    @staticmethod
    def _add_eda(st: _Participant, event: EdaSamples) -> int:
        """Append an EDA chunk, its samples timed by the fitted clock; the last sample's time."""
        n = len(event.values_us)
        clock = st.eda_clocks.get(event.device)
        if clock is None or clock.nominal_rate != event.sampling_rate:
            clock = st.eda_clocks[event.device] = SampleClock(event.sampling_rate)
        clock.add(event.time_ns, n)
        if not n:
            return st.eda.last if len(st.eda) else event.time_ns
        times = clock.times_ns(clock.n - n, n)
        if len(st.eda) and times[0] <= st.eda.last:  # never backwards (a refit, or two devices)
            times = times + (st.eda.last + 1 - int(times[0]))
        st.eda_rate = event.sampling_rate
        st.eda.extend(times, event.values_us)
        return int(times[-1])

    def _add_beat(self, st: _Participant, key: str, t: int, rr: float) -> None:
        b = st.beats.get(key)
        if b is None:
            b = st.beats[key] = _Beats(
                KubiosCorrector(
                    method=self.config.artefact_correction,
                    implementation=self.config.artefact_method,
                )
            )
        b.extend(b.corrector.add(t, rr))
        st.raw_progress[key] = t

    # -- state -------------------------------------------------------------------------------
    @staticmethod
    def _contact(st: _Participant, t: int, contact: Contact) -> None:
        lost = contact is Contact.NOT_DETECTED
        open_loss = bool(st.no_contact) and st.no_contact[-1][1] is None
        if lost and not open_loss:
            st.no_contact.append((t, None))
        elif not lost and open_loss:
            st.no_contact[-1] = (st.no_contact[-1][0], t)

    @staticmethod
    def _marker(st: _Participant, m: Marker) -> list[Output]:
        if m.action is MarkerAction.EVENT:
            return []
        if m.action is MarkerAction.START:
            s = Session(
                participant=m.participant, study=m.study, kind=m.kind, start_ns=m.time_ns,
                end_ns=None, mode=m.mode, label=m.label, note=m.note,
            )  # fmt: skip
            st.open_sessions[m.kind] = s
            if (
                m.kind == "baseline"
                and st.baseline_session is None
                and not st.stress.baseline.frozen
            ):
                st.baseline_session = (m.time_ns, None)
            return [s]
        opened = st.open_sessions.pop(m.kind, None)
        if opened is None:
            return []
        closed = Session(
            participant=opened.participant, study=opened.study, kind=opened.kind,
            start_ns=opened.start_ns, end_ns=m.time_ns, mode=opened.mode, label=opened.label,
            note=opened.note or m.note,
        )  # fmt: skip
        if m.kind == "baseline" and st.baseline_session is not None:
            st.baseline_session = (st.baseline_session[0], m.time_ns)
        return [closed]

    def _baseline_span(self, st: _Participant) -> tuple[int, int | None]:
        """Start and end of the baseline; a marked baseline ends at its stop marker or
        ``baseline_max_s`` after its start, whichever comes first."""
        if st.baseline_session is not None:
            start, stop = st.baseline_session
            longest = start + int(self.config.baseline_max_s * NS)
            return start, longest if stop is None else min(stop, longest)
        assert st.first_ns is not None
        return st.first_ns, st.first_ns + int(self.config.baseline_s * NS)

    def _in_baseline(self, st: _Participant, end_ns: int) -> tuple[bool, bool]:
        """Whether the window ending at ``end_ns`` belongs to the baseline, and whether it
        starts after the settling period."""
        start, stop = self._baseline_span(st)
        window_start = end_ns - int(self.config.hrv_window_s * NS)
        inside = end_ns <= stop if stop is not None else True
        if st.baseline_session is not None:
            inside = inside and window_start >= start - self._hop_ns
        settled = window_start >= start + int(self.config.baseline_settle_s * NS)
        return inside, settled

    def _baseline_over(self, st: _Participant, end_ns: int) -> bool:
        _, stop = self._baseline_span(st)
        return stop is not None and end_ns > stop

    def _ready(self, st: _Participant, end: int, final: bool) -> bool:
        if end > st.max_ns:
            return False
        if final or st.max_ns - end >= self._wait_ns:
            return True
        beats_ready = all(b.progress_ns >= end for b in st.beats.values())
        eda_ready = not len(st.eda) or st.eda.last >= end
        return beats_ready and eda_ready

    def _advance(self, pid: str, st: _Participant, *, final: bool) -> list[Output]:
        out: list[Output] = []
        computed = False
        self._skip_gaps(st)
        while st.next_end_ns is not None and self._ready(st, st.next_end_ns, final):
            computed = True
            end = st.next_end_ns
            st.next_end_ns += self._hop_ns
            self._skip_gaps(st)
            row = self._window(pid, st, end)
            derived = st.stress.derive(end, row.values)
            out.append(row)
            if st.rolling is not None:
                self._roll(st, st.rolling, row, derived)
            if not st.stress.baseline.frozen:
                if self._baseline_over(st, end):
                    out.extend(self._freeze(st))
                else:
                    inside, settled = self._in_baseline(st, end)
                    if inside and row.plausible:  # rejected windows never enter a baseline
                        st.stress.baseline.add(derived, settled=settled)
                    st.pending.append((row, derived))
                    if self._baseline_over(st, end + self._hop_ns):
                        out.extend(self._freeze(st))  # that was the baseline's last window
                    continue
            out.append(self._stress(row, derived, st.stress))
        if computed and st.next_end_ns is not None:
            self._trim(st, st.next_end_ns - self._span_ns - self._hop_ns)
        return out

    @staticmethod
    def _roll(st: _Participant, rolling: RollingReference, row: FeatureRow, d: Derived) -> None:
        """Offer the window to the rolling reference; a new day brings a new baseline."""
        rolling.offer(d, row.plausible and not st.open_sessions.keys() - REST_KINDS)
        if st.stress.baseline.frozen:
            new = rolling.refresh(d.time_ns, st.stress.baseline)
            if new is not None:
                st.stress.baseline = new

    def _skip_gaps(self, st: _Participant) -> None:
        """Gaps cost nothing: once no window can reach back to the data before a gap, the
        next window is the first one that holds the data after it."""
        while st.gaps and st.next_end_ns is not None:
            last, resume = st.gaps[0]
            if st.next_end_ns - self._span_ns <= last:
                return
            st.gaps.pop(0)
            st.next_end_ns = max(st.next_end_ns, -(-resume // self._hop_ns) * self._hop_ns)

    def _freeze(self, st: _Participant) -> list[Output]:
        st.stress.baseline.freeze(int(self.config.hrv_window_s * NS))
        rows: list[Output] = [self._stress(r, d, st.stress) for r, d in st.pending]
        st.pending.clear()
        return rows

    @staticmethod
    def _stress(row: FeatureRow, derived: Derived, state: StressState) -> StressRow:
        index, confidence, components, reason = stress_index(derived, row.quality, state)
        return StressRow(
            time_ns=row.time_ns, participant=row.participant, study=row.study,
            index=None if index is None else round(index, 6), confidence=confidence,
            components={k: None if v is None else round(v, 6) for k, v in components.items()},
            version=STRESS_INDEX_VERSION, reason=reason,
        )  # fmt: skip

    @staticmethod
    def _trim(st: _Participant, before_ns: int) -> None:
        for b in st.beats.values():
            b.trim(before_ns)
        st.eda.trim(before_ns)
        k = bisect.bisect_left(st.hr_t, before_ns)
        if k:
            del st.hr_t[:k], st.hr_bpm[:k]
        k = bisect.bisect_left(st.acc_t, before_ns)
        if k:
            del st.acc_t[:k], st.acc_v[:k]
        k = bisect.bisect_right([m[0] for m in st.motion], before_ns) - 1
        if k > 0:
            del st.motion[:k]  # the change in force at before_ns stays
        st.no_contact = [(a, b) for a, b in st.no_contact if b is None or b >= before_ns]

    # -- one window --------------------------------------------------------------------------
    def _window(self, pid: str, st: _Participant, end: int) -> FeatureRow:
        values: dict[str, float | None] = {}
        quality: dict[str, float] = {}
        reasons: dict[str, str] = {}
        slow = end % self._slow_hop_ns == 0
        plausible, beats = self._hrv(st, end, slow, values, quality, reasons)
        self._eda(st, end, end % self._edasymp_hop_ns == 0, values, quality, reasons)
        self._confounds(st, end, values, beats)
        return FeatureRow(
            time_ns=end, participant=pid, study=st.study, values=values, quality=quality,
            reasons=reasons, plausible=plausible,
        )  # fmt: skip

    def _contact_lost_ns(self, st: _Participant, start: int, end: int) -> int:
        total = 0
        for a, b in st.no_contact:
            lo, hi = max(a, start), min(end if b is None else b, end)
            total += max(0, hi - lo)
        return total

    def _beats_in(self, st: _Participant, start: int, end: int) -> BeatWindow:
        """The preferred source's beats in (start, end]: the first source, in priority order,
        that covers the window, else the one covering most."""
        best: tuple[float, str, int, int] | None = None
        for key in SOURCE_PRIORITY:
            b = st.beats.get(key)
            if b is None or not b.t:
                continue
            lo, hi = bisect.bisect_right(b.t, start), bisect.bisect_right(b.t, end)
            cov = sum(b.rr[lo:hi]) * 1e6 / (end - start)
            if cov >= self.config.min_coverage:
                best = (cov, key, lo, hi)
                break
            if best is None or cov > best[0]:
                best = (cov, key, lo, hi)
        if best is None:
            return EMPTY
        _, key, lo, hi = best
        return st.beats[key].window(key, lo, hi, start, end)

    def _beat_check(self, w: BeatWindow) -> str:
        """Why the window's beats cannot give HRV, or ""."""
        c = self.config
        if w.coverage < c.min_coverage:
            return f"beats cover {w.coverage:.0%} of the window (need {c.min_coverage:.0%})"
        if w.n < c.min_beats:
            return f"{w.n} beats (need {c.min_beats})"
        if w.gaps:
            return f"the beats have {w.gaps} gap(s) in the window"
        if w.corrected_share > c.max_corrected_share:
            return (
                f"{w.corrected_share:.0%} of beats were corrected artefacts "
                f"(max {c.max_corrected_share:.0%})"
            )
        lo, hi = c.rr_range_ms
        out = int(np.count_nonzero((w.rr_ms < lo) | (w.rr_ms > hi)))
        if out:
            return f"implausible: {out} RR interval(s) outside {lo:g}-{hi:g} ms"
        return ""

    def _artefact_share(self, w: BeatWindow) -> float:
        return sum(w.artefacts.values()) / w.n if w.n else 0.0

    def _plausibility(self, st: _Participant, end: int, f: dict[str, float]) -> str:
        """Why the window's HRV is not physiological, or "" (docs/features.md)."""
        c = self.config
        hr = f["mean_hr_bpm"]
        if not c.hr_range_bpm[0] <= hr <= c.hr_range_bpm[1]:
            lo, hi = c.hr_range_bpm
            return f"implausible: mean HR {hr:.0f} bpm outside {lo:g}-{hi:g} bpm"
        if f["rmssd_ms"] > c.max_rmssd_ms:
            return f"implausible: RMSSD {f['rmssd_ms']:.0f} ms above {c.max_rmssd_ms:g} ms"
        start = end - int(c.hrv_window_s * NS)
        lo, hi = bisect.bisect_right(st.hr_t, start), bisect.bisect_right(st.hr_t, end)
        if hi > lo:
            device = float(np.mean(st.hr_bpm[lo:hi]))
            if abs(device - hr) > c.max_hr_disagreement_bpm:
                return (
                    f"implausible: the device reported {device:.0f} bpm, the beats give "
                    f"{hr:.0f} bpm (more than {c.max_hr_disagreement_bpm:g} bpm apart)"
                )
        return ""

    def _hrv(
        self, st: _Participant, end: int, slow: bool, values: dict[str, float | None],
        quality: dict[str, float], reasons: dict[str, str],
    ) -> tuple[bool, BeatWindow]:  # fmt: skip
        """HRV features of the window ending at ``end``; False if implausible, and the
        window's beats."""
        c = self.config
        window = int(c.hrv_window_s * NS)
        w = self._beats_in(st, end - window, end)
        reason = self._beat_check(w)
        quality["hrv_coverage"] = round(w.coverage, 4)
        quality["hrv_corrected_share"] = round(w.corrected_share, 4)
        quality["hrv_artefact_share"] = round(self._artefact_share(w), 4)
        quality["beats"] = float(w.n)
        quality["beat_source"] = float(SOURCE_PRIORITY.index(w.source)) if w.source else -1.0
        quality["contact_lost_share"] = round(
            self._contact_lost_ns(st, end - window, end) / window, 4
        )
        values.update({f"artefacts_{k}": float(w.artefacts.get(k, 0)) for k in ARTEFACT_TYPES})
        features: dict[str, float] = {}
        if not reason:
            features = hrv_time(w, c.hrv_time_method)
            reason = self._plausibility(st, end, features)
        if reason:
            reasons["hrv"] = reason
            values.update(dict.fromkeys(HRV_TIME_FEATURES))
        else:
            values.update(features)
            share = self._artefact_share(w)
            if share > c.max_artefact_share:
                values.update(dict.fromkeys(BEAT_TO_BEAT))
                reasons["hrv_beat_to_beat"] = (
                    f"{share:.0%} artefact beats (max {c.max_artefact_share:.0%}): "
                    f"{', '.join(BEAT_TO_BEAT)} withheld"
                )
        if slow:
            self._slow_hrv(st, end)
        values.update({k: st.slow.get(k) for k in (*HRV_FREQ_FEATURES, *HRV_NONLINEAR_FEATURES)})
        for fam in ("freq", "nonlinear"):
            if fam in st.slow_reasons:
                reasons[fam] = st.slow_reasons[fam]
        return not reason.startswith("implausible"), w

    def _slow_hrv(self, st: _Participant, end: int) -> None:
        c = self.config
        for fam, window_s, names in (
            ("freq", c.freq_window_s, HRV_FREQ_FEATURES),
            ("nonlinear", c.nonlinear_window_s, HRV_NONLINEAR_FEATURES),
        ):
            window = int(window_s * NS)
            w = self._beats_in(st, end - window, end)
            reason = self._beat_check(w)
            share = self._artefact_share(w)
            if not reason and fam == "freq" and share > c.max_artefact_share:
                reason = f"{share:.0%} artefact beats (max {c.max_artefact_share:.0%})"
            st.slow_reasons.pop(fam, None)
            if reason:
                st.slow_reasons[fam] = reason
                st.slow.update(dict.fromkeys(names))
            elif fam == "freq":
                st.slow.update(hrv_frequency(w, c.hrv_frequency_method, c.spectrum))
            else:
                st.slow.update(hrv_nonlinear(w, c.hrv_nonlinear_method))

    def _eda_window(
        self, st: _Participant, end: int, window_s: float
    ) -> tuple[FloatArray, str, float]:
        start = end - int(window_s * NS)
        lo, hi = st.eda.span(start, end)
        expected = window_s * st.eda_rate
        n = hi - lo
        coverage = min(1.0, n / expected) if expected else 0.0
        if coverage < self.config.min_coverage:
            return np.zeros(0), f"EDA samples cover {coverage:.0%} of the window", coverage
        times = st.eda.t[lo:hi]
        max_gap = float(np.max(np.diff(times))) / NS if n > 1 else math.inf
        if max_gap > 2.0:
            return np.zeros(0), f"EDA has a {max_gap:.1f} s gap in the window", coverage
        signal = st.eda.v[lo:hi]  # a view of the buffer: read-only, as no feature may edit it
        signal.flags.writeable = False
        return signal, "", coverage

    def _eda(
        self, st: _Participant, end: int, slow: bool, values: dict[str, float | None],
        quality: dict[str, float], reasons: dict[str, str],
    ) -> None:  # fmt: skip
        c = self.config
        signal, reason, coverage = self._eda_window(st, end, c.eda_window_s)
        quality["eda_coverage"] = round(coverage, 4)
        if not reason:
            q, reason = eda_quality(signal, st.eda_rate)
            quality.update(q)
        if reason:
            reasons["eda"] = reason
            values.update(dict.fromkeys(EDA_FEATURES))
        else:
            values.update(eda_features(signal, st.eda_rate, c.eda_method))
        if slow:
            long_signal, long_reason, _ = self._eda_window(st, end, c.edasymp_window_s)
            if not long_reason:
                _, long_reason = eda_quality(long_signal, st.eda_rate)
            st.slow_reasons.pop("eda_symp", None)
            if long_reason:
                st.slow_reasons["eda_symp"] = long_reason
                st.slow.update(dict.fromkeys(EDA_SYMP_FEATURES))
            else:
                st.slow.update(eda_sympathetic(long_signal, st.eda_rate, c.eda_sympathetic_method))
        values.update({k: st.slow.get(k) for k in EDA_SYMP_FEATURES})
        if "eda_symp" in st.slow_reasons:
            reasons["eda_symp"] = st.slow_reasons["eda_symp"]

    def baseline(self, participant: str) -> Baseline | None:
        """The participant's baseline statistics (frozen once the baseline period is over)."""
        st = self._p.get(participant)
        return None if st is None else st.stress.baseline

    def _confounds(
        self, st: _Participant, end: int, values: dict[str, float | None], beats: BeatWindow
    ) -> None:
        """Breathing rate (RSA, or the accelerometer when still) and movement per window."""
        window = int(self.config.hrv_window_s * NS)
        values.update(dict.fromkeys((*RESPIRATION_FEATURES, *MOVEMENT_FEATURES)))
        if values.get("rmssd_ms") is not None:  # ``beats``: the HRV window's, the same span
            values.update(respiration_rr(beats.rr_ms, beats.times_s))
        lo = bisect.bisect_right(st.acc_t, end - window)
        hi = bisect.bisect_right(st.acc_t, end)
        if st.motion and not (st.acc_rate and hi > lo):  # live Polar: still/moving changes
            values.update(motion_activity(st.motion, end - window, end))
        if st.acc_rate and hi - lo >= 0.8 * self.config.hrv_window_s * st.acc_rate:
            mag = np.asarray(st.acc_v[lo:hi], dtype=float)
            values.update(acc_activity(mag, st.acc_rate))
            share = values["moving_share"]
            rate = respiration_acc(mag, st.acc_rate) if share is not None and share < 0.2 else None
            if rate is not None:
                values["resp_rate_bpm"] = rate
                values["resp_from_acc"] = 1.0
