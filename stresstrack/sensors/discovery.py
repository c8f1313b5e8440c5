"""Finding a BLE device and saying what it is: the scan by address or name, the profiles an
advertisement suggests, and clear messages for bleak and OS Bluetooth errors. Used by
``collect``, ``scan`` and the collector (:mod:`stresstrack.sensors.collector`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any, Final

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDeviceNotFoundError

from stresstrack.sensors.profiles.battery import BATTERY_SERVICE_UUID
from stresstrack.sensors.profiles.device_info import DeviceInfo
from stresstrack.sensors.profiles.eda import STRESSTRACK_EDA_V1, EdaProfile
from stresstrack.sensors.profiles.heart_rate import HEART_RATE_SERVICE_UUID
from stresstrack.sensors.profiles.polar_pmd import PMD_SERVICE_UUID

__all__ = ["advertised_profiles", "describe_ble_error", "describe_device_info", "find_device"]


def describe_ble_error(exc: BaseException, device: str) -> str:
    """A clear, actionable message for a bleak or OS error."""
    text = str(exc)
    low = text.lower()
    if isinstance(exc, BleakDeviceNotFoundError):
        return (
            f"{device}: device not found "
            "(is it on, charged, in range, and not connected to a phone?)"
        )
    if "no bluetooth adapters" in low or ("adapter" in low and "not found" in low):
        return f"{device}: no Bluetooth adapter found (is Bluetooth enabled on this machine?)"
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError) or (
        "org.bluez" in low and "not provided" in low
    ):
        # BlueZ is reached over the system D-Bus; without it bleak cannot scan or connect.
        return (
            f"{device}: Bluetooth is not available: no system D-Bus or BlueZ service "
            "(is bluetoothd running?)"
        )
    if "permission" in low or "not authorized" in low or "notpermitted" in low:
        return f"{device}: permission denied by the OS Bluetooth service (see docs/devices.md)"
    if "slot" in low or "connection limit" in low or "too many" in low:
        return f"{device}: the adapter is out of connection slots (disconnect another device)"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return f"{device}: connection timed out"
    return f"{device}: {type(exc).__name__}: {text or 'no detail'}"


def describe_device_info(info: DeviceInfo) -> str:
    """One line for the record, e.g. ``device: manufacturer=Polar Electro Oy; model=H10``.

    >>> describe_device_info(DeviceInfo(model_number="H10", firmware_revision="5.0.0"))
    'device: model=H10; firmware=5.0.0'
    """
    parts = [
        ("manufacturer", info.manufacturer_name),
        ("model", info.model_number),
        ("serial", info.serial_number),
        ("hardware", info.hardware_revision),
        ("firmware", info.firmware_revision),
        ("software", info.software_revision),
    ]
    return "device: " + "; ".join(f"{k}={v}" for k, v in parts if v)


# Polar sensors with the PMD service advertise their name as "Polar <model> <device id>" but
# not the PMD service itself (polar-ble-sdk filters devices by this name prefix).
_PMD_NAME_PREFIXES: Final = ("Polar H10 ", "Polar OH1 ", "Polar Sense ")


def advertised_profiles(
    service_uuids: Sequence[str],
    name: str | None,
    eda_profiles: Sequence[EdaProfile] = (STRESSTRACK_EDA_V1,),
) -> list[str]:
    """The profiles an advertisement suggests the device supports.

    >>> advertised_profiles(["0000180d-0000-1000-8000-00805f9b34fb"], "Polar H10 1A2B3C4D")
    ['heart-rate', 'polar-pmd']
    """
    uuids = {u.lower() for u in service_uuids}
    out = []
    if HEART_RATE_SERVICE_UUID in uuids:
        out.append("heart-rate")
    out += [f"eda:{p.name}" for p in eda_profiles if p.service_uuid in uuids]
    if PMD_SERVICE_UUID in uuids or (name or "").startswith(_PMD_NAME_PREFIXES):
        out.append("polar-pmd")
    if BATTERY_SERVICE_UUID in uuids:
        out.append("battery")
    return out


# A Bluetooth address (AA:BB:CC:DD:EE:FF) or a macOS CoreBluetooth UUID.
_ADDRESS: Final = re.compile(
    r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$"
)


async def find_device(
    name_or_address: str, *, timeout: float = 10.0, **scanner_kwargs: Any
) -> BLEDevice | None:
    """Scan up to ``timeout`` s for a device by address (or macOS UUID) or advertised name;
    ``scanner_kwargs`` go to :class:`bleak.BleakScanner` (e.g. a simulated backend)."""
    if _ADDRESS.match(name_or_address):
        return await BleakScanner.find_device_by_address(
            name_or_address, timeout=timeout, **scanner_kwargs
        )
    return await BleakScanner.find_device_by_name(
        name_or_address, timeout=timeout, **scanner_kwargs
    )
