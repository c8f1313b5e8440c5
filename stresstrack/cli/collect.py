"""``stresstrack collect``: record a participant's devices live, with features and stress.

Each device gets a :class:`~stresstrack.sensors.collector.DeviceCollector` (reconnects on its
own); events go through a :class:`~stresstrack.recorder.Recorder` into the store and a live
pipeline, flushed every second, so a crash loses at most the last second. Ctrl-C or SIGTERM
stops cleanly: collectors stop their streams and disconnect, the recorder is flushed, the
pipeline finishes its windows, and a summary is printed (exit 0). A second Ctrl-C hurries
the shutdown; what was received is still stored.

``--simulate`` runs the same collectors against simulated peripherals through bleak, in real
time (see :func:`stresstrack.simulators.study.build_participant_air`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from stresstrack.cli.common import (
    add_influx_options,
    add_pipeline_options,
    finite_float,
    influx_replica,
    participant_arg,
    pipeline_config,
)
from stresstrack.cli.lsl_options import (
    add_lsl_inlet_options,
    add_lsl_outlet_option,
    lsl_inlets,
    lsl_pipeline,
)
from stresstrack.cli.mark import HotkeyMarker, terminal_keys
from stresstrack.errors import StressTrackError
from stresstrack.events import EVENT_TYPE_NAMES, Event, Marker, MarkerAction
from stresstrack.protocol import Phase, Protocol, load_protocol
from stresstrack.transport.options import (
    add_broker_options,
    check_publish_args,
    finish_publisher,
    start_publisher,
)

if TYPE_CHECKING:
    from stresstrack.blinding import Blinding
    from stresstrack.clock import Clock
    from stresstrack.lsl.inlet import Converter
    from stresstrack.recorder import Recorder
    from stresstrack.sensors.collector import ClientFactory, DeviceCollector
    from stresstrack.study import StudyChoice

NAME = "collect"
NS: Final = 1_000_000_000
FLUSH_EVERY_S: Final = 1.0  # store and pipeline at most this far behind the devices
LOG_EVERY_S: Final = 10.0  # status lines when the output is not a terminal
SHUTDOWN_S: Final = 15.0  # how long stopping streams and disconnecting may take
SIMULATED_HORIZON_S: Final = 12 * 3600.0  # a simulated participant's recording, when unbounded


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="record a participant's BLE devices live into a store, with live features",
        description="Connect one or more devices worn by a participant (e.g. a heart-rate strap "
        "and an EDA band), store everything they send, compute features and the stress index "
        "live, reconnect when a device drops out, and stop cleanly on Ctrl-C or SIGTERM.",
    )
    p.add_argument(
        "--participant", required=True, type=participant_arg, metavar="ID", help="pseudonym"
    )
    p.add_argument(
        "--device",
        action="append",
        default=[],
        metavar="NAME_OR_ADDRESS",
        help="a device's advertised name or address; repeat for several. With --simulate: "
        "optional (default: the participant's simulated strap and EDA band), and may be one "
        "of strap, eda-band, polar-h10, verity-sense",
    )
    p.add_argument(
        "--store",
        type=Path,
        default=Path("stresstrack.db"),
        metavar="PATH",
        help="SQLite store to append to (default stresstrack.db)",
    )
    p.add_argument(
        "--study",
        default="default",
        metavar="FILE_OR_NAME",
        help="study file (study.toml: name, participants, consent; see docs/sessions.md) or a "
        "study name, stored with every event",
    )
    p.add_argument(
        "--no-consent-check",
        action="store_true",
        help="record a participant without a study file listing their consent (pilots only)",
    )
    p.add_argument(
        "--simulate",
        action="store_true",
        help="collect simulated devices (real collector, bleak and time; no hardware)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated participant")
    p.add_argument(
        "--protocol",
        default=None,
        metavar="FILE_OR_NAME",
        help="mark the phases of this protocol as sessions and print each phase's prompt; "
        "a counterbalanced protocol follows the participant's order (their place in --study); "
        "collection stops when it ends unless --duration is given",
    )
    p.add_argument(
        "--duration", type=finite_float, default=None, metavar="S", help="stop after S seconds"
    )
    p.add_argument(
        "--scan-timeout",
        type=finite_float,
        default=10.0,
        metavar="S",
        help="how long to look for each device before giving up (default 10)",
    )
    add_pipeline_options(p)
    add_lsl_outlet_option(p)
    add_lsl_inlet_options(p)
    add_influx_options(p)
    add_broker_options(
        p, option="--publish", text="also publish the events to this MQTT broker, "
        "mqtt://HOST[:PORT] or mqtts://HOST[:PORT], for `stresstrack pipeline` workers",
    )  # fmt: skip
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.duration is not None and not args.duration > 0:
        raise StressTrackError("--duration must be more than 0 seconds")
    if not args.scan_timeout > 0:
        raise StressTrackError("--scan-timeout must be more than 0 seconds")
    if not args.device and not args.simulate and not args.lsl_source:
        raise StressTrackError(
            "name at least one --device (see `stresstrack scan`) or --lsl-source"
        )
    check_publish_args(args)
    protocol = load_protocol(args.protocol) if args.protocol else None
    from stresstrack.study import resolve_study

    check = not (args.simulate or args.no_consent_check)  # simulated participants need none
    args.study_choice = resolve_study(args.study, args.participant, check=check)
    args.study = args.study_choice.name
    args.order = ()
    if protocol is not None:
        from stresstrack.study import participant_protocol

        # A counterbalanced protocol: the participant's order (their place in the study file).
        protocol, args.order = participant_protocol(
            protocol, args.study_choice.study, args.participant
        )
    args.blinding = _blinding(args.study_choice, protocol)
    return asyncio.run(_collect(args, protocol))


def _blinding(choice: StudyChoice, protocol: Protocol | None) -> Blinding | None:
    """A blinded study's codes; refuses arms and protocol labels that are not codes."""
    from stresstrack.blinding import check_blinded, load_blinding

    if choice.study is None or not choice.study.path:
        return None
    blinding = load_blinding(choice.study.path)
    check_blinded(blinding, choice.study.arms(), protocol, choice.study.path)
    return blinding


