"""A protocol's phases as session markers: written live as the phases run, or all at once for
recordings simulated or imported without markers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from stresstrack.clock import Clock
from stresstrack.events import Marker, MarkerAction
from stresstrack.session.protocol import Phase, Protocol

if TYPE_CHECKING:
    from stresstrack.events import EventSink

__all__ = ["PROTOCOL_DEVICE", "phase_marker", "protocol_markers", "run_protocol"]

NS: Final = 1_000_000_000
PROTOCOL_DEVICE: Final = "protocol"  # the device field of markers a protocol writes


def phase_marker(
    phase: Phase,
    action: MarkerAction,
    *,
    time_ns: int,
    participant: str,
    study: str,
    note: str = "",
) -> Marker:
    """The marker starting or stopping ``phase``, as a protocol writes it."""
    return Marker(
        time_ns=time_ns,
        participant=participant,
        study=study,
        device=PROTOCOL_DEVICE,
        action=action,
        kind=phase.kind,
        mode=phase.mode,
        label=phase.label,
        note=note,
    )


def protocol_markers(
    protocol: Protocol, *, participant: str, study: str, start_ns: int
) -> list[Marker]:
    """The start and stop markers of every phase of ``protocol`` run from ``start_ns``: what
    :func:`run_protocol` writes live, for recordings simulated or imported without markers."""
    out = []
    for start, end, phase in protocol.phase_bounds():
        for action, t in ((MarkerAction.START, start), (MarkerAction.STOP, end)):
            out.append(
                phase_marker(
                    phase,
                    action,
                    time_ns=start_ns + round(t * NS),
                    participant=participant,
                    study=study,
                )
            )
    return out


async def run_protocol(
    protocol: Protocol,
    *,
    participant: str,
    study: str,
    clock: Clock,
    sink: EventSink,
    on_phase: Callable[[Phase], None] | None = None,
) -> None:
    """Mark every phase of ``protocol`` as a session (start and stop markers) in real (or
    virtual) time, calling ``on_phase`` as each begins so the participant can be prompted."""
    ids = {"participant": participant, "study": study}
    for phase in protocol.phases:
        sink.emit([phase_marker(phase, MarkerAction.START, time_ns=clock.now_ns(), **ids)])
        if on_phase is not None:
            on_phase(phase)
        await asyncio.sleep(phase.duration_s)
        sink.emit([phase_marker(phase, MarkerAction.STOP, time_ns=clock.now_ns(), **ids)])
