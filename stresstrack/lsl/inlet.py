"""LSL streams of other apps into stresstrack: markers and physiological signals.

* ``collect --lsl-markers QUERY``: each marker string of experiment software (PsychoPy,
  Presentation, jsPsych bridges) becomes a session :class:`~stresstrack.events.Marker`, through
  the study file's ``[lsl.markers]`` table (``"selfcare_start" = "start self-care solo
  serum-massage"``: action, kind, then optional mode and label); strings not in the table are
  read as in XDF files (``start <kind>``, ``<kind> stop``, anything else a point event).
* ``collect --lsl-source QUERY``: an RR, HR, ECG, PPG or EDA stream becomes the events a
  device or recording of that signal gives (:func:`stresstrack.replay.xdf.classify_stream`
  tells the signal from the stream's type or name; the unit comes from its first channel's
  ``unit``, as in XDF files). Sampled signals are cut into the same 1 s chunks as the CSV
  replay, at the stream's nominal rate.

End of a stream: liblsl's ``LostError``, or, since liblsl does not always notice a sender that
has gone, :class:`~stresstrack.lsl.watch.StreamWatch`: a stream that is silent and no longer
advertised on the network. A silent stream that is still advertised (a marker stream between
markers, a sender that paused) stays open.

Time: inlets ask liblsl for clock synchronisation (``proc_clocksync``), so the sender's time
stamps arrive on this computer's LSL clock, corrected by the measured clock offset; an anchor
read once at start (LSL clock and wall clock together) turns them into UTC.

``QUERY`` is a stream name, or an XPath predicate such as ``type='Markers'`` or
``name='PsychoPy' and hostname='lab-pc'`` (anything holding ``=``, ``(`` or ``'``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from stresstrack.errors import StressTrackError
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
from stresstrack.lsl.watch import StreamWatch
from stresstrack.replay.chunks import SampleChunker, eda_maker, waveform_maker
from stresstrack.replay.csv_generic import CHUNK_S
from stresstrack.replay.xdf import _UNIT_SCALE, classify_stream, parse_marker

__all__ = [
    "LslClock",
    "MarkerInlet",
    "MarkerRule",
    "SourceInlet",
    "marker_from_text",
    "open_inlet",
    "parse_marker_rule",
    "pick_channel",
    "pull",
    "pump",
    "resolve_query",
]

NS: Final = 1_000_000_000
PULL_TIMEOUT_S: Final = 0.2  # how long one pull waits for data (bounds the reaction to stop)
OPEN_TIMEOUT_S: Final = 10.0  # how long opening an inlet and reading its header may take
_SIGNALS: Final = ("rr", "hr", "ecg", "ppg", "eda")


class LslError(StressTrackError):
    """An LSL stream cannot be found or used."""


@dataclass(frozen=True, slots=True)
class LslClock:
    """Maps this computer's LSL clock (seconds) to UTC nanoseconds.

    >>> LslClock(lsl_s=100.0, utc_ns=1_700_000_000 * NS).to_ns(101.5)
    1700000001500000000
    """

    lsl_s: float
    utc_ns: int

    @classmethod
    def now(cls) -> LslClock:
        import pylsl

        return cls(pylsl.local_clock(), time.time_ns())

    def to_ns(self, lsl_s: float) -> int:
        return self.utc_ns + round((lsl_s - self.lsl_s) * NS)


@dataclass(frozen=True, slots=True)
class MarkerRule:
    action: MarkerAction
    kind: str
    mode: str = ""
    label: str = ""


def parse_marker_rule(text: str, where: str) -> MarkerRule:
    """``"start self-care solo serum-massage"`` → action, kind, mode, label.

    >>> rule = parse_marker_rule("start self-care solo serum-massage", "study.toml")
    >>> rule.action.value, rule.kind, rule.mode, rule.label
    ('start', 'self-care', 'solo', 'serum-massage')
    """
    words = text.split()
    actions = [a.value for a in MarkerAction]
    if not 2 <= len(words) <= 4 or words[0] not in actions:
        raise LslError(
            f"{where}: marker rule {text!r} must be '<{'|'.join(actions)}> KIND [MODE [LABEL]]'"
        )
    return MarkerRule(MarkerAction(words[0]), *words[1:])


def resolve_query(query: str, timeout_s: float) -> Any:
    """The first LSL stream matching ``query`` (a name or an XPath predicate)."""
    import pylsl

    predicate = query if any(c in query for c in "='(") else f"name='{query}'"
    found = pylsl.resolve_bypred(predicate, 1, timeout_s)
    if not found:
        raise LslError(
            f"no LSL stream matches {query!r} within {timeout_s:g} s (is the sending app "
            "running on this network? `python -m pylsl.examples.ResolveStreams` lists streams; "
            "see docs/integrations.md when multicast is blocked)"
        )
    return found[0]


def open_inlet(info: Any) -> Any:
    """An inlet with clock synchronisation, holding its full header (channels, units)."""
    import pylsl

    inlet = pylsl.StreamInlet(
        info, max_buflen=360, recover=False, processing_flags=pylsl.proc_clocksync
    )
    inlet.open_stream(timeout=OPEN_TIMEOUT_S)
    return inlet


def _full_info(inlet: Any) -> Any:
    """The stream's full header; a clear error if the sender does not answer in time."""
    from pylsl.util import LostError
    from pylsl.util import TimeoutError as LslTimeout

    try:
        return inlet.info(timeout=OPEN_TIMEOUT_S)
    except (LslTimeout, LostError) as exc:
        raise LslError(f"the LSL stream's sender did not send its header: {exc}") from None