@dataclass(frozen=True, slots=True)
class Target:
    """A device to collect: how it is shown, its address and how to connect to it."""

    label: str
    address: str
    factory: ClientFactory


async def _simulated_targets(
    args: argparse.Namespace, clock: Clock, protocol: Protocol | None
) -> list[Target]:
    from stresstrack.sensors.collector import find_device
    from stresstrack.simulators.study import (
        SIMULATED_KINDS,
        build_participant_air,
        protocol_with_rest,
        simulated_client_factory,
        simulated_scanner_kwargs,
    )

    horizon = (args.duration or SIMULATED_HORIZON_S) + 60.0
    if protocol is not None:
        horizon = max(horizon, protocol.duration_s + 60.0)
    sim = build_participant_air(
        args.participant, clock, protocol=protocol_with_rest(protocol, horizon), seed=args.seed
    )
    factory = simulated_client_factory(sim.air)
    wanted = args.device or list(SIMULATED_KINDS[:2])
    out: dict[str, Target] = {}
    for name in wanted:
        if name in sim.devices:
            device = sim.devices[name]
            out[device.address] = Target(device.name, device.address, factory)
            continue
        found = await find_device(
            name, timeout=min(args.scan_timeout, 2.0), **simulated_scanner_kwargs(sim.air)
        )
        if found is None:
            known = ", ".join(f"{d.name} ({d.address})" for d in sim.devices.values())
            raise StressTrackError(
                f"device {name!r} not found among the simulated devices of "
                f"{args.participant}: {known}; or name a kind: {', '.join(SIMULATED_KINDS)}"
            )
        out[found.address] = Target(found.name or name, found.address, factory)
    return list(out.values())


