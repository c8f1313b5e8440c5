"""MQTT between collectors and pipeline workers: topics, partitions, payloads, broker settings.

Layout and delivery rules: docs/mqtt.md. In short:

* one topic per study and participant, with the participant's partition last:
  ``stresstrack/v1/<study>/<participant>/events/<partition>``, where the partition is
  ``crc32(participant) mod 64``; worker *I* of *N* subscribes to the partitions *k* with
  ``k mod N == I - 1``, so each participant has exactly one owner and its events one order;
* one message carries consecutive events of one participant from one *source* (a collector's
  store): each event with its sequence number (its ``id`` in that store), plus ``prev``, the
  sequence number of the participant's previous event from that source, so the worker drops
  redeliveries and notices a gap;
* payload: compact UTF-8 JSON with a version field, the events' bodies exactly as
  :func:`stresstrack.store.codec.event_to_payload` writes them.

Passwords are never printed: :class:`Broker` keeps them out of ``repr`` and :meth:`Broker.hide`
removes them from any text a message is built from.

Size (issue 17): ``batch_from_payload`` is long because it checks every field of a message
from the network in turn (size, JSON, topic, source, sequence numbers, each event), each
check with its own error; the order of the checks is the order of trust.
"""

from __future__ import annotations

import json
import ssl
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, unquote, urlsplit

from stresstrack.errors import EventError, SettingError, StressTrackError
from stresstrack.events import EVENT_TYPES, Event, validate_participant_id
from stresstrack.store.codec import event_from_payload
from stresstrack.store.sqlite import EventRow

__all__ = [
    "PARTITIONS",
    "PASSWORD_ENV",
    "PAYLOAD_VERSION",
    "TOPIC_ROOT",
    "Broker",
    "EventBatch",
    "PayloadError",
    "RejectedEvent",
    "SequencedEvent",
    "batch_from_payload",
    "batch_to_payload",
    "events_topic",
    "parse_broker_url",
    "parse_worker",
    "participant_partition",
    "topic_partition",
    "worker_filters",
    "worker_of",
    "worker_partitions",
]

PAYLOAD_VERSION: Final = 1
TOPIC_ROOT: Final = "stresstrack/v1"
# Participants are spread over this many partitions; a deployment runs at most this many
# workers. Fixed forever: a participant's partition must not change between releases.
PARTITIONS: Final = 64
PASSWORD_ENV: Final = "STRESSTRACK_MQTT_PASSWORD"
# A publisher sends at most 500 events per message (about 200 KB with EDA chunks); larger
# payloads are refused before they are parsed (bounds what a stranger makes a worker allocate).
MAX_PAYLOAD_BYTES: Final = 16 * 1024 * 1024
DEFAULT_PORT: Final = 1883  # IANA "mqtt"
DEFAULT_TLS_PORT: Final = 8883  # IANA "secure-mqtt"
_SCHEMES: Final = {"mqtt": False, "mqtts": True}


class PayloadError(StressTrackError, ValueError):
    """A message that is not a stresstrack event batch; names the topic and the problem."""

    def __init__(self, topic: str, problem: str) -> None:
        self.topic = topic
        self.problem = problem
        super().__init__(f"MQTT message on {topic!r}: {problem}")


# -- topics and partitions -------------------------------------------------------------------
def participant_partition(participant: str) -> int:
    """The partition of a participant: CRC-32 of its UTF-8 ID modulo :data:`PARTITIONS`.

    >>> participant_partition("sim-001")
    28
    """
    return zlib.crc32(participant.encode("utf-8")) % PARTITIONS


def events_topic(study: str, participant: str) -> str:
    """The topic of a participant's events; the study is percent-encoded to one level.

    >>> events_topic("demo", "sim-001")
    'stresstrack/v1/demo/sim-001/events/28'
    >>> events_topic("study 2/a+b", "p1")
    'stresstrack/v1/study%202%2Fa%2Bb/p1/events/51'
    """
    validate_participant_id(participant)
    return f"{TOPIC_ROOT}/{quote(study, safe='')}/{participant}/events/" + str(
        participant_partition(participant)
    )


def topic_partition(topic: str) -> tuple[str, str, int]:
    """``(study, participant, partition)`` of an events topic; :class:`PayloadError` if not one."""
    parts = topic.split("/")
    root = TOPIC_ROOT.split("/")
    if len(parts) != len(root) + 4 or parts[: len(root)] != root or parts[-2] != "events":
        raise PayloadError(topic, f"not a stresstrack events topic ({TOPIC_ROOT}/...)")
    study, participant, _events, partition = parts[len(root) :]
    if not partition.isdigit() or int(partition) >= PARTITIONS:
        raise PayloadError(topic, f"partition {partition!r} is not 0-{PARTITIONS - 1}")
    return unquote(study), participant, int(partition)