def _channels(full_info: Any) -> list[tuple[str, str]]:
    """(label, unit) of each channel the stream's header describes."""
    out = []
    ch = full_info.desc().child("channels").child("channel")
    while not ch.empty():
        out.append((str(ch.child_value("label")).strip(), str(ch.child_value("unit")).strip()))
        ch = ch.next_sibling()
    return out


def pick_channel(channels: Sequence[tuple[str, str]], count: int, wanted: str, where: str) -> int:
    """The index of the channel ``wanted`` names (a label, or a 1-based number); 0 if empty.

    >>> pick_channel([("ACC", ""), ("ECG", "mV")], 2, "ecg", "s"), pick_channel([], 3, "2", "s")
    (1, 1)
    """
    if not wanted:
        return 0
    if wanted.isdigit() and 1 <= int(wanted) <= count:
        return int(wanted) - 1
    for i, (label, _unit) in enumerate(channels):
        if label.lower() == wanted.lower():
            return i
    labels = ", ".join(label for label, _ in channels) or "none"
    raise LslError(f"{where}: no channel {wanted!r} (channels: {labels}; or 1-{count})")


def marker_from_text(
    text: str, lsl_s: float, *, rules: Mapping[str, MarkerRule], ids: EventIds, clock: LslClock,
    stream: str,
) -> Marker | None:  # fmt: skip
    """The session marker a marker string stands for (pure); None for an empty string.

    >>> clock = LslClock(lsl_s=10.0, utc_ns=1_000 * NS)
    >>> ids = EventIds(participant="P1", study="s", device="lsl:PsychoPy")
    >>> m = marker_from_text("go", 12.0, rules={"go": parse_marker_rule("start stressor", "t")},
    ...                      ids=ids, clock=clock, stream="PsychoPy")
    >>> m.action.value, m.kind, m.time_ns, m.note
    ('start', 'stressor', 1002000000000, 'LSL PsychoPy: go')
    >>> marker_from_text("recovery end", 13.0, rules={}, ids=ids, clock=clock, stream="x").action
    <MarkerAction.STOP: 'stop'>
    """
    rule = rules.get(text.strip())
    if rule is None:
        parsed = parse_marker(text)
        if parsed is None:
            return None
        rule = MarkerRule(*parsed)
    return Marker(
        time_ns=clock.to_ns(lsl_s),
        action=rule.action,
        kind=rule.kind,
        mode=rule.mode,
        label=rule.label,
        note=f"LSL {stream}: {text.strip()}",
        **ids,
    )


class MarkerInlet:
    """Marker strings of one stream → :class:`Marker` events of one participant."""

    def __init__(
        self,
        inlet: Any,
        ids: EventIds,
        rules: Mapping[str, MarkerRule],
        clock: LslClock,
    ) -> None:
        self.inlet = inlet
        self.ids = ids
        self.rules = dict(rules)
        self.clock = clock
        info = _full_info(inlet)
        self.name = str(info.name())
        self.watch = StreamWatch(str(info.uid()))

    def marker(self, text: str, lsl_s: float) -> Marker | None:
        return marker_from_text(
            text, lsl_s, rules=self.rules, ids=self.ids, clock=self.clock, stream=self.name
        )

    def convert(self, samples: Sequence[Sequence[Any]], stamps: Sequence[float]) -> list[Event]:
        out: list[Event] = []
        for s, t in zip(samples, stamps, strict=True):
            m = self.marker(str(s[0]), t)
            if m is not None:
                out.append(m)
        return out

    def flush(self) -> list[Event]:
        return []


