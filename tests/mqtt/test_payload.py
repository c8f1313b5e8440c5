"""Topics, partitions, payloads and broker settings of the MQTT link (no broker needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from paho.mqtt.client import topic_matches_sub

from stresstrack.credentials import read_secret
from stresstrack.errors import StressTrackError
from stresstrack.events import (
    Beat,
    Contact,
    DeviceState,
    DeviceStatus,
    EdaSamples,
    Event,
    HeartRate,
    Marker,
    MarkerAction,
    Waveform,
    WaveformKind,
)
from stresstrack.store.sqlite import Store
from stresstrack.transport.mqtt import (
    PASSWORD_ENV,
    Broker,
    EventBatch,
    PayloadError,
    SequencedEvent,
    batch_from_payload,
    batch_to_payload,
    events_topic,
    parse_broker_url,
    parse_worker,
    topic_partition,
    worker_filters,
    worker_of,
    worker_partitions,
)

T0 = 1_767_603_600_000_000_000
P, S = "p-01", "lab 2"


def one_of_each() -> list[Event]:
    return [
        Beat(time_ns=T0, device="AA:01", rr_ms=812.5, rr_ticks=832, participant=P, study=S),
        HeartRate(
            time_ns=T0 + 1,
            device="AA:01",
            bpm=73.0,
            contact=Contact.DETECTED,
            participant=P,
            study=S,
        ),
        EdaSamples(
            time_ns=T0 + 2,
            device="BB:02",
            sampling_rate=4.0,
            values_us=(2.5, 2.51),
            participant=P,
            study=S,
        ),
        Waveform(
            time_ns=T0 + 3,
            device="CC:03",
            kind=WaveformKind.ECG,
            sampling_rate=130.0,
            values=(12.0, -3.5),
            participant=P,
            study=S,
        ),
        Marker(
            time_ns=T0 + 4,
            device="protocol",
            action=MarkerAction.START,
            kind="self-care",
            participant=P,
            study=S,
        ),
        DeviceStatus(
            time_ns=T0 + 5,
            device="AA:01",
            state=DeviceState.GAP,
            battery_pct=80,
            detail="x",
            gap_start_ns=T0,
            participant=P,
            study=S,
        ),
    ]


def test_a_batch_round_trips_every_event_type(tmp_path: Path) -> None:
    events = one_of_each()
    with Store(tmp_path / "c.db") as store:
        store.add_events(events)
        rows = store.event_rows_after(0, 100)
    topic, payload = batch_to_payload("src1", 0, 42, rows)
    assert topic == "stresstrack/v1/lab%202/p-01/events/" + str(topic_partition(topic)[2])
    assert topic_partition(topic) == ("lab 2", "p-01", topic_partition(topic)[2])
    batch = batch_from_payload(topic, payload)
    assert batch == EventBatch(
        source="src1",
        study="lab 2",
        participant="p-01",
        prev=0,
        sent_ns=42,
        events=tuple(SequencedEvent(i, e) for i, e in enumerate(events, start=1)),
    )
    assert batch.last_seq == 6
    head = json.loads(payload)
    assert {k: head[k] for k in ("v", "source", "prev")} == {"v": 1, "source": "src1", "prev": 0}


def test_a_batch_holds_one_participant_only(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        store.add_events([one_of_each()[0], Beat(time_ns=T0, participant="p-02", rr_ms=800.0)])
        rows = store.event_rows_after(0, 10)
    with pytest.raises(ValueError, match="one message each"):
        batch_to_payload("s", 0, 0, rows)
    with pytest.raises(ValueError, match="at least one event"):
        batch_to_payload("s", 0, 0, [])


@pytest.mark.parametrize("count", range(1, 9))
def test_each_participant_has_exactly_one_worker(count: int) -> None:
    participants = [f"sim-{i:03d}" for i in range(200)] + ["P1", "a.b_c-d"]
    for p in participants:
        topic = events_topic("demo", p)
        owners = [
            i
            for i in range(1, count + 1)
            if any(topic_matches_sub(f, topic) for f in worker_filters(i, count))
        ]
        assert owners == [worker_of(p, count)], p
    shares = [len(worker_partitions(i, count)) for i in range(1, count + 1)]
    assert sum(shares) == 64 and max(shares) - min(shares) <= 1


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: "not json", "not JSON"),
        (lambda d: [1], "not a JSON object"),
        (lambda d: {**d, "v": 2}, "payload version 2 is not supported"),
        (lambda d: {**d, "source": 5}, "field 'source' missing or not a string"),
        (lambda d: {**d, "prev": True}, "field 'prev' missing or not an integer"),
        (lambda d: {**d, "participant": "p-02"}, "belong on stresstrack/v1/lab%202/p-02"),
        (lambda d: {**d, "participant": "Jane Doe"}, "is not a pseudonym"),
        (lambda d: {**d, "events": []}, "no events"),
        (lambda d: {**d, "prev": 1}, "event 0: sequence 1 does not follow 1"),
        (lambda d: {**d, "events": [[1, "beat"]]}, "event 0: not [seq, type, time_ns"),
        (
            lambda d: {**d, "events": [[1, "beat", "x", "d", {"rr_ms": 1.0}]]},
            "seq and time_ns must be integers",
        ),
    ],
)
def test_bad_messages_name_the_topic_and_the_problem(
    tmp_path: Path, change: object, problem: str
) -> None:
    with Store(tmp_path / "c.db") as store:
        store.add_events(one_of_each()[:1])
        rows = store.event_rows_after(0, 10)
    topic, payload = batch_to_payload("s", 0, 0, rows)
    bad = change(json.loads(payload))  # type: ignore[operator]
    raw = bad.encode() if isinstance(bad, str) else json.dumps(bad).encode()
    with pytest.raises(PayloadError) as info:
        batch_from_payload(topic, raw)
    assert problem in str(info.value)
    assert str(info.value).startswith(f"MQTT message on {topic!r}: ")


def test_topics_outside_the_layout_are_refused() -> None:
    for topic in ("a/b", "stresstrack/v1/s/p/events/64", "stresstrack/v1/s/p/other/1"):
        with pytest.raises(PayloadError, match=r"topic|partition"):
            topic_partition(topic)


def test_broker_urls() -> None:
    assert parse_broker_url("mqtt://h") == ("h", 1883, False)
    assert parse_broker_url("MQTTS://h:9") == ("h", 9, True)
    assert parse_broker_url("mqtt://[::1]:1884/") == ("::1", 1884, False)
    for url, problem in [
        ("http://h", "write mqtt://HOST"),
        ("h:1883", "write mqtt://HOST"),
        ("mqtt://u:secret@h", "no credentials in the URL"),
        ("mqtt://h/x", "no path"),
        ("mqtt://h:99999", "port must be 1-65535"),
        ("mqtt://:1883", "no host"),
    ]:
        with pytest.raises(StressTrackError, match=problem) as info:
            parse_broker_url(url, "--publish")
        assert "secret" not in str(info.value)


def test_worker_option() -> None:
    assert parse_worker("1/1") == (1, 1)
    for text, problem in [
        ("2", "write I/N"),
        ("a/2", "write I/N"),
        ("0/2", "I must be 1 to N"),
        ("3/2", "I must be 1 to N"),
        ("1/65", "N must be 1 to 64"),
    ]:
        with pytest.raises(ValueError, match=problem):
            parse_worker(text)


def test_the_password_is_never_shown(tmp_path: Path) -> None:
    broker = Broker("h", username="u", password="s3cret-pw")
    assert "s3cret" not in repr(broker) and "s3cret" not in broker.describe()
    assert broker.hide("auth failed for s3cret-pw") == "auth failed for ***"
    path = tmp_path / "pw"
    path.write_text("from-file\n", encoding="utf-8")
    assert read_secret(path, PASSWORD_ENV, environ={PASSWORD_ENV: "env"}) == "from-file"
    assert read_secret(None, PASSWORD_ENV, environ={PASSWORD_ENV: " env "}) == "env"
    with pytest.raises(StressTrackError, match="cannot read it") as info:
        read_secret(tmp_path / "missing", PASSWORD_ENV, environ={}, source="--mqtt-password-file")
    assert "--mqtt-password-file" in str(info.value)