async def _hardware_targets(args: argparse.Namespace) -> list[Target]:
    from bleak import BleakClient
    from bleak.backends.device import BLEDevice
    from bleak.exc import BleakError

    from stresstrack.sensors.collector import describe_ble_error, find_device

    def factory_for(device: BLEDevice) -> ClientFactory:
        return lambda _address, on_disconnect: BleakClient(device, on_disconnect)

    out: dict[str, Target] = {}
    for name in args.device:
        print(f"looking for {name} ({args.scan_timeout:g} s at most)...", flush=True)
        try:
            found = await find_device(name, timeout=args.scan_timeout)
        except (BleakError, OSError) as exc:
            raise StressTrackError(describe_ble_error(exc, name)) from exc
        if found is None:
            raise StressTrackError(
                f"{name}: device not found within {args.scan_timeout:g} s (is it on, charged, "
                "in range, and not connected to a phone? `stresstrack scan` lists what is near)"
            )
        out[found.address] = Target(found.name or name, found.address, factory_for(found))
    return list(out.values())


class CountingSink:
    """Passes events on to the recorder and counts them by type."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.counts: Counter[str] = Counter()

    def emit(self, events: Sequence[Event]) -> None:
        self.counts.update(EVENT_TYPE_NAMES[type(e)] for e in events)
        self.recorder.emit(events)


def _age(now_ns: int, then_ns: int | None) -> str:
    if then_ns is None:
        return "-"
    return f"{max(0, now_ns - then_ns) / NS:.1f}s"


class LiveStatus:
    """One line per device; redrawn in place on a terminal, logged every 10 s otherwise."""

    HEADER: Final = (
        f"{'device':<26} {'link':<4} {'batt':>4} {'contact':<12} {'motion':<6} "
        f"{'last':>6} {'packets':>8} {'bad':>4} {'reconn':>6}"
    )

    def __init__(
        self,
        rows: Sequence[tuple[str, DeviceCollector]],
        stream: TextIO,
        *,
        every_s: float = LOG_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
        physiology: Callable[[], list[str]] = list,
    ) -> None:
        self.rows = rows
        self.physiology = physiology  # one line per participant: HR, RMSSD, SCL, stress
        self.stream = stream
        self.tty = stream.isatty()
        self.every_s = every_s
        self._clock = clock
        self._last_log = -float("inf")
        self._drawn = 0  # lines of the table on screen

    def table(self, now_ns: int) -> list[str]:
        lines = [self.HEADER]
        for label, c in self.rows:
            s = c.stats
            battery = f"{s.battery_pct}%" if s.battery_pct is not None else "-"
            motion = "-" if s.moving is None else "moving" if s.moving else "still"
            lines.append(
                f"{label[:26]:<26} {'up' if s.connected else 'down':<4} {battery:>4} "
                f"{s.contact.value:<12} {motion:<6} {_age(now_ns, s.last_data_ns):>6} "
                f"{s.notifications:>8} {s.bad_packets:>4} {s.reconnects:>6}"
            )
        return lines + self.physiology()

    def log_lines(self, now_ns: int) -> list[str]:
        stamp = time.strftime("%H:%M:%S", time.localtime(now_ns / NS))
        out = []
        for label, c in self.rows:
            s = c.stats
            battery = f"{s.battery_pct} %" if s.battery_pct is not None else "unknown"
            link = "connected" if s.connected else f"disconnected ({s.last_error or 'waiting'})"
            out.append(
                f"{stamp} {label}: {link}, battery {battery}, contact {s.contact.value}, "
                f"last data {_age(now_ns, s.last_data_ns)} ago, {s.notifications} packets, "
                f"{s.bad_packets} bad, {s.reconnects} reconnects"
            )
        return out + [f"{stamp} {line}" for line in self.physiology()]

    def refresh(self, now_ns: int) -> None:
        if self.tty:
            self._erase()
            lines = self.table(now_ns)
            self.stream.write("\n".join(lines) + "\n")
            self._drawn = len(lines)
        elif (now := self._clock()) - self._last_log >= self.every_s:
            self._last_log = now
            self.stream.write("\n".join(self.log_lines(now_ns)) + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line above the table (e.g. a protocol prompt)."""
        self._erase()
        self.stream.write(text + "\n")
        self.stream.flush()

    def _erase(self) -> None:
        if self.tty and self._drawn:
            # Up to the table's first line, then clear to the end of the screen.
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0