def parse_worker(text: str) -> tuple[int, int]:
    """``"I/N"`` (1-based) to ``(I, N)``; :class:`SettingError` (a ``ValueError``) of the
    ``worker`` setting naming the problem.

    >>> parse_worker("2/3")
    (2, 3)
    """
    index_text, sep, count_text = text.partition("/")
    try:
        if not sep:
            raise ValueError
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise SettingError("worker", f"{text!r}: write I/N, e.g. 1/2 (worker 1 of 2)") from None
    if not 1 <= count <= PARTITIONS:
        raise SettingError("worker", f"{text!r}: N must be 1 to {PARTITIONS}")
    if not 1 <= index <= count:
        raise SettingError("worker", f"{text!r}: I must be 1 to N ({count})")
    return index, count


def worker_partitions(index: int, count: int) -> list[int]:
    """The partitions worker ``index`` (1-based) of ``count`` owns."""
    return [k for k in range(PARTITIONS) if k % count == index - 1]


def worker_of(participant: str, count: int) -> int:
    """The worker (1-based) that owns ``participant`` among ``count`` workers."""
    return participant_partition(participant) % count + 1


def worker_filters(index: int, count: int) -> list[str]:
    """Topic filters of worker ``index`` of ``count``: one per owned partition (one in all
    for a single worker)."""
    if count == 1:
        return [f"{TOPIC_ROOT}/+/+/events/+"]
    return [f"{TOPIC_ROOT}/+/+/events/{k}" for k in worker_partitions(index, count)]


