"""Local SQLite store: the embedded default, durable source of truth, replay source and outbox."""

from stresstrack.store.codec import event_from_payload, event_to_payload
from stresstrack.store.sqlite import (
    RESULT_TABLES,
    SCHEMA_VERSION,
    DeadLetter,
    EventRow,
    Store,
    StoreError,
)

__all__ = [
    "RESULT_TABLES",
    "SCHEMA_VERSION",
    "DeadLetter",
    "EventRow",
    "Store",
    "StoreError",
    "event_from_payload",
    "event_to_payload",
]
