"""Local SQLite store: the embedded default, durable source of truth and replay source."""

from stresstrack.store.codec import event_from_payload, event_to_payload
from stresstrack.store.sqlite import SCHEMA_VERSION, Store, StoreError

__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "event_from_payload", "event_to_payload"]
