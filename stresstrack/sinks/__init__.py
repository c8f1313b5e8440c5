"""Sinks: replicas of the store (InfluxDB) fed from its outbox, in store order."""

from stresstrack.sinks.influx import InfluxSink, SinkReport, sync_store
from stresstrack.sinks.influx_client import TOKEN_ENV, InfluxTarget, InfluxWriteError
from stresstrack.sinks.outbox import STREAMS, Batch, Outbox
from stresstrack.sinks.points import MEASUREMENTS

__all__ = [
    "MEASUREMENTS",
    "STREAMS",
    "TOKEN_ENV",
    "Batch",
    "InfluxSink",
    "InfluxTarget",
    "InfluxWriteError",
    "Outbox",
    "SinkReport",
    "sync_store",
]