class SourceInlet:
    """Samples of an RR/HR/ECG/PPG/EDA stream → events, as a device of that signal gives."""

    def __init__(
        self, inlet: Any, ids: EventIds, clock: LslClock, *, unit: str = "", channel: str = ""
    ) -> None:
        info = _full_info(inlet)
        self.inlet = inlet
        self.name = str(info.name())
        self.watch = StreamWatch(str(info.uid()))
        self.ids = ids
        self.clock = clock
        channels = _channels(info)
        where = f"LSL stream {self.name!r}"
        self.channel = pick_channel(channels, int(info.channel_count()), channel, where)
        label, described = channels[self.channel] if self.channel < len(channels) else ("", "")
        fmt = str(info.channel_format())
        kind = classify_stream(str(info.type()), self.name, fmt)
        if kind not in _SIGNALS and channel:  # e.g. type "Physio" and the channel "EDA"
            kind = classify_stream(label, label, fmt)
        if kind not in _SIGNALS:
            raise LslError(
                f"{where} (type {info.type()!r}) is not an RR, HR, ECG, PPG or EDA stream: its "
                "type or name, or the label of the chosen LSL channel, must say which",
                setting="LSL channel",
            )
        self.kind = kind
        self.rate = float(info.nominal_srate())
        if kind in ("ecg", "ppg", "eda") and not self.rate > 0:
            raise LslError(f"{where}: a {kind} stream needs a nominal rate")
        unit = (unit or described).lower()
        scales = _UNIT_SCALE.get(kind, {})
        if unit and scales and unit not in scales:
            raise LslError(
                f"LSL stream {self.name!r}: unit {unit!r} of a {kind} stream is not one of "
                f"{', '.join(sorted(scales))}"
            )
        self.scale = scales.get(unit, 1.0)
        self.samples = 0  # received so far
        self._chunker: SampleChunker | None = None
        if kind == "eda":
            self._chunker = SampleChunker(eda_maker(self.rate, ids), self.rate, chunk_s=CHUNK_S)
        elif kind in ("ecg", "ppg"):
            wave = WaveformKind.ECG if kind == "ecg" else WaveformKind.PPG
            make = waveform_maker(wave, self.rate, ids)
            self._chunker = SampleChunker(make, self.rate, chunk_s=CHUNK_S)

    def convert(self, samples: Sequence[Sequence[Any]], stamps: Sequence[float]) -> list[Event]:
        out: list[Event] = []
        self.samples += len(samples)
        for s, stamp in zip(samples, stamps, strict=True):
            t = self.clock.to_ns(stamp)
            v = float(s[self.channel]) * self.scale
            if v != v:  # NaN: a missing sample
                continue
            if self._chunker is not None:
                out.extend(self._chunker.add(t, v))
            elif self.kind == "rr":
                if self.scale == 1.0 and 0 < v < 10:  # seconds without a unit, as in XDF
                    v *= 1000.0
                out.append(Beat(time_ns=t, rr_ms=v, source=BeatSource.FILE, **self.ids))
            else:
                out.append(HeartRate(time_ns=t, bpm=v, **self.ids))
        return out

    def flush(self) -> list[Event]:
        return self._chunker.flush() if self._chunker is not None else []


Converter = MarkerInlet | SourceInlet


def pull(conv: Converter, timeout_s: float = PULL_TIMEOUT_S) -> list[Event] | None:
    """Events of what arrived within ``timeout_s``; None once the sender is gone (liblsl
    says so, or its :class:`StreamWatch` does; ``conv.watch.why`` says which)."""
    from pylsl.util import LostError

    try:
        samples, stamps = conv.inlet.pull_chunk(timeout=timeout_s, max_samples=4096)
    except LostError:
        conv.watch.why = "closed by its sender"
        return None
    if samples:
        conv.watch.heard()
        return conv.convert(samples, stamps)
    return None if conv.watch.gone() else []


async def pump(
    conv: Converter,
    emit: Callable[[Sequence[Event]], None],
    stop: asyncio.Event,
    say: Callable[[str], None] = print,
) -> None:
    """Feed ``emit`` from an inlet until ``stop`` is set or the sender closes its stream."""
    while not stop.is_set():
        events = await asyncio.to_thread(pull, conv)
        if events is None:
            say(f"LSL stream {conv.name!r} {conv.watch.why}")
            break
        if events:
            emit(events)
    rest = conv.flush()
    if rest:
        emit(rest)