class ProtocolMarks:
    """Runs the protocol's phases as sessions; closes the open one if collection stops early."""

    def __init__(
        self,
        protocol: Protocol,
        *,
        participant: str,
        study: str,
        clock: Clock,
        sink: CountingSink,
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
        from stresstrack.protocol import run_protocol

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
        self.sink.emit(
            [
                Marker(
                    time_ns=self.clock.now_ns(),
                    participant=self.participant,
                    study=self.study,
                    device="protocol",
                    action=MarkerAction.STOP,
                    kind=p.kind,
                    mode=p.mode,
                    label=p.label,
                    note="collection stopped",
                )
            ]
        )


async def _collect(args: argparse.Namespace, protocol: Protocol | None) -> int:
    from stresstrack.clock import WallClock
    from stresstrack.recorder import Recorder
    from stresstrack.sensors.collector import DeviceCollector
    from stresstrack.store.sqlite import Store

    loop = asyncio.get_running_loop()
    clock = WallClock()
    stop = asyncio.Event()
    main = asyncio.current_task()
    reason = ["stopped"]

    def on_signal(name: str) -> None:
        if stop.is_set() and main is not None:
            main.cancel()  # a second Ctrl-C: do not wait for the devices
        reason[0] = f"{name} received"
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig.name)
    interrupted = False
    try:
        try:
            if args.simulate:
                targets = await _simulated_targets(args, clock, protocol)
            else:
                targets = await _hardware_targets(args) if args.device else []
            inlets = await asyncio.to_thread(
                lsl_inlets, args, args.participant, args.study, args.study_choice.study
            )
        except asyncio.CancelledError:
            print("interrupted before collection started; nothing stored", file=sys.stderr)
            return 130
        if stop.is_set():
            print(f"{reason[0]} before collection started; nothing stored", file=sys.stderr)
            return 0
        with Store(args.store) as store:
            from stresstrack.blinding import stamp_blinding
            from stresstrack.study import stamp_order, stamp_store

            stamp_store(store, args.study_choice)
            stamp_blinding(store, args.blinding)
            stamp_order(store, args.participant, args.order)
            from stresstrack.pipeline.latest import LatestValues

            latest = LatestValues()  # HR, RMSSD, SCL and stress in the live view
            pipeline = lsl_pipeline(args, pipeline_config(args))
            pipeline.observe(outputs=latest.observe)
            recorder = Recorder(store, pipeline, batch=1 << 30, live=True, source="collect")
            sink = CountingSink(recorder)
            collectors = [
                DeviceCollector(
                    t.address,
                    participant=args.participant,
                    study=args.study,
                    sink=sink,
                    clock=clock,
                    client_factory=t.factory,
                )
                for t in targets
            ]
            status = LiveStatus(
                [(t.label, c) for t, c in zip(targets, collectors, strict=True)],
                sys.stdout,
                physiology=latest.lines,
            )
            marks = (
                ProtocolMarks(
                    protocol,
                    participant=args.participant,
                    study=args.study,
                    clock=clock,
                    sink=sink,
                    say=status.message,
                )
                if protocol is not None
                else None
            )
            what = ", ".join([*(t.label for t in targets), *(f"LSL {i.name}" for i in inlets)])
            status.message(
                f"collecting {args.participant}: {what} -> {args.store} (Ctrl-C to stop)"
            )
            if args.order:
                status.message(f"order of conditions: {', '.join(args.order)}")
            publisher = start_publisher(
                args, args.store, lambda text: loop.call_soon_threadsafe(status.message, text)
            )
            # Keys in the live view: s starts a self-care session, e ends it.
            keys = HotkeyMarker(
                sink, clock, participant=args.participant, study=args.study, say=status.message
            )
            with influx_replica(args, args.store):
                with terminal_keys(keys.press) as listening:
                    if listening:
                        status.message("keys: s = start self-care session, e = end it")
                    interrupted = await _run(
                        args,
                        collectors,
                        marks,
                        recorder,
                        status,
                        clock,
                        stop,
                        reason,
                        inlets,
                        sink.emit,
                    )
                keys.close_open()
                if marks is not None:
                    marks.close_open_phase()
                recorder.close()
            finish_publisher(publisher, args.publish_wait)
            status.refresh(clock.now_ns())
            _summary(args.store, reason[0], sink, targets, collectors, recorder)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 130 if interrupted else 0


