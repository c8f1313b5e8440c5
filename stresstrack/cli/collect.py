"""``stresstrack collect``: record a participant's devices live, with features and stress.

Each device gets a :class:`~stresstrack.sensors.collector.DeviceCollector` (reconnects on its
own); events go into a :class:`~stresstrack.runtime.Runtime` (the store and a live pipeline),
flushed every half second (a `mark` reaches the pipeline within a second), so a
crash loses at most the last half second. Ctrl-C or SIGTERM
stops cleanly: collectors stop their streams and disconnect, the recorder is flushed, the
pipeline finishes its windows, and a summary is printed (exit 0). A second Ctrl-C hurries
the shutdown; what was received is still stored.

``--simulate`` runs the same collectors against simulated peripherals through bleak, in real
time (see :func:`stresstrack.simulators.study.build_participant_air`).

Size (issue 17): over 400 lines because ``collect`` wires many sources (BLE, simulated, LSL,
hotkeys, protocol) into one runtime; ``register`` is the command's option declarations
(argparse calls, one per option) and ``_record`` the run's one ordered start-up and
shutdown sequence (sources, marks, live view, followers), kept in one place so its order
reads top to bottom.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from stresstrack.cli.broker import (
    add_broker_options,
    check_publish_args,
    publisher_follower,
)
from stresstrack.cli.common import (
    add_influx_options,
    add_pipeline_options,
    finite_float,
    influx_follower,
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
from stresstrack.runtime import Runtime, following
from stresstrack.runtime.live import Feed, run_live
from stresstrack.runtime.marks import ProtocolMarks
from stresstrack.runtime.status import LiveStatus
from stresstrack.session.protocol import Protocol, load_protocol

if TYPE_CHECKING:
    from stresstrack.blinding import Blinding
    from stresstrack.clock import Clock
    from stresstrack.lsl.inlet import Converter
    from stresstrack.sensors.collector import ClientFactory, DeviceCollector
    from stresstrack.session.study import StudyChoice

NAME = "collect"
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
    from stresstrack.session.study import resolve_study

    check = not (args.simulate or args.no_consent_check)  # simulated participants need none
    args.study_choice = resolve_study(args.study, args.participant, check=check)
    args.study = args.study_choice.name
    args.order = ()
    if protocol is not None:
        from stresstrack.session.study import participant_protocol

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
    from stresstrack.sensors.discovery import find_device
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

    from stresstrack.sensors.discovery import describe_ble_error, find_device

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


async def _collect(args: argparse.Namespace, protocol: Protocol | None) -> int:
    loop = asyncio.get_running_loop()
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
    try:
        return await _sources_then_record(args, protocol, stop, reason)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _sources_then_record(
    args: argparse.Namespace, protocol: Protocol | None, stop: asyncio.Event, reason: list[str]
) -> int:
    from stresstrack.clock import WallClock

    clock = WallClock()
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
    return await _record(args, protocol, clock, targets, inlets, stop, reason)


async def _record(
    args: argparse.Namespace,
    protocol: Protocol | None,
    clock: Clock,
    targets: Sequence[Target],
    inlets: Sequence[Converter],
    stop: asyncio.Event,
    reason: list[str],
) -> int:
    from stresstrack.pipeline.latest import LatestValues
    from stresstrack.session.study import stamp_order, stamp_store
    from stresstrack.store.sqlite import Store

    loop = asyncio.get_running_loop()
    with Store(args.store) as store:
        from stresstrack.blinding import stamp_blinding

        stamp_store(store, args.study_choice)
        stamp_blinding(store, args.blinding)
        stamp_order(store, args.participant, args.order)
        latest = LatestValues()  # HR, RMSSD, SCL and stress in the live view
        pipeline = lsl_pipeline(args, pipeline_config(args))
        pipeline.observe(outputs=latest.observe)
        runtime = Runtime(store, pipeline, batch=1 << 30, live=True, source="collect")
        collectors = _collectors(args, targets, runtime, clock)
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
                sink=runtime,
                say=status.message,
            )
            if protocol is not None
            else None
        )
        what = ", ".join([*(t.label for t in targets), *(f"LSL {i.name}" for i in inlets)])
        status.message(f"collecting {args.participant}: {what} -> {args.store} (Ctrl-C to stop)")
        if args.order:
            status.message(f"order of conditions: {', '.join(args.order)}")
        publisher = publisher_follower(
            args, args.store, lambda text: loop.call_soon_threadsafe(status.message, text)
        )
        # Keys in the live view: s starts a self-care session, e ends it.
        keys = HotkeyMarker(
            runtime, clock, participant=args.participant, study=args.study, say=status.message
        )
        with following([publisher, influx_follower(args, args.store)]):
            with terminal_keys(keys.press) as listening:
                if listening:
                    status.message("keys: s = start self-care session, e = end it")
                feeds = _lsl_feeds(inlets, runtime, stop, status.message)
                interrupted = await run_live(
                    runtime, collectors, marks, status, clock, stop, reason, feeds, args.duration
                )
            keys.close_open()
            if marks is not None:
                marks.close_open_phase()
            runtime.close()
        status.refresh(clock.now_ns())
        _summary(args.store, reason[0], runtime, targets, collectors)
    return 130 if interrupted else 0


def _collectors(
    args: argparse.Namespace, targets: Sequence[Target], runtime: Runtime, clock: Clock
) -> list[DeviceCollector]:
    """One collector per device, feeding the runtime."""
    from stresstrack.sensors.collector import DeviceCollector

    return [
        DeviceCollector(
            t.address,
            participant=args.participant,
            study=args.study,
            sink=runtime,
            clock=clock,
            client_factory=t.factory,
        )
        for t in targets
    ]


def _lsl_feeds(
    inlets: Sequence[Converter], runtime: Runtime, stop: asyncio.Event, say: Callable[[str], None]
) -> list[Feed]:
    """The LSL inlets as feeds of the runtime; a data stream (not markers) may end."""
    if not inlets:
        return []
    from stresstrack.lsl.inlet import SourceInlet, pump

    return [Feed(pump(i, runtime.emit, stop, say), isinstance(i, SourceInlet)) for i in inlets]


def _summary(
    store: Path,
    reason: str,
    runtime: Runtime,
    targets: Sequence[Target],
    collectors: Sequence[DeviceCollector],
) -> None:
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(runtime.counts.items())) or "none"
    print(f"\n{reason}: {runtime.events} events stored in {store} ({kinds})")
    for t, c in zip(targets, collectors, strict=True):
        s = c.stats
        extra = f", {s.discarded_beats} PPI beats discarded" if s.discarded_beats else ""
        print(
            f"  {t.label} ({t.address}): {s.notifications} packets, {s.bad_packets} bad, "
            f"{s.reconnects} reconnects{extra}"
            + (f"; last error: {s.last_error}" if s.last_error and not s.connects else "")
        )
    print(f"  {runtime.results} feature/stress/session rows computed")
