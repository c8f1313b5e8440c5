"""``stresstrack mark`` from a second process while ``collect --simulate`` runs: the marker
is in the store, reaches the live pipeline (live results equal a replay of the store), is
shipped to a real InfluxDB by the replica tailing the store, and is on the report."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from influx_adapter import InfluxAdapter
from servers import InfluxServer

from stresstrack.cli import main
from stresstrack.events import Marker, MarkerAction
from stresstrack.report import render_report
from stresstrack.sinks.influx import InfluxSink
from stresstrack.sinks.influx_client import InfluxTarget
from stresstrack.sinks.points import device_pseudonym
from stresstrack.store.sqlite import Store

# Short windows so that a 10 s collection has feature rows to compare with the replay.
PIPELINE = ["--hrv-window", "5", "--eda-window", "5", "--hop", "1", "--slow-hop", "5",
            "--baseline", "12"]  # fmt: skip


def _stresstrack(*args: str) -> list[str]:
    return [sys.executable, "-m", "stresstrack", *args]


def _mark(store: Path, action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _stresstrack("mark", action, "--participant", "p-01", "--kind", "self-care",
                     "--mode", "solo", "--label", "serum", "--store", str(store)),
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def _wait_for_data_after(
    store: Path, time_ns: int, collect: subprocess.Popen[str], deadline_s: float = 120.0
) -> None:
    """Poll the store until the collector stored an event later than ``time_ns``."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert collect.poll() is None, "collect stopped early"
        with Store(store, readonly=True) as s:
            if any(e.time_ns > time_ns for e in s.iter_events() if not isinstance(e, Marker)):
                return
        time.sleep(0.2)  # a poll interval inside a deadline, not a wait for something to happen
    raise AssertionError(f"no data after {time_ns} in {deadline_s:g} s")


