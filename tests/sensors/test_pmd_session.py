"""The PMD control point: the simulated sensors' answers byte for byte, and the client's
state machine (:class:`PmdControl`) over bleak's own client API.

Response layout: 0xF0, op code, measurement type, status, "more", parameters
(polar-ble-sdk ``BlePmdClientControlPointResponseTest.kt``: ``F0 01 02 00 00 FF FF FF`` is a
successful ACC settings answer, ``F0 01 06 07 00`` a failed one). Settings TLVs as in
``polar_pmd.py``; the H10 ECG answer ``00 01 8200 01 01 0E00`` is 130 Hz, 14 bits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from bleak import BleakClient

from stresstrack.clock import VirtualClock, run_virtual
from stresstrack.sensors.pmd_session import PmdControl, PmdRequestError, choose_settings
from stresstrack.sensors.profiles.polar_pmd import (
    PMD_DATA_UUID,
    PmdError,
    PmdMeasurementType,
    PmdSettings,
    encode_get_settings,
    encode_start_stream,
    encode_stop_stream,
)
from stresstrack.sensors.profiles.polar_pmd_data import decode_pmd_frame
from stresstrack.session.protocol import Protocol
from stresstrack.simulators.bleak_backend import SimulatedBleakClient
from stresstrack.simulators.peripherals import SimulatedAir
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams
from stresstrack.simulators.polar import (
    SimulatedPolarH10,
    SimulatedPolarSensor,
    SimulatedVeritySense,
    pmd_control_point,
)

T0 = 1_767_603_600_000_000_000
ECG, ACC, PPI = PmdMeasurementType.ECG, PmdMeasurementType.ACC, PmdMeasurementType.PPI
T = TypeVar("T")

H10_ACC_SETTINGS = PmdSettings(sample_rates=(25, 50, 100, 200), resolutions=(16,), ranges=(2, 4, 8))


def _sensor(
    cls: type[SimulatedPolarSensor], protocol: Protocol, **kw: object
) -> tuple[VirtualClock, SimulatedAir, SimulatedPolarSensor]:
    clock = VirtualClock(T0)
    air = SimulatedAir()
    model = ParticipantModel(protocol, ParticipantParams(), seed=3)
    sensor = cls(
        address="A0:9E:1A:00:00:01",
        name="Polar H10 00000001",
        clock=clock,
        start_ns=T0,
        model=model,
        **kw,  # type: ignore[arg-type]
    )
    air.add(sensor)
    return clock, air, sensor


def _with_client(
    clock: VirtualClock, air: SimulatedAir, body: Callable[[BleakClient], Awaitable[T]]
) -> T:
    async def main() -> T:
        client = BleakClient("A0:9E:1A:00:00:01", backend=SimulatedBleakClient, air=air)
        await client.connect()
        try:
            return await body(client)
        finally:
            await client.disconnect()

    return run_virtual(main(), clock)


# --- the sensor's answers, byte for byte ---------------------------------------------------------


def _h10_offers(protocol: Protocol):  # type: ignore[no-untyped-def]
    return _sensor(SimulatedPolarH10, protocol)[2].offers()


@pytest.mark.parametrize(
    ("request_hex", "active", "response_hex"),
    [
        # get ECG settings: 130 Hz, 14 bits (the H10's answer in PmdSetting terms)
        ("0100", set(), "f0010000 00 00018200 01010e00"),
        # start ECG at 130 Hz / 14 bits: success, no parameters
        ("0200 00018200 01010e00", set(), "f0020000 00"),
        # ...again while it runs: ALREADY_IN_STATE (6)
        ("0200 00018200 01010e00", {ECG}, "f0020006 00"),
        # ECG at 250 Hz: INVALID_SAMPLE_RATE (8)
        ("0200 0001fa00 01010e00", set(), "f0020008 00"),
        # ECG at 16 bits: INVALID_RESOLUTION (7)
        ("0200 00018200 01011000", set(), "f0020007 00"),
        # ACC at 16 G: INVALID_RANGE (9)
        ("0202 00011900 01011000 02011000", set(), "f0020209 00"),
        # ACC without a range: INVALID_PARAMETER (5)
        ("0202 00011900 01011000", set(), "f0020205 00"),
        # PPI on an H10: NOT_SUPPORTED (3)
        ("0203", set(), "f0020303 00"),
        # measurement type 4 is unassigned: INVALID_MEASUREMENT_TYPE (2)
        ("0104", set(), "f0010402 00"),
        # op code 9 is not a streaming request: INVALID_OP_CODE (1)
        ("0900", set(), "f0090001 00"),
        # stop ECG that is not running: ALREADY_IN_STATE; stop it while running: success
        ("0300", set(), "f0030006 00"),
        ("0300", {ECG}, "f0030000 00"),
        # a settings TLV cut short: INVALID_PARAMETER
        ("0200 0001", set(), "f0020005 00"),
    ],
)
def test_h10_control_point_answers(
    short_protocol: Protocol, request_hex: str, active: set[PmdMeasurementType], response_hex: str
) -> None:
    """Hand-made requests and the exact bytes the simulated H10 answers."""
    response, _ = pmd_control_point(bytes.fromhex(request_hex), _h10_offers(short_protocol), active)
    assert response == bytes.fromhex(response_hex)


def test_verity_start_acc_answers_with_its_factor(short_protocol: Protocol) -> None:
    """Verity ACC start: success with a FACTOR TLV, 05 01 then float32 1.0 = 00 00 80 3F."""
    offers = _sensor(SimulatedVeritySense, short_protocol)[2].offers()
    request = encode_start_stream(ACC, sample_rate=52, resolution=16, range_=8, channels=3)
    response, settings = pmd_control_point(request, offers, set())
    assert response == bytes.fromhex("f0020200 00 050100 00803f")
    assert settings == PmdSettings(
        sample_rates=(52,), resolutions=(16,), ranges=(8,), channels=(3,)
    )


def test_choose_settings_picks_what_the_collector_needs() -> None:
    """ECG at 130 Hz; ACC at the lowest rate, widest range, highest resolution; PPI nothing."""
    assert choose_settings(ECG, PmdSettings(sample_rates=(130,), resolutions=(14,))) == (
        PmdSettings(sample_rates=(130,), resolutions=(14,))
    )
    assert choose_settings(ACC, H10_ACC_SETTINGS) == PmdSettings(
        sample_rates=(25,), resolutions=(16,), ranges=(8,)
    )
    assert choose_settings(ACC, H10_ACC_SETTINGS, sample_rate=100).sample_rates == (100,)
    assert choose_settings(PPI, PmdSettings()) == PmdSettings()


# --- the client state machine over bleak ---------------------------------------------------------


def test_control_reads_features_settings_and_starts_ecg(short_protocol: Protocol) -> None:
    """open → {ECG, ACC}; get settings ECG → 130 Hz/14 bit; start → ECG frames flow."""
    clock, air, h10 = _sensor(SimulatedPolarH10, short_protocol)
    frames: list[bytes] = []

    async def body(client: BleakClient) -> tuple[object, ...]:
        control = PmdControl(client, device="h10")
        features = await control.open()
        await client.start_notify(PMD_DATA_UUID, lambda _c, d: frames.append(bytes(d)))
        settings = await control.get_settings(ECG)
        started = await control.start(ECG, choose_settings(ECG, settings))
        await asyncio.sleep(3.0)
        return features, settings, started, set(control.started)

    features, settings, started, running = _with_client(clock, air, body)
    assert features == frozenset({ECG, ACC})
    assert settings == PmdSettings(sample_rates=(130,), resolutions=(14,))
    assert started == PmdSettings()
    assert running == {ECG}
    decoded = [decode_pmd_frame(f) for f in frames]
    assert len(decoded) == 5  # 3 s of 130 Hz in frames of 73 samples
    assert all(f.measurement is ECG and len(f.samples) == 73 for f in decoded)
    assert h10.delivered[ECG] == 5


def test_control_restarts_a_running_stream_and_reports_refusals(short_protocol: Protocol) -> None:
    """ALREADY_IN_STATE on start → stop and start again; NOT_SUPPORTED and a bad rate are
    PmdRequestError with the sensor's status."""
    clock, air, _ = _sensor(SimulatedPolarH10, short_protocol)

    async def body(client: BleakClient) -> list[PmdError | None]:
        control = PmdControl(client, device="h10")
        await control.open()
        wanted = PmdSettings(sample_rates=(130,), resolutions=(14,))
        await control.start(ECG, wanted)
        await control.start(ECG, wanted)  # already running: restarted, no error
        errors = []
        for m, s in ((PPI, PmdSettings()), (ECG, PmdSettings(sample_rates=(250,)))):
            if m is ECG:
                await control.stop(ECG)
            with pytest.raises(PmdRequestError) as info:
                await control.start(m, s)
            errors.append(info.value.status)
            assert "h10: PMD start" in str(info.value)
        return errors

    assert _with_client(clock, air, body) == [PmdError.NOT_SUPPORTED, PmdError.INVALID_SAMPLE_RATE]


