"""Stored rows to InfluxDB points (line protocol), following docs/schema.md.

Points are built from the store's rows (raw events as stored, result rows), so the same
row always gives the same points: resending overwrites, never duplicates.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Final

from stresstrack.events import NS_PER_S
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.sinks.lineproto import FieldValue, line, tag_set
from stresstrack.store.sqlite import EventRow

__all__ = [
    "MEASUREMENTS",
    "RANKED_TYPES",
    "device_pseudonym",
    "event_lines",
    "feature_line",
    "result_line",
    "session_line",
    "stress_line",
]

MEASUREMENTS: Final = (
    "beat",
    "heart_rate",
    "eda",
    "ecg",
    "ppg",
    "acc",
    "marker",
    "device_status",
    "features",
    "stress",
    "session",
    "selfreport",
    "lab",
)
# Event types that may legitimately share an instant on one device (docs/schema.md, "Same
# instant"): their k-th event at the same nanosecond is written at time + k. Beats too: a
# recording may repeat a time (rounded to the ms, or two intervals ending on one tick).
RANKED_TYPES: Final = frozenset({"status", "marker", "beat", "selfreport", "lab"})
# Link states in which the device is connected (docs/schema.md, device_status.connected).
_CONNECTED_STATES: Final = frozenset({"connected", "bad_packet"})
_WAVEFORM: Final = {"ecg": ("ecg", "ecg_uv"), "ppg": ("ppg", "ppg_au"), "acc": ("acc", "acc_mg")}
_NS_PER_MS: Final = 1_000_000


def device_pseudonym(study: str, device: str) -> str:
    """The ``device`` tag: a per-study pseudonym of the device's address (docs/schema.md).

    The store keeps the address; InfluxDB gets ``d-`` and 12 hex digits of SHA-256 over the
    study and the address, so one wearable has different tags in different studies.

    >>> device_pseudonym("pilot", "A0:9E:1A:00:00:01")
    'd-dab63d057456'
    """
    if not device:
        return device
    digest = hashlib.sha256(f"{study}\x00{device}".encode()).hexdigest()
    return f"d-{digest[:12]}"


def _sampled(
    measurement: str, tags: str, field: str, t0: int, rate: float, values: list[Any]
) -> list[str]:
    step = NS_PER_S / rate
    out = []
    for i, v in enumerate(values):
        if isinstance(v, float | int) and math.isfinite(v):
            out.append(f"{measurement}{tags} {field}={float(v)!r} {t0 + round(i * step)}")
    return out


def event_lines(row: EventRow, rank: int = 0) -> list[str]:
    """The points of one stored event; ``rank`` is its same-instant rank (status, marker)."""
    _id, type_name, time_ns, participant, study, device, payload = row
    body: dict[str, Any] = json.loads(payload)
    base = [
        ("study", study),
        ("participant", participant),
        ("device", device_pseudonym(study, device)),
    ]
    if type_name == "eda":
        tags = tag_set(base)
        rate, values = body["sampling_rate"], body["values_us"]
        return _sampled("eda", tags, "conductance_us", time_ns, rate, values)
    if type_name == "waveform":
        measurement, field = _WAVEFORM[body["kind"]]
        rate, values = body["sampling_rate"], body["values"]
        return _sampled(measurement, tag_set(base), field, time_ns, rate, values)
    fields: dict[str, FieldValue]
    if type_name == "beat":
        base.append(("source", body.get("source") or "hrs"))
        measurement = "beat"
        fields = {"rr_ms": float(body["rr_ms"]), "rr_ticks": body.get("rr_ticks")}
    elif type_name == "hr":
        measurement = "heart_rate"
        fields = {
            "bpm": float(body["bpm"]),
            "contact": body.get("contact") or "unsupported",
            "energy_kj": body.get("energy_kj"),
        }
    elif type_name == "marker":
        base += [("action", body["action"]), ("kind", body["kind"])]
        measurement = "marker"
        fields = {"mode": body.get("mode", ""), "label": body.get("label", "")}
    elif type_name == "status":
        measurement = "device_status"
        gap = body.get("gap_start_ns")
        fields = {
            "state": body["state"],
            "connected": int(body["state"] in _CONNECTED_STATES),
            "battery_pct": body.get("battery_pct"),
            "contact": body.get("contact"),
            "detail": body.get("detail") or None,
            "gap_start_ms": None if gap is None else int(gap) // _NS_PER_MS,
        }
    elif type_name == "selfreport":
        # Item as a tag (few, from the study file); the prompt as a field (one per prompt).
        base.append(("item", body["item"]))
        measurement = "selfreport"
        fields = {"value": float(body["value"]), "prompt_id": body.get("prompt_id") or None}
    elif type_name == "lab":
        base += [("analyte", body["analyte"]), ("unit", body["unit"])]
        measurement = "lab"
        fields = {"value": float(body["value"])}
    else:
        raise ValueError(f"event {_id}: unknown event type {type_name!r}")
    point = line(measurement, base, fields, time_ns + rank)
    return [] if point is None else [point]


def feature_line(f: FeatureRow) -> str:
    fields: dict[str, FieldValue] = {k: _float(v) for k, v in f.values.items()}
    fields.update({k: _float(v) for k, v in f.quality.items()})
    fields.update({f"{family}_reason": text for family, text in f.reasons.items()})
    fields["valid_features"] = sum(1 for v in f.values.values() if _float(v) is not None)
    return _required(line("features", _study_tags(f), fields, f.time_ns))


def stress_line(s: StressRow) -> str:
    fields: dict[str, FieldValue] = {
        "stress_index": _float(s.index),
        "stress_confidence": float(s.confidence),
    }
    fields.update({f"z_{k}": _float(v) for k, v in s.components.items()})
    fields["version"] = s.version
    fields["reason"] = s.reason or None
    return _required(line("stress", _study_tags(s), fields, s.time_ns))


def session_line(x: Session) -> str:
    tags = [*_study_tags(x), ("kind", x.kind), ("mode", x.mode), ("label", x.label)]
    # start_ms: the point's time as Unix ms (floored, as InfluxDB's epoch=ms shows it), which
    # InfluxQL cannot select as a value: the sessions dashboard's session variable reads it.
    fields: dict[str, FieldValue] = {
        "open": int(x.end_ns is None),
        "start_ms": x.start_ns // _NS_PER_MS,
    }
    if x.end_ns is not None:
        fields["end_ms"] = x.end_ns // _NS_PER_MS
        fields["duration_s"] = (x.end_ns - x.start_ns) / NS_PER_S
    return _required(line("session", tags, fields, x.start_ns))


def result_line(row: FeatureRow | StressRow | Session) -> str:
    if isinstance(row, FeatureRow):
        return feature_line(row)
    if isinstance(row, StressRow):
        return stress_line(row)
    return session_line(row)


def _study_tags(r: FeatureRow | StressRow | Session) -> list[tuple[str, str]]:
    return [("study", r.study), ("participant", r.participant)]


def _float(v: float | int | None) -> float | None:
    """Features are floats whatever Python type computed them (no field type conflicts)."""
    return None if v is None else float(v)


def _required(point: str | None) -> str:
    # Every result measurement has an always-present field (docs/schema.md).
    assert point is not None
    return point