async def _run(
    args: argparse.Namespace,
    collectors: Sequence[DeviceCollector],
    marks: ProtocolMarks | None,
    recorder: Recorder,
    status: LiveStatus,
    clock: Clock,
    stop: asyncio.Event,
    reason: list[str],
    inlets: Sequence[Converter] = (),
    emit: Callable[[Sequence[Event]], None] | None = None,
) -> bool:
    """Collect until stopped; True if a second signal cut the shutdown short."""
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[object]] = [asyncio.create_task(c.run(stop)) for c in collectors]
    lsl_only: list[asyncio.Task[None]] = []
    if inlets:
        from stresstrack.lsl.inlet import SourceInlet, pump

        emit = emit or recorder.emit
        sources = [asyncio.create_task(pump(i, emit, stop, status.message)) for i in inlets]
        tasks += sources
        lsl_only = [t for t, i in zip(sources, inlets, strict=True) if isinstance(i, SourceInlet)]
    marking = asyncio.create_task(marks.run()) if marks is not None else None
    deadline = None if args.duration is None else loop.time() + args.duration
    interrupted = False
    try:
        while not stop.is_set():
            wait = FLUSH_EVERY_S if deadline is None else min(FLUSH_EVERY_S, deadline - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, wait))
            recorder.flush()
            status.refresh(clock.now_ns())
            if deadline is not None and loop.time() >= deadline:
                reason[0] = f"{args.duration:g} s elapsed"
                stop.set()
            elif marking is not None and marking.done() and args.duration is None:
                reason[0] = "protocol finished"
                stop.set()
            elif not collectors and lsl_only and all(t.done() for t in lsl_only):
                reason[0] = "LSL sources closed"
                stop.set()
        _done, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_S)
        if pending:
            status.message(f"{len(pending)} device(s) did not disconnect in {SHUTDOWN_S:g} s")
    except asyncio.CancelledError:
        interrupted = True
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
    finally:
        for task in [*tasks, *([marking] if marking is not None else [])]:
            task.cancel()
        await asyncio.gather(*tasks, *([marking] if marking else []), return_exceptions=True)
    return interrupted


def _summary(
    store: Path,
    reason: str,
    sink: CountingSink,
    targets: Sequence[Target],
    collectors: Sequence[DeviceCollector],
    recorder: Recorder,
) -> None:
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(sink.counts.items())) or "none"
    print(f"\n{reason}: {recorder.events} events stored in {store} ({kinds})")
    for t, c in zip(targets, collectors, strict=True):
        s = c.stats
        extra = f", {s.discarded_beats} PPI beats discarded" if s.discarded_beats else ""
        print(
            f"  {t.label} ({t.address}): {s.notifications} packets, {s.bad_packets} bad, "
            f"{s.reconnects} reconnects{extra}"
            + (f"; last error: {s.last_error}" if s.last_error and not s.connects else "")
        )
    print(f"  {recorder.results} feature/stress/session rows computed")
