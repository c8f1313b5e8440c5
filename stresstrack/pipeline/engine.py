"""The streaming pipeline: events in, window features, stress index and sessions out.

It runs on event time. Windows end on a grid of ``hop`` seconds (multiples of the hop since
the Unix epoch, so every participant and every run shares the grid); the window ending at
``T`` is computed once the participant's watermark (latest event time minus ``lateness``)
passes ``T``. Results therefore depend only on the events and their order, never on how
fast they arrive: live, simulated and replayed runs of the same events give the same rows.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from stresstrack.events import (
    Beat,
    Contact,
    DeviceStatus,
    EdaSamples,
    Event,
    HeartRate,
    Marker,
    MarkerAction,
)
from stresstrack.pipeline.eda import EDA_FEATURES, eda_features
from stresstrack.pipeline.hrv import HRV_TIME_FEATURES, clean_rr, hrv_time
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.pipeline.stress import STRESS_INDEX_VERSION, Baseline, stress_index

__all__ = ["Output", "Pipeline", "PipelineConfig"]

NS: Final = 1_000_000_000
Output = FeatureRow | StressRow | Session


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Window lengths and hop in seconds; see docs/stress-index.md for the defaults' sources."""

    hrv_window_s: float = 60.0  # ultra-short RMSSD/HR from 60 s agree with 5 min (Munoz 2015)
    eda_window_s: float = 60.0  # SCR rate needs a minute to count a few responses
    hop_s: float = 5.0
    lateness_s: float = 10.0  # how late an event may arrive and still count
    baseline_s: float = 300.0  # baseline when none is marked: the first 5 minutes
    min_coverage: float = 0.8  # share of a window that must hold data
    min_beats: int = 20

    def __post_init__(self) -> None:
        for name in ("hrv_window_s", "eda_window_s", "hop_s", "baseline_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.lateness_s < 0:
            raise ValueError("lateness_s must be >= 0")


@dataclass
class _Participant:
    study: str
    first_ns: int | None = None
    max_ns: int = 0
    next_end_ns: int | None = None
    beats_t: deque[int] = field(default_factory=deque)
    beats_rr: deque[float] = field(default_factory=deque)
    eda_t: deque[int] = field(default_factory=deque)
    eda_v: deque[float] = field(default_factory=deque)
    eda_rate: float = 0.0
    no_contact: list[tuple[int, int | None]] = field(default_factory=list)
    open_sessions: dict[str, Session] = field(default_factory=dict)
    baseline_session: tuple[int, int | None] | None = None
    baseline: Baseline = field(default_factory=Baseline)
    pending: list[FeatureRow] = field(default_factory=list)


class Pipeline:
    """Feed events with :meth:`process`; call :meth:`finish` at the end of the data."""

    def __init__(self, config: PipelineConfig | None = None) -> None:
        self.config = config or PipelineConfig()
        self._p: dict[str, _Participant] = {}
        self.late_events = 0
        self._hop_ns = int(self.config.hop_s * NS)
        self._hrv_ns = int(self.config.hrv_window_s * NS)
        self._eda_ns = int(self.config.eda_window_s * NS)
        self._span_ns = max(self._hrv_ns, self._eda_ns)

    # -- input -------------------------------------------------------------------------------
    def process_many(self, events: Iterable[Event]) -> list[Output]:
        out: list[Output] = []
        for e in events:
            out.extend(self.process(e))
        return out

    def process(self, event: Event) -> list[Output]:
        st = self._p.get(event.participant)
        if st is None:
            st = self._p[event.participant] = _Participant(study=event.study)
        out: list[Output] = []
        t = event.time_ns
        if st.first_ns is None:
            st.first_ns = t
            first_end = t + self._span_ns
            st.next_end_ns = -(-first_end // self._hop_ns) * self._hop_ns
        if (
            st.next_end_ns is not None
            and t <= st.next_end_ns - self._hop_ns - int(self.config.lateness_s * NS)
            and not isinstance(event, Marker | DeviceStatus)
        ):
            self.late_events += 1  # its window is already computed
        if isinstance(event, Beat):
            st.beats_t.append(t)
            st.beats_rr.append(event.rr_ms)
        elif isinstance(event, EdaSamples):
            st.eda_rate = event.sampling_rate
            for i, v in enumerate(event.values_us):
                st.eda_t.append(event.sample_time_ns(i))
                st.eda_v.append(v)
            t = event.sample_time_ns(len(event.values_us) - 1)
        elif isinstance(event, HeartRate):
            self._contact(st, t, event.contact)
        elif isinstance(event, DeviceStatus):
            if event.contact is not None:
                self._contact(st, t, event.contact)
        elif isinstance(event, Marker):
            out.extend(self._marker(st, event))
        st.max_ns = max(st.max_ns, t)
        watermark = st.max_ns - int(self.config.lateness_s * NS)
        out.extend(self._advance(event.participant, st, watermark))
        return out

    def finish(self) -> list[Output]:
        """Compute every window the data covers, freeze baselines and emit open sessions."""
        out: list[Output] = []
        for pid, st in self._p.items():
            out.extend(self._advance(pid, st, st.max_ns))
            if not st.baseline.frozen:
                out.extend(self._freeze(pid, st))
            out.extend(st.open_sessions.values())
        return out

    # -- state -------------------------------------------------------------------------------
    @staticmethod
    def _contact(st: _Participant, t: int, contact: Contact) -> None:
        lost = contact is Contact.NOT_DETECTED
        open_loss = bool(st.no_contact) and st.no_contact[-1][1] is None
        if lost and not open_loss:
            st.no_contact.append((t, None))
        elif not lost and open_loss:
            st.no_contact[-1] = (st.no_contact[-1][0], t)

    def _marker(self, st: _Participant, m: Marker) -> list[Output]:
        if m.action is MarkerAction.EVENT:
            return []
        if m.action is MarkerAction.START:
            s = Session(
                participant=m.participant,
                study=m.study,
                kind=m.kind,
                start_ns=m.time_ns,
                end_ns=None,
                mode=m.mode,
                label=m.label,
                note=m.note,
            )
            st.open_sessions[m.kind] = s
            if m.kind == "baseline" and st.baseline_session is None and not st.baseline.frozen:
                st.baseline_session = (m.time_ns, None)
            return [s]
        opened = st.open_sessions.pop(m.kind, None)
        if opened is None:
            return []
        closed = Session(
            participant=opened.participant,
            study=opened.study,
            kind=opened.kind,
            start_ns=opened.start_ns,
            end_ns=m.time_ns,
            mode=opened.mode,
            label=opened.label,
            note=opened.note or m.note,
        )
        if m.kind == "baseline" and st.baseline_session is not None:
            st.baseline_session = (st.baseline_session[0], m.time_ns)
        return [closed]

    def _in_baseline(self, st: _Participant, end_ns: int) -> bool:
        if st.baseline_session is not None:
            start, stop = st.baseline_session
            return end_ns - self._span_ns >= start - self._hop_ns and (
                stop is None or end_ns <= stop
            )
        assert st.first_ns is not None
        return end_ns <= st.first_ns + int(self.config.baseline_s * NS)

    def _baseline_over(self, st: _Participant, end_ns: int) -> bool:
        assert st.first_ns is not None
        if st.baseline_session is not None:
            stop = st.baseline_session[1]
            return stop is not None and end_ns > stop
        return end_ns > st.first_ns + int(self.config.baseline_s * NS)

    def _advance(self, pid: str, st: _Participant, watermark: int) -> list[Output]:
        out: list[Output] = []
        while st.next_end_ns is not None and st.next_end_ns <= watermark:
            end = st.next_end_ns
            st.next_end_ns += self._hop_ns
            row = self._window(pid, st, end)
            out.append(row)
            if not st.baseline.frozen:
                if self._baseline_over(st, end):
                    out.extend(self._freeze(pid, st))
                else:
                    if self._in_baseline(st, end):
                        st.baseline.add(row.values)
                    st.pending.append(row)
                    continue
            out.append(self._stress(row, st.baseline))
        self._trim(st, watermark)
        return out

    def _freeze(self, pid: str, st: _Participant) -> list[Output]:
        st.baseline.freeze()
        rows: list[Output] = [self._stress(r, st.baseline) for r in st.pending]
        st.pending.clear()
        return rows

    @staticmethod
    def _stress(row: FeatureRow, baseline: Baseline) -> StressRow:
        index, confidence, components, reason = stress_index(row.values, row.quality, baseline)
        return StressRow(
            time_ns=row.time_ns,
            participant=row.participant,
            study=row.study,
            index=None if index is None else round(index, 6),
            confidence=confidence,
            components={k: None if v is None else round(v, 6) for k, v in components.items()},
            version=STRESS_INDEX_VERSION,
            reason=reason,
        )

    def _trim(self, st: _Participant, watermark: int) -> None:
        keep_from = min(watermark, st.next_end_ns or watermark) - self._span_ns - self._hop_ns
        while st.beats_t and st.beats_t[0] < keep_from:
            st.beats_t.popleft()
            st.beats_rr.popleft()
        while st.eda_t and st.eda_t[0] < keep_from:
            st.eda_t.popleft()
            st.eda_v.popleft()
        st.no_contact = [(a, b) for a, b in st.no_contact if b is None or b >= keep_from]

    # -- one window --------------------------------------------------------------------------
    def _window(self, pid: str, st: _Participant, end: int) -> FeatureRow:
        values: dict[str, float | None] = {}
        quality: dict[str, float] = {}
        reasons: dict[str, str] = {}
        self._hrv(st, end, values, quality, reasons)
        self._eda(st, end, values, quality, reasons)
        return FeatureRow(
            time_ns=end,
            participant=pid,
            study=st.study,
            values=values,
            quality=quality,
            reasons=reasons,
        )

    def _contact_lost_ns(self, st: _Participant, start: int, end: int) -> int:
        total = 0
        for a, b in st.no_contact:
            lo, hi = max(a, start), min(end if b is None else b, end)
            total += max(0, hi - lo)
        return total

    def _hrv(
        self,
        st: _Participant,
        end: int,
        values: dict[str, float | None],
        quality: dict[str, float],
        reasons: dict[str, str],
    ) -> None:
        start = end - self._hrv_ns
        t = np.fromiter(st.beats_t, dtype=np.int64, count=len(st.beats_t))
        lo, hi = np.searchsorted(t, start, side="right"), np.searchsorted(t, end, side="right")
        rr_all = np.fromiter(st.beats_rr, dtype=float, count=len(st.beats_rr))[lo:hi]
        rr, dropped = clean_rr(rr_all)
        coverage = min(1.0, float(rr_all.sum()) * 1e6 / self._hrv_ns) if rr_all.size else 0.0
        no_contact = self._contact_lost_ns(st, start, end) / self._hrv_ns
        quality["hrv_coverage"] = round(coverage, 4)
        quality["hrv_corrected_share"] = round(dropped / rr_all.size, 4) if rr_all.size else 0.0
        quality["contact_lost_share"] = round(no_contact, 4)
        quality["beats"] = float(rr_all.size)
        reason = ""
        if coverage < self.config.min_coverage:
            reason = (
                f"beats cover {coverage:.0%} of the window (need {self.config.min_coverage:.0%})"
            )
        elif rr.size < self.config.min_beats:
            reason = f"{rr.size} clean beats (need {self.config.min_beats})"
        elif dropped / rr_all.size > 0.2:
            reason = f"{dropped / rr_all.size:.0%} of beats are artefacts (max 20%)"
        if reason:
            reasons["hrv"] = reason
            values.update(dict.fromkeys(HRV_TIME_FEATURES))
            return
        values.update(hrv_time(rr))

    def _eda(
        self,
        st: _Participant,
        end: int,
        values: dict[str, float | None],
        quality: dict[str, float],
        reasons: dict[str, str],
    ) -> None:
        start = end - self._eda_ns
        t = np.fromiter(st.eda_t, dtype=np.int64, count=len(st.eda_t))
        lo, hi = np.searchsorted(t, start, side="right"), np.searchsorted(t, end, side="right")
        expected = self.config.eda_window_s * st.eda_rate
        n = int(hi - lo)
        coverage = min(1.0, n / expected) if expected else 0.0
        quality["eda_coverage"] = round(coverage, 4)
        reason = ""
        if coverage < self.config.min_coverage:
            reason = f"EDA samples cover {coverage:.0%} of the window"
        else:
            times = t[lo:hi]
            max_gap = float(np.max(np.diff(times))) / NS if n > 1 else math.inf
            if max_gap > 2.0:
                reason = f"EDA has a {max_gap:.1f} s gap in the window"
        if reason:
            reasons["eda"] = reason
            values.update(dict.fromkeys(EDA_FEATURES))
            return
        signal = np.fromiter(st.eda_v, dtype=float, count=len(st.eda_v))[lo:hi]
        values.update(eda_features(signal, st.eda_rate))

    def status(self) -> dict[str, dict[str, float]]:
        """Per-participant progress, for live views."""
        return {
            pid: {"max_time_s": st.max_ns / NS, "buffered_beats": float(len(st.beats_t))}
            for pid, st in self._p.items()
        }
