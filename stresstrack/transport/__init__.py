"""MQTT between collectors and pipeline workers (docs/mqtt.md)."""

from stresstrack.transport.connection import Connection
from stresstrack.transport.mqtt import (
    PARTITIONS,
    PASSWORD_ENV,
    PAYLOAD_VERSION,
    Broker,
    EventBatch,
    PayloadError,
    SequencedEvent,
    batch_from_payload,
    batch_to_payload,
    events_topic,
    parse_broker_url,
    parse_worker,
    worker_filters,
    worker_of,
)
from stresstrack.transport.publisher import Publisher, PublisherReport, PublisherStats
from stresstrack.transport.worker import Worker, WorkerStats

__all__ = [
    "PARTITIONS",
    "PASSWORD_ENV",
    "PAYLOAD_VERSION",
    "Broker",
    "Connection",
    "EventBatch",
    "PayloadError",
    "Publisher",
    "PublisherReport",
    "PublisherStats",
    "SequencedEvent",
    "Worker",
    "WorkerStats",
    "batch_from_payload",
    "batch_to_payload",
    "events_topic",
    "parse_broker_url",
    "parse_worker",
    "worker_filters",
    "worker_of",
]
