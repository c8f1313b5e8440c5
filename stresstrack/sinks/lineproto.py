"""InfluxDB line protocol, escaped so that no value can add a line, a tag or a field.

Line protocol reference: https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/
(and the v2 page of the same name). Tag keys, tag values and field keys escape ``,``, ``=``
and space; string field values escape ``"`` and ``\\``. There is no escape for a line break,
and InfluxDB 1.x and 2.x read a backslash in a tag differently, so those are replaced (see
docs/schema.md).

>>> line("beat", [("participant", "p 1"), ("study", "a,b")], {"rr_ms": 812.5}, 10)
'beat,participant=p\\\\ 1,study=a\\\\,b rr_ms=812.5 10'
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Final

__all__ = ["FieldValue", "escape_key", "field_value", "line", "quote_string", "tag_set"]

FieldValue = float | int | str | bool | None

# Control characters (C0, DEL, C1) and the backslash cannot be carried safely in keys/tags.
_UNSAFE_KEY: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")
# InfluxDB 1.x reads a double quote anywhere in the field section as opening a string.
_UNSAFE_FIELD_KEY: Final = re.compile(r'[\x00-\x1f\x7f-\x9f\\"]')
_UNSAFE_STRING: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_KEY_ESCAPES: Final = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})


def escape_key(text: str) -> str:
    """Escape a measurement name, tag key, tag value or field key."""
    return _UNSAFE_KEY.sub("_", text).translate(_KEY_ESCAPES)


def quote_string(text: str) -> str:
    """A string field value, quoted and escaped."""
    clean = _UNSAFE_STRING.sub(" ", text).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{clean}"'


def field_value(value: FieldValue) -> str | None:
    """A field value in line protocol, or ``None`` when it cannot be written (null, NaN, inf)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    return quote_string(value)


def tag_set(tags: Iterable[tuple[str, str]]) -> str:
    """``,k=v,k=v`` for the non-empty tags, sorted by key as InfluxDB recommends."""
    parts = [(escape_key(k), escape_key(v)) for k, v in tags if v]
    parts.sort()
    return "".join(f",{k}={v}" for k, v in parts)


def line(
    measurement: str,
    tags: Iterable[tuple[str, str]],
    fields: Mapping[str, FieldValue],
    time_ns: int,
) -> str | None:
    """One point, or ``None`` when no field has a writable value."""
    body = ",".join(
        f"{_field_key(k)}={v}" for k, v in ((k, field_value(x)) for k, x in fields.items()) if v
    )
    if not body:
        return None
    return f"{escape_key(measurement)}{tag_set(tags)} {body} {time_ns}"


def _field_key(key: str) -> str:
    # "time" is reserved: InfluxDB drops a field of that name.
    return _UNSAFE_FIELD_KEY.sub("_", key if key != "time" else "time_").translate(_KEY_ESCAPES)