# -- payloads --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SequencedEvent:
    """An event and its sequence number in its source (its ``id`` in the collector's store)."""

    seq: int
    event: Event


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """An event of a valid message that is outside the limits: kept in quarantine."""

    seq: int
    reason: str
    content: str  # the event as it arrived (JSON)


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Consecutive events of one participant from one source, as one message carries them."""

    source: str
    study: str
    participant: str
    prev: int  # sequence number of the participant's previous event from the source, 0: none
    sent_ns: int  # wall clock of the publisher when it published the message
    events: tuple[SequencedEvent, ...]
    rejected: tuple[RejectedEvent, ...] = ()

    @property
    def last_seq(self) -> int:
        return max([e.seq for e in self.events] + [r.seq for r in self.rejected])


def batch_to_payload(
    source: str, prev: int, sent_ns: int, rows: Sequence[EventRow]
) -> tuple[str, bytes]:
    """``(topic, payload)`` of one message holding ``rows`` (stored events of one participant,
    in ``id`` order) from ``source``.

    Bodies are embedded as stored, without decoding: ``rows`` hold
    :func:`~stresstrack.store.codec.event_to_payload` output.
    """
    if not rows:
        raise ValueError("a message holds at least one event")
    _id, _type, _t, participant, study, _device, _body = rows[0]
    head = json.dumps(
        {
            "v": PAYLOAD_VERSION,
            "source": source,
            "study": study,
            "participant": participant,
            "prev": prev,
            "sent_ns": sent_ns,
        },
        separators=(",", ":"),
    )
    events = []
    for rid, type_name, time_ns, p, s, device, body in rows:
        if p != participant or s != study:
            raise ValueError(f"event {rid} is not of {study}/{participant}: one message each")
        events.append(f"[{rid},{json.dumps(type_name)},{time_ns},{json.dumps(device)},{body}]")
    payload = head[:-1] + ',"events":[' + ",".join(events) + "]}"
    return events_topic(study, participant), payload.encode("utf-8")


def _need(topic: str, data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise PayloadError(topic, f"field {key!r} missing or not {_kind_name(kind)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {int: "an integer", str: "a string", list: "a list", dict: "an object"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def batch_from_payload(topic: str, payload: bytes, *, now_ns: int | None = None) -> EventBatch:
    """Decode and check one message; :class:`PayloadError` names what is wrong.

    The topic must be the one :func:`events_topic` gives for the payload's study and
    participant; sequence numbers must increase and exceed ``prev``. An event outside the
    limits of :mod:`stresstrack.limits` (``now_ns``: the receiver's clock) does not spoil
    the message: it is returned in ``rejected`` with the reason.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(topic, f"{len(payload)} bytes (at most {MAX_PAYLOAD_BYTES})")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PayloadError(topic, f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PayloadError(topic, "not a JSON object")
    version = data.get("v")
    if version != PAYLOAD_VERSION:
        raise PayloadError(
            topic,
            f"payload version {version!r} is not supported (this stresstrack reads "
            f"{PAYLOAD_VERSION}); upgrade the workers",
        )
    source = _need(topic, data, "source", str)
    study = _need(topic, data, "study", str)
    participant = _need(topic, data, "participant", str)
    prev = _need(topic, data, "prev", int)
    sent_ns = _need(topic, data, "sent_ns", int)
    rows = _need(topic, data, "events", list)
    if not source:
        raise PayloadError(topic, "empty source")
    try:
        expected = events_topic(study, participant)
    except ValueError as exc:
        raise PayloadError(topic, str(exc)) from None
    if expected != topic:
        raise PayloadError(topic, f"events of {study}/{participant} belong on {expected}")
    if not rows:
        raise PayloadError(topic, "no events")
    if not 0 <= prev < 2**63 or len(source) > 256:
        raise PayloadError(topic, "prev must be 0 to 2^63-1 and the source at most 256 characters")
    events: list[SequencedEvent] = []
    rejected: list[RejectedEvent] = []
    last = prev
    for i, row in enumerate(rows):
        if not (isinstance(row, list) and len(row) == 5):
            raise PayloadError(topic, f"event {i}: not [seq, type, time_ns, device, body]")
        seq, type_name, time_ns, device, body = row
        if not (isinstance(seq, int) and isinstance(time_ns, int) and isinstance(device, str)):
            raise PayloadError(topic, f"event {i}: seq and time_ns must be integers, device text")
        if isinstance(seq, bool) or seq <= last or seq >= 2**63:
            raise PayloadError(topic, f"event {i}: sequence {seq} does not follow {last}")
        last = seq
        if type_name not in EVENT_TYPES or not isinstance(body, dict):
            reason = f"event {seq}: unknown type {type_name!r} or bad body"
            rejected.append(RejectedEvent(seq, reason, json.dumps(row)[:65_536]))
            continue
        try:
            event = event_from_payload(
                type_name, time_ns, participant, study, device, json.dumps(body), now_ns=now_ns
            )
        except EventError as exc:
            rejected.append(RejectedEvent(seq, f"event {seq}: {exc}", json.dumps(row)[:65_536]))
            continue
        events.append(SequencedEvent(seq, event))
    return EventBatch(source, study, participant, prev, sent_ns, tuple(events), tuple(rejected))


# -- broker ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Broker:
    """Where and how to connect: host, port, TLS (with an optional CA file), credentials."""

    host: str
    port: int = DEFAULT_PORT
    tls: bool = False
    ca_file: Path | None = None
    username: str | None = None
    password: str = field(default="", repr=False)

    def describe(self) -> str:
        """``mqtt://host:port`` or ``mqtts://...``; never holds credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{self.port}"

    def hide(self, text: str) -> str:
        """``text`` with the password replaced by ``***``."""
        return text.replace(self.password, "***") if len(self.password) >= 3 else text

    def tls_context(self) -> ssl.SSLContext:
        """Server certificate and host name verified (against ``ca_file`` or the system CAs)."""
        try:
            context = ssl.create_default_context(
                cafile=str(self.ca_file) if self.ca_file is not None else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise SettingError("MQTT CA file", f"{self.ca_file}: cannot load it ({exc})") from None
        context.sslsocket_class = _ClosingSSLSocket
        return context


class _ClosingSSLSocket(ssl.SSLSocket):
    """Closes itself when the handshake fails (paho-mqtt leaves it open)."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


def parse_broker_url(url: str, option: str = "broker URL") -> tuple[str, int, bool]:
    """``mqtt://HOST[:PORT]`` or ``mqtts://HOST[:PORT]`` to ``(host, port, tls)``.

    >>> parse_broker_url("mqtt://broker.lab")
    ('broker.lab', 1883, False)
    >>> parse_broker_url("mqtts://[::1]:8884")
    ('::1', 8884, True)
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise StressTrackError(
            f"{option} {url!r}: write mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (TLS)"
        )
    if parts.username is not None or parts.password is not None:
        raise StressTrackError(
            f"{option}: no credentials in the URL (it shows in process lists); give the user "
            f"name and the password apart (${PASSWORD_ENV} or a password file)"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise StressTrackError(f"{option} {url!r}: only a host and a port, no path")
    try:
        port = parts.port
    except ValueError:
        raise StressTrackError(f"{option} {url!r}: the port must be 1-65535") from None
    if not parts.hostname:
        raise StressTrackError(f"{option} {url!r}: no host")
    tls = _SCHEMES[scheme]
    default = DEFAULT_TLS_PORT if tls else DEFAULT_PORT
    return parts.hostname, port or default, tls