def _start_collect(store: Path, pipeline: list[str] = PIPELINE) -> subprocess.Popen[str]:
    """``collect --simulate`` in a subprocess, once it said it started."""
    collect = subprocess.Popen(
        _stresstrack("collect", "--participant", "p-01", "--simulate", "--store", str(store),
                     *pipeline),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert collect.stdout is not None
    first = collect.stdout.readline()
    if not first.startswith("collecting p-01"):
        collect.kill()
        raise AssertionError(first + collect.communicate()[1])
    return collect


class _Bands(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.bands: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "rect" and a.get("class") == "session-band":
            self.bands.append(a)


@pytest.mark.slow
def test_mark_from_another_process_during_collect(
    tmp_path: Path, influx_server: InfluxServer, influx_adapter: InfluxAdapter
) -> None:
    store = tmp_path / "live.db"
    Store(store).close()  # created before the replica starts following it
    db = influx_server.reset_database("marks")
    target = InfluxTarget(url=influx_adapter.url, bucket=db, token=influx_server.token)
    sink = InfluxSink(store, target, poll_s=0.1)
    sink.start()
    collect = _start_collect(store)
    try:
        # No fixed sleeps: each step waits for the collector's data to reach the store.
        _wait_for_data_after(store, 0, collect)
        before_start = time.time_ns()
        started = _mark(store, "start")
        assert started.returncode == 0, started.stderr
        _wait_for_data_after(store, before_start + 2 * 10**9, collect)
        stopped = _mark(store, "stop")
        after_stop = time.time_ns()
        assert stopped.returncode == 0, stopped.stderr
        _wait_for_data_after(store, after_stop + 6 * 10**9, collect)  # windows after the stop
        collect.send_signal(signal.SIGTERM)  # a clean stop, as Ctrl-C or a service manager
        out, err = collect.communicate(timeout=120)
    finally:
        if collect.poll() is None:
            collect.kill()
            collect.communicate()
    assert collect.returncode == 0, err
    assert sink.drain(120.0)
    report = sink.close(5.0)
    assert report.delivered

    # The store holds both markers, between the collector's own events.
    with Store(store, readonly=True) as s:
        events = list(s.iter_events())
        live = (s.features(), s.stress(), s.sessions())
    marks = [e for e in events if isinstance(e, Marker)]
    assert [(m.action, m.kind, m.mode, m.label, m.device) for m in marks] == [
        (MarkerAction.START, "self-care", "solo", "serum", "mark"),
        (MarkerAction.STOP, "self-care", "solo", "serum", "mark"),
    ]
    assert events.index(marks[0]) > 0 and events.index(marks[1]) < len(events) - 1
    start_ns, stop_ns = marks[0].time_ns, marks[1].time_ns
    assert before_start <= start_ns and stop_ns <= after_stop  # stamped while each command ran
    assert stop_ns - start_ns > 2e9

    # The live pipeline saw them: its session, and results identical to a replay of the store.
    (session,) = live[2]
    assert (session.kind, session.start_ns, session.end_ns) == ("self-care", start_ns, stop_ns)
    assert "feature/stress/session rows computed" in out
    assert len(live[0]) >= 3 and any(f.values.get("scl_us") is not None for f in live[0])
    replayed = tmp_path / "replayed.db"
    assert main(["replay", str(store), "--store", str(replayed), *PIPELINE]) == 0
    with Store(replayed, readonly=True) as r:
        assert (r.features(), r.stress(), r.sessions()) == live

    # InfluxDB holds the markers (the replica ships every stored event).
    # Device tags are pseudonymised per study in InfluxDB (docs/schema.md).
    tag = device_pseudonym(marks[0].study, "mark")
    rows = influx_server.rows(f'SELECT * FROM "marker" WHERE "device" = \'{tag}\'', db=db)
    assert sorted((r["time"], r["action"], r["kind"], r["label"]) for r in rows) == [
        (start_ns, "start", "self-care", "serum"),
        (stop_ns, "stop", "self-care", "serum"),
    ]

    # And the report shades the session.
    with Store(store, readonly=True) as s:
        page = render_report(s, tmp_path / "report.html")
    parser = _Bands()
    parser.feed(page.read_text(encoding="utf-8"))
    assert [(b["data-kind"], b["data-open"]) for b in parser.bands] == [("self-care", "false")]


def _open_session(store: Path, kind: str) -> bool:
    with Store(store, readonly=True) as s:
        return any(x.kind == kind and x.end_ns is None for x in s.sessions("p-01"))


@pytest.mark.slow
def test_mark_reaches_collects_live_pipeline_within_a_second(tmp_path: Path) -> None:
    """The open session of a ``mark start`` is in collect's live results (stored by its
    pipeline) less than 1 s after ``mark`` ended (collect flushes every 0.5 s); collect's live
    view shows the participant's HR, RMSSD, SCL and stress index as the pipeline stored them."""
    store = tmp_path / "live.db"
    Store(store).close()
    # An index after 60 s of data (a 60-s baseline of three whole 20-s windows); without the
    # Kubios correction's look-ahead (91 beats) rows come as soon as their windows are full.
    collect = _start_collect(store, [
        "--hrv-window", "20", "--eda-window", "20", "--hop", "2", "--slow-hop", "10",
        "--baseline", "60", "--baseline-settle", "0", "--artefact-correction", "none",
    ])  # fmt: skip
    try:
        _wait_for_data_after(store, 0, collect)
        marked = _mark(store, "start")
        assert marked.returncode == 0, marked.stderr
        ended = time.monotonic()
        while not _open_session(store, "self-care"):
            assert collect.poll() is None, "collect stopped early"
            assert time.monotonic() - ended < 1.0, "the marker took over 1 s to reach collect"
            time.sleep(0.02)  # a poll interval inside a deadline
        seen_ns, waited = time.time_ns(), time.monotonic() - ended
        with Store(store, readonly=True) as s:
            (session,) = [x for x in s.sessions("p-01") if x.kind == "self-care"]
        print(
            f"in collect's live pipeline {waited:.2f} s after mark ended, "
            f"{(seen_ns - session.start_ns) / 1e9:.2f} s after it was invoked"
        )
        # The live view (a status line every 10 s when not on a terminal) shows the newest HR,
        # RMSSD, SCL and stress index: wait for a line with all four.
        line = _physiology_line(collect)
    finally:
        collect.terminate()
        collect.communicate(timeout=120)
    with Store(store, readonly=True) as s:
        features, stress = s.features("p-01"), s.stress("p-01")
    # Each value shown is one the pipeline computed (same rounding as the view).
    shown = {
        (
            f"{f.values['mean_hr_bpm']:.0f}",
            f"{f.values['rmssd_ms']:.1f}",
            f"{f.values['scl_us']:.2f}",
        )
        for f in features
        if None not in (f.values.get(k) for k in ("mean_hr_bpm", "rmssd_ms", "scl_us"))
    }
    assert line[:3] in shown and line[3] in {f"{r.index:.0f}" for r in stress if r.index}


LIVE_LINE = re.compile(r"p-01: HR (\d+) bpm · RMSSD ([\d.]+) ms · SCL ([\d.]+) µS · stress (\d+)")


def _physiology_line(collect: subprocess.Popen[str]) -> tuple[str, ...]:
    """The first live-view line of collect's output with HR, RMSSD, SCL and stress."""
    assert collect.stdout is not None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        text = collect.stdout.readline()
        assert text, "collect ended"
        if found := LIVE_LINE.search(text):
            return found.groups()
    raise AssertionError("no live line with HR, RMSSD, SCL and stress")
