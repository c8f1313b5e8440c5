"""The device side of Polar's PMD control point: what a simulated sensor answers to a request.

:func:`pmd_control_point` takes the bytes a client writes ("get settings", "start", "stop")
and returns the response with the status codes of Polar's SDK (PmdControlPointResponseCode);
:func:`indications` splits a response too long for one ATT indication as the sensors do.
The simulated sensors (:mod:`stresstrack.simulators.polar`) answer with these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from stresstrack.errors import DecodeError
from stresstrack.sensors.profiles.polar_pmd import (
    PmdControlPointResponse,
    PmdError,
    PmdMeasurementType,
    PmdOpCode,
    PmdSettings,
    decode_pmd_settings,
    encode_pmd_response,
    encode_pmd_settings,
)

__all__ = ["ATT_HEADER", "PmdOffer", "indications", "pmd_control_point"]

ATT_HEADER: Final = 3  # an indication or notification carries MTU - 3 bytes of value
_CP_HEADER: Final = 5  # 0xF0, op code, measurement type, status, "more"


@dataclass(frozen=True, slots=True)
class PmdOffer:
    """What a sensor offers for one measurement type."""

    settings: PmdSettings  # the answer to "get settings"
    start_parameters: PmdSettings = field(default_factory=PmdSettings)  # in start responses


# Setting the request chose -> the error when the sensor does not offer it
# (PmdControlPointResponseCode in Polar's SDK).
_SETTING_ERRORS: Final = {
    "sample_rates": PmdError.INVALID_SAMPLE_RATE,
    "resolutions": PmdError.INVALID_RESOLUTION,
    "ranges": PmdError.INVALID_RANGE,
    "range_milliunits": PmdError.INVALID_RANGE,
    "channels": PmdError.INVALID_NUMBER_OF_CHANNELS,
    "factors": PmdError.INVALID_PARAMETER,
}


_OP_CODES: Final = frozenset(int(o) for o in PmdOpCode)
_TYPES: Final = frozenset(int(t) for t in PmdMeasurementType)


def pmd_control_point(
    request: bytes, offers: dict[PmdMeasurementType, PmdOffer], active: set[PmdMeasurementType]
) -> tuple[bytes, PmdSettings | None]:
    """A sensor's answer to a control-point write: ``(response head + parameters, the
    settings to start a stream with or None)``; the head is 0xF0, op code, measurement type,
    status. Unknown op codes and types, unsupported streams and settings, repeated starts and
    stops get the error codes of Polar's SDK (PmdControlPointResponseCode)."""
    op = request[0] if request else 0
    kind = request[1] if len(request) > 1 else 0

    def fail(status: PmdError) -> tuple[bytes, None]:
        return bytes([0xF0, op, kind, status, 0]), None

    if op not in _OP_CODES:
        return fail(PmdError.INVALID_OP_CODE)
    if len(request) < 2:
        return fail(PmdError.INVALID_LENGTH)
    if kind not in _TYPES:
        return fail(PmdError.INVALID_MEASUREMENT_TYPE)
    m = PmdMeasurementType(kind)
    if m not in offers:
        return fail(PmdError.NOT_SUPPORTED)
    offer = offers[m]
    opcode = PmdOpCode(op)
    if opcode is PmdOpCode.GET_MEASUREMENT_SETTINGS:
        params = encode_pmd_settings(offer.settings)
        ok = PmdControlPointResponse(
            op_code=opcode, measurement=m, status=PmdError.SUCCESS, parameters=params
        )
        return encode_pmd_response(ok), None
    if opcode is PmdOpCode.STOP_MEASUREMENT:
        if m not in active:
            return fail(PmdError.ALREADY_IN_STATE)
        ok = PmdControlPointResponse(op_code=opcode, measurement=m, status=PmdError.SUCCESS)
        return encode_pmd_response(ok), None
    if m in active:
        return fail(PmdError.ALREADY_IN_STATE)
    try:
        wanted = decode_pmd_settings(request[2:])
    except DecodeError:
        return fail(PmdError.INVALID_PARAMETER)
    chosen: dict[str, tuple[int | float, ...]] = {}
    for name, error in _SETTING_ERRORS.items():
        offered, asked = getattr(offer.settings, name), getattr(wanted, name)
        if len(asked) > 1 or any(v not in offered for v in asked):
            return fail(error)
        if offered and not asked and name != "factors":
            return fail(PmdError.INVALID_PARAMETER)  # every offered setting must be chosen
        chosen[name] = asked
    ok = PmdControlPointResponse(
        op_code=opcode,
        measurement=m,
        status=PmdError.SUCCESS,
        parameters=encode_pmd_settings(offer.start_parameters),
    )
    return encode_pmd_response(ok), PmdSettings(**chosen)  # type: ignore[arg-type]


def indications(response: bytes, mtu: int) -> list[bytes]:
    """Split a response whose parameters do not fit one indication, setting "more"."""
    head, params = response[: _CP_HEADER - 1], response[_CP_HEADER:]
    room = mtu - ATT_HEADER - _CP_HEADER
    if len(response) <= mtu - ATT_HEADER or room <= 0:
        return [response]
    chunks = [params[i : i + room] for i in range(0, len(params), room)]
    return [head + bytes([int(i < len(chunks) - 1)]) + c for i, c in enumerate(chunks)]
