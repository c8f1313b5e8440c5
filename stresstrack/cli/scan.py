"""``stresstrack scan``: list nearby BLE devices with the profiles they support."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from stresstrack.cli.common import finite_float
from stresstrack.errors import StressTrackError

NAME = "scan"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="list nearby BLE devices and the profiles they support",
        description="Scan for Bluetooth LE devices and list them, strongest signal first, with "
        "the profiles stresstrack can read (from their advertised services and, for Polar "
        "sensors, their name): heart-rate, polar-pmd (ECG/PPI/ACC), eda:<profile>, battery.",
    )
    p.add_argument(
        "--timeout",
        type=finite_float,
        default=5.0,
        metavar="S",
        help="scan for S seconds (default 5)",
    )
    p.add_argument(
        "--simulate",
        action="store_true",
        help="scan simulated devices (a strap, an EDA band, a Polar H10 and a Verity Sense)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated devices")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.timeout > 0:
        raise StressTrackError("--timeout must be more than 0 seconds")
    rows = asyncio.run(_scan(args))
    if not rows:
        print(f"no devices found in {args.timeout:g} s (is Bluetooth on, and are they awake?)")
        return 0
    width = max(len(r[2]) for r in rows)
    print(f"{'address':<36}  {'rssi':>4}  {'name':<{width}}  profiles")
    for address, rssi, name, profiles in rows:
        print(f"{address:<36}  {rssi:>4}  {name:<{width}}  {', '.join(profiles) or '-'}")
    return 0


async def _scan(args: argparse.Namespace) -> list[tuple[str, int, str, list[str]]]:
    from bleak import BleakScanner
    from bleak.exc import BleakError

    from stresstrack.clock import WallClock
    from stresstrack.sensors.discovery import advertised_profiles, describe_ble_error

    kwargs: dict[str, Any] = {}
    if args.simulate:
        from stresstrack.simulators.study import (
            build_participant_air,
            protocol_with_rest,
            simulated_scanner_kwargs,
        )

        sim = build_participant_air(
            "sim-001", WallClock(), protocol=protocol_with_rest(None, 600.0), seed=args.seed
        )
        kwargs = simulated_scanner_kwargs(sim.air)
    try:
        found = await BleakScanner.discover(timeout=args.timeout, return_adv=True, **kwargs)
    except (BleakError, OSError) as exc:
        raise StressTrackError(describe_ble_error(exc, "scan")) from exc
    rows = [
        (
            d.address,
            adv.rssi,
            adv.local_name or d.name or "?",
            advertised_profiles(adv.service_uuids, adv.local_name or d.name),
        )
        for d, adv in found.values()
    ]
    return sorted(rows, key=lambda r: (-r[1], r[0]))
