"""Issue 16: a fuzz suite over every boundary where outside data comes in.

Attacks (the table in the issue's closing note counts these cases): the MQTT payload decoder
fed structured event batches with hostile values (NaN, infinities, 1e308, rates of 1e-9 or
1e300 Hz, dates in 2200, lone surrogates, control characters, huge texts and sample lists),
random bytes and random JSON; the event codec (what the store and MQTT rebuild events with)
fed random bodies; every text importer (CSV, E4, Polar, EmotiBit, Kubios) fed hostile values
after a valid header; and a valid file of each whole-file format (XDF, WESAD pickle, E4 zip,
store, Kubios) with bytes overwritten and its end cut off. Each case must end in a typed error
only (``PayloadError``, ``EventError``, ``ImportFormatError``) or in events within
:mod:`stresstrack.limits`.

Memory cap: while each test runs, the process may not grow its address space by more than
``MEMORY_CAP`` (512 MiB, set with ``RLIMIT_AS``); an allocation beyond it raises
``MemoryError``, which fails the test. Example counts are fixed (``max_examples``), about
22,650 cases in all (an example is tried with every number replaced by each of 12 edge
values), about 1 min of CPU time.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import pickle
import resource
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from stresstrack.errors import EventError, ImportFormatError
from stresstrack.events import EVENT_TYPES, Beat
from stresstrack.limits import MAX_SAMPLES, check_event
from stresstrack.replay import FORMATS, ImportOptions, ImportStats
from stresstrack.store.codec import event_from_payload
from stresstrack.store.sqlite import Store
from stresstrack.transport.mqtt import PayloadError, batch_from_payload, events_topic

MEMORY_CAP = 512 << 20
SCALE = float(os.environ.get("STRESSTRACK_FUZZ_SCALE", "1"))  # examples: 1 = the suite
NOW_NS = 1_767_603_600 * 10**9
TOPIC = events_topic("default", "p-01")


def fast(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )


@contextlib.contextmanager
def memory_cap() -> Iterator[None]:
    """At most ``MEMORY_CAP`` more address space than the process has now."""
    size = 0
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmSize:"):
            size = int(line.split()[1]) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + MEMORY_CAP
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.fixture(autouse=True)
def _capped() -> Iterator[None]:
    with memory_cap():
        yield


# -- hostile values --------------------------------------------------------------------------
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e-9, 0.5, 1e300, 1e308, 2**63, -(2**63), 2**64, 130, 4, 800.0]),
    st.integers(),
)
TEXTS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["self-care \udce9", "\ud800", "a\x00b", "\x1b[2J", "x" * 3000, "=cmd|"]),
)
TIMES = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, NOW_NS, 4_070_908_800 * 10**9, 7_258_118_000 * 10**9, 2**63 - 1]),
    st.floats(allow_nan=True),
)
VALUES = st.one_of(NUMBERS, TEXTS, st.none(), st.booleans(), st.lists(NUMBERS, max_size=5))
BODIES: dict[str, Any] = {
    "beat": st.fixed_dictionaries(
        {"rr_ms": NUMBERS}, optional={"rr_ticks": VALUES, "source": VALUES}
    ),
    "hr": st.fixed_dictionaries(
        {"bpm": NUMBERS}, optional={"contact": VALUES, "energy_kj": VALUES}
    ),
    "eda": st.fixed_dictionaries(
        {"sampling_rate": NUMBERS, "values_us": st.lists(NUMBERS, max_size=20)}
    ),
    "waveform": st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["ecg", "ppg", "emg", 3]),
            "sampling_rate": NUMBERS,
            "values": st.one_of(st.lists(NUMBERS, max_size=20), st.just([0.0] * 250_000), VALUES),
        }
    ),
    "marker": st.fixed_dictionaries(
        {"action": st.sampled_from(["start", "stop", "event", "boom"]), "kind": TEXTS},
        optional={"mode": TEXTS, "label": TEXTS, "note": VALUES},
    ),
    "status": st.fixed_dictionaries(
        {"state": st.sampled_from(["connected", "gap", "nope"])},
        optional={"battery_pct": VALUES, "detail": TEXTS, "gap_start_ns": TIMES},
    ),
}
TYPED_EVENT = st.sampled_from(sorted(BODIES)).flatmap(
    lambda t: st.tuples(st.just(t), BODIES[t], TIMES, TEXTS)
)


def _encode(data: object) -> bytes:
    return json.dumps(data, allow_nan=True).encode("utf-8", "surrogatepass")


# Each drawn body is also tried with every number in it replaced by each of these: one
# Hypothesis example makes 1 + len(EDGES) cases (counted in CASES).
EDGES = (0, -1, 1e-9, 0.5, 1e300, -1e308, math.nan, math.inf, -math.inf, 2**63, 130, 800.0)
CASES: dict[str, int] = {}


def _count(test: str, n: int = 1) -> None:
    CASES[test] = CASES.get(test, 0) + n


def _swap(value: object, edge: float) -> object:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return edge
    if isinstance(value, list):
        return [_swap(v, edge) for v in value]
    return value


def _variants(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield body
    for edge in EDGES:
        yield {k: _swap(v, edge) for k, v in body.items()}


# -- MQTT ------------------------------------------------------------------------------------
@fast(int(400 * SCALE))
@given(events=st.lists(TYPED_EVENT, min_size=1, max_size=6), prev=st.integers(-5, 5))
def test_mqtt_batches_with_hostile_values(
    events: list[tuple[str, dict[str, Any], Any, str]], prev: int
) -> None:
    head = {"v": 1, "source": "s", "study": "default", "participant": "p-01"}
    variants = zip(*(_variants(body) for _t, body, _time, _device in events), strict=True)
    for bodies in variants:
        _count("mqtt batches")
        rows = [
            [i + 1, t, time_ns, device, body]
            for i, ((t, _b, time_ns, device), body) in enumerate(zip(events, bodies, strict=True))
        ]
        payload = _encode({**head, "prev": prev, "sent_ns": 0, "events": rows})
        try:
            batch = batch_from_payload(TOPIC, payload, now_ns=NOW_NS)
        except PayloadError:
            continue
        assert len(batch.events) + len(batch.rejected) == len(events)
        for e in batch.events:
            check_event(e.event, now_ns=NOW_NS)  # what is accepted is within the limits


@fast(int(1500 * SCALE))
@given(
    payload=st.one_of(
        st.binary(max_size=400),
        st.recursive(
            st.one_of(st.none(), st.booleans(), NUMBERS, TEXTS),
            lambda inner: st.one_of(
                st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)
            ),
            max_leaves=30,
        ).map(_encode),
        st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
    )
)
@example(payload=b"[" * 200_000 + b"]" * 200_000)  # nested deeper than Python's stack
@example(payload=b'{"v": 1, "events": [' + b"[1, 2], " * 3_000_000 + b"]}")  # 24 MB
def test_mqtt_random_payloads(payload: bytes) -> None:
    _count("mqtt random payloads")
    with contextlib.suppress(PayloadError):
        batch_from_payload(TOPIC, payload, now_ns=NOW_NS)


def test_mqtt_sample_lists_are_capped() -> None:
    """One event may not carry more than MAX_SAMPLES values (what a message makes us hold)."""
    body = {"kind": "ecg", "sampling_rate": 130, "values": [0.0] * (MAX_SAMPLES + 1)}
    row = [1, "waveform", NOW_NS, "d", body]
    head = {"v": 1, "source": "s", "study": "default", "participant": "p-01", "prev": 0}
    batch = batch_from_payload(TOPIC, _encode({**head, "sent_ns": 0, "events": [row]}))
    (rejected,) = batch.rejected
    assert f"{MAX_SAMPLES + 1} samples in one event" in rejected.reason


# -- the event codec (store, MQTT) ----------------------------------------------------------
@fast(int(1000 * SCALE))
@given(event=TYPED_EVENT, participant=st.one_of(st.just("p-01"), TEXTS), raw=st.booleans())
def test_codec_rebuilds_only_events_within_the_limits(
    event: tuple[str, dict[str, Any], Any, str], participant: str, raw: bool
) -> None:
    type_name, drawn, time_ns, device = event
    for body in _variants(drawn):
        _count("event codec")
        text = _encode(body).decode("utf-8", "surrogatepass") if not raw else json.dumps(body)
        try:
            rebuilt = event_from_payload(type_name, time_ns, participant, "s", device, text)
        except EventError:
            continue
        assert type(rebuilt) is EVENT_TYPES[type_name]
        check_event(rebuilt)


# -- importers -------------------------------------------------------------------------------
EMOTIBIT = "LocalTimestamp,EmotiBitTimestamp,PacketNumber,DataLength,TypeTag,ProtocolVersion,"
EMOTIBIT += "DataReliability"
TOKENS = st.one_of(
    st.sampled_from(
        [
            "",
            "nan",
            "inf",
            "-inf",
            "1e308",
            "1e-9",
            "0",
            "-1",
            "7258118000",
            "1767603600",
            "1767603600.5",
            "9999-12-31T23:59:59-12:00",
            "2026-01-05T09:00:00",
            "\udce9",
            "800",
            "0.000000001",
            "1e300",
            "599616050941733632",
            "MARKER_START",
            "start",
            "=cmd|",
        ]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
)
LINES = st.lists(st.lists(TOKENS, min_size=1, max_size=8), max_size=30)
START = "2026-01-05T09:00:00Z"
IMPORTERS: dict[str, tuple[str, str, str, str]] = {
    # case: (format, file name, header, separator)
    "csv-rr": ("csv", "rr.csv", "time,rr_ms\n", ","),
    "csv-eda": ("csv", "eda.csv", "time,eda_us\n", ","),
    "csv-ecg": ("csv", "ecg.csv", "time,ecg_uv\n", ","),
    "csv-markers": ("csv", "m.csv", "time,action,kind,mode,label,note\n", ","),
    "e4-eda": ("e4", "EDA.csv", "", ","),
    "e4-bvp": ("e4", "BVP.csv", "", ","),
    "e4-ibi": ("e4", "IBI.csv", "1767603600.000000, IBI\n", ","),
    "polar-ecg": (
        "polar",
        "X_ECG.txt",
        "Phone timestamp;sensor timestamp [ns];timestamp [ms];ecg [uV]\n",
        ";",
    ),
    "polar-hr": ("polar", "X_HR.txt", "Phone timestamp;HRV [ms];HR [bpm]\n", ";"),
    "polar-rr": ("polar", "X_RR.txt", "Phone timestamp;RR-interval [ms]\n", ";"),
    "emotibit-ea": ("emotibit", "r_EA.csv", f"{EMOTIBIT},EA\n", ","),
    "emotibit-info": ("emotibit", "r_info.json", "", ","),
    "kubios-rr": ("kubios", "p-1.txt", f"# KUBIOS\n# start: {START}\nTime (s)\tRR (ms)\n", "\t"),
}


def _read(fmt: str, path: Path, skip: bool) -> None:
    options = ImportOptions(skip_bad_rows=skip, participant="p-1", start_ns=NOW_NS)
    with contextlib.suppress(ImportFormatError):
        for event in FORMATS[fmt].read([path], options, ImportStats()):
            check_event(event)  # whatever an importer yields is within the limits


@pytest.mark.parametrize("case", list(IMPORTERS))
@fast(int(150 * SCALE))
@given(lines=LINES, rate=TOKENS, skip=st.booleans())
def test_importers_with_hostile_values(
    case: str, lines: list[list[str]], rate: str, skip: bool
) -> None:
    fmt, name, header, sep = IMPORTERS[case]
    folder = _FOLDER / case / "p-1"  # one folder per case, rewritten by every example
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if case.startswith("e4-") and case != "e4-ibi":
        header = f"1767603600.000000\n{rate}\n"
    text = header + "\n".join(sep.join(row) for row in lines) + "\n"
    if case == "emotibit-info":
        (folder / "r_EA.csv").write_text(
            f"{EMOTIBIT},EA\n1767603600.0,1.0,1,1,EA,1,100,0.03\n", encoding="utf-8"
        )
        text = json.dumps([{"info": {"typeTags": ["EA"], "nominal_srate": rate}}])
    (folder / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    _count(f"importer {case}")
    _read(fmt, folder / name if fmt == "kubios" else folder, skip)  # Kubios: one file


# -- damaged files -------------------------------------------------------------------------
def _valid_files() -> dict[str, tuple[str, bytes]]:
    """A small valid file of each binary or whole-file format: (file name, bytes)."""
    from replay.xdf_writer import XdfWriter

    xdf = XdfWriter().stream(1, "Polar H10 RR", "RR", 0, "float32", unit="ms")
    xdf.stream(2, "EDA band", "GSR", 4, "float32").stream(3, "m", "Markers", 0, "string")
    xdf.samples(1, [100.0 + 0.8 * k for k in range(20)], [[800.0]] * 20)
    xdf.samples(2, [100.0, None, None, None], [[2.0], [2.1], [2.2], [2.3]])
    xdf.samples(3, [101.0, 105.0], [["start baseline"], ["baseline stop"]])
    labels = np.zeros(1400, dtype=np.int64)
    labels[300:900] = 1
    wesad = {"subject": "S2", "label": labels, "signal": {
        "chest": {"ECG": np.arange(1400.0).reshape(-1, 1)},
        "wrist": {"EDA": np.ones((8, 1)), "BVP": np.zeros((64, 1))},
    }}  # fmt: skip
    e4 = io.BytesIO()
    with zipfile.ZipFile(e4, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("EDA.csv", "1767603600.000000\n4.000000\n" + "0.5\n" * 400)
        z.writestr("IBI.csv", "1767603600.000000, IBI\n" + "".join(
            f"{0.8 * k:.6f},0.800000\n" for k in range(1, 60)))  # fmt: skip
    store_dir = Path(tempfile.mkdtemp(prefix="stresstrack-fuzz-store-"))
    try:
        with Store(store_dir / "s.db") as store:
            store.add_events(
                [
                    Beat(time_ns=NOW_NS + k * 10**9, participant="p-1", rr_ms=800.0)
                    for k in range(50)
                ]
            )
        db = (store_dir / "s.db").read_bytes()
    finally:
        shutil.rmtree(store_dir, ignore_errors=True)
    kubios = "# KUBIOS\nTime (s)\tRR (s)\n" + "".join(f"{0.8 * k:.3f}\t0.8\n" for k in range(1, 80))
    return {
        "xdf": ("s-1.xdf", xdf.data),
        "wesad": ("S2.pkl", pickle.dumps(wesad, protocol=2)),
        "e4": ("s-1.zip", e4.getvalue()),
        "store": ("s-1.db", db),
        "kubios": ("p-1.txt", kubios.encode()),
    }


VALID: dict[str, tuple[str, bytes]] = {}


@pytest.mark.parametrize("fmt", ["xdf", "wesad", "e4", "store", "kubios"])
@fast(int(200 * SCALE))
@given(
    changes=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8),
    keep=st.floats(0.02, 1.0),
    skip=st.booleans(),
)
def test_damaged_files_are_typed_errors_in_bounded_memory(
    fmt: str, changes: list[tuple[float, int]], keep: float, skip: bool
) -> None:
    """A valid file with bytes overwritten and its end cut off (lengths, counts, headers and
    compressed streams broken): an import error or events within the limits."""
    if not VALID:
        VALID.update(_valid_files())
    name, good = VALID[fmt]
    data = bytearray(good)
    for where, value in changes:
        data[min(len(data) - 1, int(where * len(data)))] = value
    path = _FOLDER / f"damaged-{fmt}" / name
    shutil.rmtree(path.parent, ignore_errors=True)
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes(data[: max(1, int(keep * len(data)))]))
    _count(f"damaged {fmt}")
    _read(fmt, path, skip)


_FOLDER = Path(tempfile.mkdtemp(prefix="stresstrack-fuzz-"))


@pytest.fixture(scope="module", autouse=True)
def _remove_folder() -> Iterator[None]:
    yield
    shutil.rmtree(_FOLDER, ignore_errors=True)


def test_zz_the_suite_tried_enough_cases() -> None:
    """Runs last (file order): at least 20,000 cases in all at full scale."""
    if SCALE < 1 or len(CASES) < 3 + len(IMPORTERS) + 5:
        pytest.skip("a partial run (-k or STRESSTRACK_FUZZ_SCALE < 1)")
    print("fuzz cases:", CASES, "total", sum(CASES.values()))
    assert sum(CASES.values()) >= 20_000
