"""Finding devices (bleak's scanner over the simulated air), naming their profiles, and
turning Bluetooth failures into messages a participant or researcher can act on."""

from __future__ import annotations

import pytest
from bleak.exc import BleakDeviceNotFoundError, BleakError

from stresstrack.clock import VirtualClock, run_virtual
from stresstrack.sensors.discovery import advertised_profiles, describe_ble_error, find_device
from stresstrack.simulators.study import (
    build_participant_air,
    protocol_with_rest,
    simulated_scanner_kwargs,
)

T0 = 1_767_603_600_000_000_000
HRS = "0000180d-0000-1000-8000-00805f9b34fb"
EDA = "5e1d0001-8f3c-4d3a-9b61-7a3c0e2d4b10"
PMD = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"


@pytest.mark.parametrize(
    ("uuids", "name", "profiles"),
    [
        ([HRS], "Polar H10 1A2B3C4D", ["heart-rate", "polar-pmd"]),
        ([HRS], "Polar Sense B5A3F21C", ["heart-rate", "polar-pmd"]),
        ([HRS], "Polar H9 0A0B0C0D", ["heart-rate"]),  # no PMD streams on the H9
        ([HRS.upper(), "0000180f-0000-1000-8000-00805f9b34fb"], "TICKR", ["heart-rate", "battery"]),
        ([EDA], None, ["eda:stresstrack-eda-v1"]),
        ([PMD], "", ["polar-pmd"]),
        ([], "Headphones", []),
    ],
)
def test_advertised_profiles(uuids: list[str], name: str | None, profiles: list[str]) -> None:
    assert advertised_profiles(uuids, name) == profiles


def test_find_device_by_name_or_address_through_bleak_scanner() -> None:
    """BleakScanner.find_device_by_name / _by_address with the simulated scanner backend: the
    advertised devices are found, an unknown one is None after the timeout."""
    clock = VirtualClock(T0)
    sim = build_participant_air("p1", clock, protocol=protocol_with_rest(None, 600.0))
    kwargs = simulated_scanner_kwargs(sim.air)
    h10 = sim.devices["polar-h10"]

    async def main() -> tuple[object, ...]:
        by_name = await find_device(h10.name, timeout=2.0, **kwargs)
        by_address = await find_device(h10.address.lower(), timeout=2.0, **kwargs)
        missing = await find_device("Polar H10 FFFFFFFF", timeout=2.0, **kwargs)
        return by_name, by_address, missing

    by_name, by_address, missing = run_virtual(main(), clock)
    assert getattr(by_name, "address", None) == h10.address
    assert getattr(by_address, "name", None) == h10.name
    assert missing is None
    assert clock.elapsed_s == pytest.approx(2.0, abs=0.6)  # only the miss waited it out


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (
            BleakDeviceNotFoundError("AA", "Device with address AA was not found."),
            "strap: device not found (is it on, charged, in range, and not connected to a phone?)",
        ),
        (
            BleakError("No Bluetooth adapters found."),
            "strap: no Bluetooth adapter found (is Bluetooth enabled on this machine?)",
        ),
        (
            FileNotFoundError(2, "No such file or directory"),
            "strap: Bluetooth is not available: no system D-Bus or BlueZ service "
            "(is bluetoothd running?)",
        ),
        (
            BleakError("[org.freedesktop.DBus.Error.NotPermitted] Not permitted"),
            "strap: permission denied by the OS Bluetooth service (see docs/devices.md)",
        ),
        (TimeoutError(), "strap: connection timed out"),
        (
            BleakError("le-connection-abort-by-local"),
            "strap: BleakError: le-connection-abort-by-local",
        ),
    ],
)
def test_ble_errors_become_clear_messages(exc: BaseException, message: str) -> None:
    assert describe_ble_error(exc, "strap") == message
