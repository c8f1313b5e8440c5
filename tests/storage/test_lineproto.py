"""Line protocol: escaping makes every input one point with exactly its tags and fields."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from stresstrack.sinks.lineproto import escape_key, field_value, line, quote_string


def _split(text: str, sep: str, *, quotes: bool = True) -> list[str]:
    """Split on ``sep`` outside backslash escapes and (``quotes``) double-quoted strings."""
    parts, cur, i, quoted = [], "", 0, False
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur += text[i : i + 2]
            i += 2
            continue
        if c == '"' and quotes:
            quoted = not quoted
        if c == sep and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    parts.append(cur)
    return parts


def _unescape_key(text: str) -> str:
    return re.sub(r"\\([, =])", r"\1", text)


def _unquote(text: str) -> str:
    assert text.startswith('"') and text.endswith('"')
    return re.sub(r'\\(["\\])', r"\1", text[1:-1])


def parse(point: str) -> tuple[str, dict[str, str], dict[str, str], int]:
    """A strict reader of one line: measurement, tags, raw field values, timestamp."""
    assert "\n" not in point and "\r" not in point
    head = _split(point, " ", quotes=False)[0]  # quotes mean nothing in measurement and tags
    fields_text, ts = _split(point[len(head) + 1 :], " ")
    measurement, *tag_parts = _split(head, ",", quotes=False)
    tags = {}
    for part in tag_parts:
        k, v = _split(part, "=", quotes=False)
        tags[_unescape_key(k)] = _unescape_key(v)
    fields = {}
    for part in _split(fields_text, ","):
        k, v = _split(part, "=")
        fields[_unescape_key(k)] = v
    return _unescape_key(measurement), tags, fields, int(ts)


def _clean_key(text: str, unsafe: str = r"[\x00-\x1f\x7f-\x9f\\]") -> str:
    """What a tag or key becomes: backslashes and control characters replaced by ``_``."""
    return re.sub(unsafe, "_", text)


def _clean_field_key(text: str) -> str:
    return "time_" if text == "time" else _clean_key(text, r'[\x00-\x1f\x7f-\x9f\\"]')


def test_examples() -> None:
    assert escape_key("a b,c=d") == "a\\ b\\,c\\=d"
    assert escape_key("back\\slash\nnew") == "back_slash_new"
    assert quote_string('say "hi"\\\n') == '"say \\"hi\\"\\\\ "'
    assert field_value(float("nan")) is None
    assert field_value(float("inf")) is None
    assert field_value(3) == "3i"
    assert field_value(True) == "true"
    assert field_value(0.1) == "0.1"
    assert line("m", [("b", ""), ("a", "x")], {"f": None, "g": 1.0, "time": 2}, 7) == (
        "m,a=x g=1.0,time_=2i 7"
    )
    assert line("m", [("a", "x")], {"f": None}, 7) is None


@settings(max_examples=300, deadline=None)
@given(
    tags=st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=12), max_size=4),
    fields=st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.one_of(
            st.text(max_size=20),
            st.integers(-(2**63), 2**63 - 1),
            st.floats(allow_nan=False, allow_infinity=False),
        ),
        min_size=1,
        max_size=4,
    ),
    time_ns=st.integers(0, 2**62),
)
def test_no_input_escapes_its_place(
    tags: dict[str, str], fields: dict[str, str | int | float], time_ns: int
) -> None:
    cleaned_fields = {_clean_field_key(k): v for k, v in fields.items()}
    cleaned_tags = {_clean_key(k): _clean_key(v) for k, v in tags.items() if v}
    # Keys that become equal after cleaning would be ambiguous: not what this test is about.
    if len(cleaned_fields) != len(fields) or len(cleaned_tags) != len(
        {k for k, v in tags.items() if v}
    ):
        return
    point = line("m", tags.items(), fields, time_ns)
    assert point is not None
    measurement, got_tags, got_fields, ts = parse(point)
    assert (measurement, ts) == ("m", time_ns)
    assert got_tags == cleaned_tags
    assert set(got_fields) == set(cleaned_fields)
    for k, v in cleaned_fields.items():
        raw = got_fields[k]
        if isinstance(v, str):
            assert _unquote(raw) == re.sub(r"[\x00-\x1f\x7f-\x9f]", " ", v)
        elif isinstance(v, int):
            assert raw == f"{v}i"
        else:
            assert float(raw) == v


def test_retry_after_and_backoff() -> None:
    from datetime import UTC, datetime

    from stresstrack.backoff import Backoff
    from stresstrack.sinks.influx_client import RETRY_AFTER_MAX_S, parse_retry_after

    now = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Mon, 05 Jan 2026 09:00:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 05 Jan 2026 08:00:00 GMT", now) == 0.0  # in the past
    assert parse_retry_after("99999", now) == RETRY_AFTER_MAX_S
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
    b = Backoff(first_s=0.5, max_s=30.0)
    assert [b.delay(n) for n in range(1, 9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert b.delay(1, retry_after=12.0) == 12.0
    assert b.delay(8, retry_after=2.0) == 30.0
