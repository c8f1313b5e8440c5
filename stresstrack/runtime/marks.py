"""A protocol's phases run as sessions during a live collection (markers into the runtime)."""

from __future__ import annotations

from collections.abc import Callable

from stresstrack.clock import Clock
from stresstrack.events import EventSink, MarkerAction
from stresstrack.session.markers import phase_marker, run_protocol
from stresstrack.session.protocol import Phase, Protocol

__all__ = ["ProtocolMarks"]


class ProtocolMarks:
    """Runs the protocol's phases as sessions; closes the open one if collection stops early."""

    def __init__(
        self,
        protocol: Protocol,
        *,
        participant: str,
        study: str,
        clock: Clock,
        sink: EventSink,
        say: Callable[[str], None],
    ) -> None:
        self.protocol = protocol
        self.participant = participant
        self.study = study
        self.clock = clock
        self.sink = sink
        self.say = say
        self.current: Phase | None = None
        self._n = 0

    def on_phase(self, phase: Phase) -> None:
        self.current = phase
        self._n += 1
        prompt = f": {phase.prompt}" if phase.prompt else ""
        self.say(
            f"phase {self._n}/{len(self.protocol.phases)}: {phase.kind} "
            f"({phase.duration_s / 60:g} min){prompt}"
        )

    async def run(self) -> None:
        await run_protocol(
            self.protocol,
            participant=self.participant,
            study=self.study,
            clock=self.clock,
            sink=self.sink,
            on_phase=self.on_phase,
        )
        self.current = None
        self.say("protocol finished")

    def close_open_phase(self) -> None:
        if self.current is None:
            return
        p, self.current = self.current, None
        stop = phase_marker(
            p,
            MarkerAction.STOP,
            time_ns=self.clock.now_ns(),
            participant=self.participant,
            study=self.study,
            note="collection stopped",
        )
        self.sink.emit([stop])
