"""Outages and crashes: InfluxDB down for 30+ s during a study, the pipeline killed with -9.

Both use their own influxd (tests/servers.py), since they stop it or fill it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from influx_adapter import InfluxAdapter
from influx_checks import distinct_series_times, influx_counts, store_counts
from servers import InfluxServer, require_binary

from stresstrack.backoff import Backoff
from stresstrack.pipeline import Pipeline
from stresstrack.session.protocol import Protocol
from stresstrack.session.recorder import Recorder
from stresstrack.simulators.study import StudyPlan, simulate_study
from stresstrack.sinks import TOKEN_ENV, InfluxSink, InfluxTarget, sync_store
from stresstrack.store import Store

OUTAGE_S = 30.0


@pytest.fixture
def own_influx(tmp_path: Path) -> Iterator[tuple[InfluxServer, InfluxAdapter]]:
    server = InfluxServer(tmp_path / "influxd", require_binary("influxd", "/usr/bin/influxd"))
    server.start()
    adapter = InfluxAdapter(server.url).start()
    try:
        yield server, adapter
    finally:
        adapter.stop()
        server.stop()


class _PacedRecorder(Recorder):
    """Stops InfluxDB once a share of the study is stored (the outage starts mid-run)."""

    def __init__(self, store: Store, at_events: int, on_reach: threading.Event) -> None:
        super().__init__(store, Pipeline())
        self.at_events = at_events
        self.on_reach = on_reach

    def flush(self) -> None:
        super().flush()
        if self.events >= self.at_events:
            self.on_reach.set()


@pytest.mark.slow
def test_influxdb_down_30s_during_a_10_participant_study_loses_nothing(
    tmp_path: Path,
    own_influx: tuple[InfluxServer, InfluxAdapter],
    short_protocol: Protocol,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, adapter = own_influx
    path = tmp_path / "study.db"
    store = Store(path)
    target = InfluxTarget(url=adapter.url, bucket=server.database, token=server.token, raw=True)
    sink = InfluxSink(path, target, batch_points=2000, backoff=Backoff(first_s=0.25, max_s=4.0))
    sink.start()
    stop_now = threading.Event()
    stopped_at: list[float] = []

    def outage() -> None:
        stop_now.wait()
        server.stop()
        stopped_at.append(time.monotonic())

    killer = threading.Thread(target=outage)
    killer.start()
    plan = StudyPlan(participants=10, seed=3, protocol=short_protocol)
    recorder = _PacedRecorder(store, at_events=8000, on_reach=stop_now)
    simulate_study(plan, recorder)
    recorder.close()
    stop_now.set()
    killer.join()
    # The run is over while InfluxDB is down: the command's exit status line.
    assert not sink.drain(1.0)
    report = sink.report()
    assert report.shipped_points > 0  # some went before the outage
    assert report.queued_points > 0
    assert report.summary().startswith(
        f"InfluxDB unreachable, {report.queued_points} points queued in {path} ("
    )
    assert "retrying, the data is kept in the store" in caplog.text
    # Keep it down for the full outage, then bring it back: the running sink catches up.
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at[0])))
    outage_s = time.monotonic() - stopped_at[0]
    server.start()
    assert sink.drain(60.0)
    final = sink.close(5.0)
    store.close()
    assert outage_s >= OUTAGE_S
    assert final.delivered and final.dead_points == 0
    points, distinct = distinct_series_times(path, raw=True)
    assert points == distinct  # no two events share a series and timestamp
    expected = store_counts(path, raw=True)
    assert sum(expected.values()) == points
    assert influx_counts(server, server.database) == expected
    participants = server.rows('SHOW TAG VALUES FROM "beat" WITH KEY = "participant"')
    assert [r["value"] for r in participants] == plan.participant_ids()


SHORT_TOML = """
name = "crash"
[[phase]]
kind = "baseline"
minutes = 4
[[phase]]
kind = "self-care"
minutes = 4
"""


@pytest.mark.slow
def test_pipeline_killed_mid_run_then_sync_delivers_everything(
    tmp_path: Path, own_influx: tuple[InfluxServer, InfluxAdapter]
) -> None:
    server, adapter = own_influx
    (tmp_path / "crash.toml").write_text(SHORT_TOML, encoding="utf-8")
    out = tmp_path / "demo"
    store = out / "stresstrack.db"
    influx = ["--influx-url", adapter.url, "--influx-bucket", server.database]
    env = {**os.environ, TOKEN_ENV: server.token}
    cmd = [sys.executable, "-m", "stresstrack.cli", "demo", "--out", str(out)]
    cmd += ["--participants", "8", "--protocol", str(tmp_path / "crash.toml"), *influx]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill it once the sink has delivered something and the simulation is still running.
    deadline = time.monotonic() + 180  # a busy 2-core machine starting the demo
    while time.monotonic() < deadline and proc.poll() is None:
        if adapter.stats.statuses.count(204) >= 10:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the demo finished before it could be killed"
    assert adapter.stats.statuses.count(204) >= 10, "the sink delivered nothing in 180 s"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Store(store, readonly=True) as s:
        assert s.integrity_check() == "ok"
        assert s.count("events") > 0
    expected = store_counts(store)
    result = subprocess.run(
        [sys.executable, "-m", "stresstrack.cli", "sync", str(store), *influx],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "everything in the store is delivered" in result.stdout
    assert influx_counts(server, server.database) == expected
    with Store(store) as s:  # opens for writing too, and nothing is left in the outbox
        assert s.integrity_check() == "ok"
    report = sync_store(
        store, InfluxTarget(url=adapter.url, bucket=server.database, token=server.token)
    )
    assert report.delivered and report.shipped_points == 0
