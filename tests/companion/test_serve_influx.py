"""``stresstrack serve --influx-*`` replicates the store to InfluxDB as ``collect`` does, through
the same replica (``stresstrack.cli.common.influx_follower`` under
``stresstrack.runtime.following``). Checked against the real influxd the tests start
(tests/servers.py): what it holds per measurement, counted by InfluxQL, equals what the store
makes; a SIGTERM stops serve only after the replica delivered everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from companion_support import (
    RESEARCHER_TOKEN,
    ServerThread,
    answers,
    enrol,
    free_port,
    gatt_items,
    send_batch,
    strap,
    strap_packets,
    write_study,
    ws_open,
)
from influx_adapter import InfluxAdapter
from servers import InfluxServer

from stresstrack.sinks import MEASUREMENTS
from stresstrack.sinks.influx_client import TOKEN_ENV
from stresstrack.sinks.outbox import point_counts
from stresstrack.store.sqlite import Store


def _influx_counts(server: InfluxServer, db: str) -> dict[str, int]:
    counts = {m: server.count(m, db=db) for m in MEASUREMENTS}
    return {m: n for m, n in counts.items() if n}


def _store_counts(path: Path) -> dict[str, int]:
    with Store(path, readonly=True) as store:
        return dict(point_counts(store))


def test_serve_replicates_to_influxdb(
    tmp_path: Path, influx_server: InfluxServer, influx_adapter: InfluxAdapter
) -> None:
    db = influx_server.reset_database("companion")
    study, store, port = write_study(tmp_path), tmp_path / "study.db", free_port()
    env = {**os.environ, "STRESSTRACK_RESEARCHER_TOKEN": RESEARCHER_TOKEN,
           TOKEN_ENV: influx_server.token, "PYTHONUNBUFFERED": "1"}  # fmt: skip
    cmd = [sys.executable, "-m", "stresstrack", "serve", "--study", str(study),
           "--store", str(store), "--port", str(port), "--baseline", "120",
           "--influx-url", influx_adapter.url, "--influx-bucket", db]  # fmt: skip
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = ServerThread(store, study, port)
    try:
        deadline = time.monotonic() + 60
        while not answers(server):
            assert time.monotonic() < deadline and proc.poll() is None, log_path.read_text()
            time.sleep(0.1)  # a poll interval inside a deadline
        token = enrol(server, "P001")
        packets = strap_packets(strap(), 200.0)  # past the 120 s baseline: stress rows too
        with ws_open(server, token) as ws:
            for i in range(0, len(packets), 100):
                items = gatt_items(packets[i : i + 100], first_seq=i + 1)
                assert send_batch(ws, items)["seq"] == i + len(items)
        expected = _store_counts(store)
        assert {"beat", "heart_rate", "features", "stress"} <= set(expected)
        # The replica follows the store while serve runs.
        deadline = time.monotonic() + 120
        while _influx_counts(influx_server, db) != expected:
            assert time.monotonic() < deadline, (_influx_counts(influx_server, db), expected)
            assert proc.poll() is None, log_path.read_text()
            time.sleep(0.2)  # a poll interval inside a deadline
        proc.send_signal(signal.SIGTERM)  # a service manager stopping it
        assert proc.wait(timeout=120) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log_path.read_text()
    assert "everything in the store is delivered" in text, text
    assert influx_server.token not in text and "P001" not in text
    assert _influx_counts(influx_server, db) == _store_counts(store)
