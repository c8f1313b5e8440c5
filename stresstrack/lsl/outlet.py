"""Publish events and pipeline results as LSL streams (``--lsl`` on collect, demo, pipeline).

:class:`PublishingPipeline` is the ordinary pipeline that also hands every event it is fed,
and every stress row it computes, to a :class:`Publisher`; so whatever feeds the pipeline
(collectors, the store followed for ``stresstrack mark``, MQTT workers, simulations) is
published as it is computed, with nothing else changed. Outlets open on the first event of
each participant, device and signal; time stamps are the events' own times on LSL's clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from stresstrack.events import Beat, EdaSamples, Event, HeartRate, Marker, Waveform
from stresstrack.lsl.streams import STRESS_CHANNELS, StreamSpec, marker_text, spec_for_event
from stresstrack.lsl.streams import stress_spec as _stress_spec
from stresstrack.pipeline.engine import Output, Pipeline, PipelineConfig
from stresstrack.pipeline.results import StressRow

if TYPE_CHECKING:
    import pylsl

__all__ = ["Publisher", "PublishingPipeline", "stream_info"]

NS: Final = 1_000_000_000
NAN: Final = float("nan")
# How much an outlet holds for a slow consumer (seconds of data; 100s of samples for an
# irregular stream). liblsl's default, 360 s, drops samples when `demo --lsl` publishes a
# whole study faster than real time.
MAX_BUFFERED_S: Final = 6 * 3600


def stream_info(spec: StreamSpec) -> pylsl.StreamInfo:
    """The ``pylsl.StreamInfo`` of a spec, with its XDF meta-data."""
    import pylsl

    info = pylsl.StreamInfo(
        spec.name,
        spec.type,
        len(spec.channels),
        spec.nominal_srate,
        spec.channel_format,
        spec.source_id,
    )
    desc = info.desc()
    channels = desc.append_child("channels")
    for c in spec.channels:
        ch = channels.append_child("channel")
        ch.append_child_value("label", c.label)
        ch.append_child_value("unit", c.unit)
        ch.append_child_value("type", c.type)
    acq = desc.append_child("acquisition")
    acq.append_child_value("manufacturer", "stresstrack")
    acq.append_child_value("model", spec.model)
    desc.append_child("subject").append_child_value("id", spec.participant)
    return info


class Publisher:
    """LSL outlets, one per stream, opened as their first sample comes.

    Event times (UTC ns) become LSL time stamps through one anchor taken at start: the LSL
    clock (``local_clock``) and the wall clock read together.
    """

    def __init__(self) -> None:
        import pylsl

        self._pylsl = pylsl
        self._outlets: dict[str, Any] = {}
        self._participants: set[tuple[str, str]] = set()
        self._anchor_lsl = float(pylsl.local_clock())
        self._anchor_ns = time.time_ns()

    @property
    def source_ids(self) -> list[str]:
        return sorted(self._outlets)

    def lsl_time(self, time_ns: int) -> float:
        return self._anchor_lsl + (time_ns - self._anchor_ns) / NS

    def _outlet(self, spec: StreamSpec) -> Any:
        outlet = self._outlets.get(spec.source_id)
        if outlet is None:
            outlet = self._outlets[spec.source_id] = self._pylsl.StreamOutlet(
                stream_info(spec), max_buffered=MAX_BUFFERED_S
            )
        return outlet

    def announce(self, events: Sequence[Event]) -> None:
        """Open the outlets these events go to, without sending them (so that recorders
        can subscribe before the first sample)."""
        for e in events:
            spec = spec_for_event(e)
            if spec is not None:
                self._outlet(spec)
        for study, participant in {(e.study, e.participant) for e in events}:
            self._outlet(_stress_spec(study, participant))

    def events(self, events: Iterable[Event]) -> None:
        for e in events:
            if (e.study, e.participant) not in self._participants:
                # The stress stream is there from the participant's first data on, so that
                # recorders can subscribe before its first window.
                self._participants.add((e.study, e.participant))
                self._outlet(_stress_spec(e.study, e.participant))
            spec = spec_for_event(e)
            if spec is None:
                continue
            outlet = self._outlet(spec)
            if isinstance(e, EdaSamples | Waveform):
                values = e.values_us if isinstance(e, EdaSamples) else e.values
                step = 1.0 / e.sampling_rate
                t0 = self.lsl_time(e.time_ns)
                for i, v in enumerate(values):
                    outlet.push_sample([v], t0 + i * step)
            elif isinstance(e, Marker):
                outlet.push_sample([marker_text(e)], self.lsl_time(e.time_ns))
            elif isinstance(e, Beat):
                outlet.push_sample([e.rr_ms], self.lsl_time(e.time_ns))
            elif isinstance(e, HeartRate):
                outlet.push_sample([e.bpm], self.lsl_time(e.time_ns))

    def stress(self, rows: Iterable[StressRow]) -> None:
        for r in rows:
            outlet = self._outlet(_stress_spec(r.study, r.participant))
            z = [r.components.get(label[2:]) for label, _unit in STRESS_CHANNELS[2:]]
            values = [NAN if v is None else v for v in (r.index, r.confidence, *z)]
            outlet.push_sample(values, self.lsl_time(r.time_ns))

    def close(self) -> None:
        self._outlets.clear()  # pylsl closes an outlet when it is collected


class PublishingPipeline(Pipeline):
    """A :class:`~stresstrack.pipeline.engine.Pipeline` that publishes its input and its
    stress rows to LSL."""

    def __init__(self, config: PipelineConfig | None = None, *, publisher: Publisher) -> None:
        super().__init__(config)
        self.publisher = publisher
        self.observe(inputs=publisher.events, outputs=self._published)

    def _published(self, outputs: list[Output]) -> None:
        self.publisher.stress(o for o in outputs if isinstance(o, StressRow))