def test_long_answers_are_split_and_joined_with_more(short_protocol: Protocol) -> None:
    """At the minimum MTU (23) the H10's 22-byte ACC settings need two indications, the first
    with "more" = 1; the client joins their parameters."""
    clock, air, _ = _sensor(SimulatedPolarH10, short_protocol, mtu=23)
    seen: list[bytes] = []

    async def body(client: BleakClient) -> PmdSettings:
        control = PmdControl(client, device="h10")
        await control.open()
        original = control._on_indication

        def spy(char, data):  # type: ignore[no-untyped-def]
            seen.append(bytes(data))
            original(char, data)

        await client.start_notify("fb005c81-02e7-f387-1cad-8acd2d8df0c8", spy)
        return await control.get_settings(ACC)

    assert _with_client(clock, air, body) == H10_ACC_SETTINGS
    assert seen == [
        bytes.fromhex("f0010200 01 0004190032006400c800 01011000 02"),  # 20 bytes: full
        bytes.fromhex("f0010200 00 03020004000800"),
    ]


class SilentH10(SimulatedPolarH10):
    """Accepts control-point writes but never answers them."""

    def write(self, uuid: str, data: bytes) -> None:
        return None


def test_a_sensor_that_does_not_answer_times_out(short_protocol: Protocol) -> None:
    clock, air, _ = _sensor(SilentH10, short_protocol)

    async def body(client: BleakClient) -> str:
        control = PmdControl(client, device="h10", timeout_s=2.0)
        await control.open()
        with pytest.raises(PmdRequestError) as info:
            await control.get_settings(ECG)
        return str(info.value)

    assert (
        _with_client(clock, air, body)
        == "h10: PMD get_measurement_settings ECG: no response within 2 s"
    )


def test_request_encoders_match_the_sensor_side(short_protocol: Protocol) -> None:
    """The client's request encoders are what the simulated sensor parses."""
    offers = _h10_offers(short_protocol)
    assert pmd_control_point(encode_get_settings(ACC), offers, set())[0][:4] == bytes.fromhex(
        "f0010200"
    )
    assert pmd_control_point(encode_stop_stream(ACC), offers, {ACC})[0] == bytes.fromhex(
        "f0030200 00"
    )
