"""Marker strings sent by a pylsl outlet, as PsychoPy sends them, during ``collect``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pylsl
import pytest

from stresstrack.cli import main
from stresstrack.errors import StressTrackError
from stresstrack.events import EventIds, Marker, MarkerAction
from stresstrack.lsl.inlet import LslClock, marker_from_text, parse_marker_rule
from stresstrack.store.sqlite import Store, StoreError

NS = 1_000_000_000
DEADLINE_S = 120.0  # generous: a busy 2-core machine (CI)
PIPELINE = ["--hrv-window", "5", "--eda-window", "5", "--hop", "1", "--slow-hop", "5",
            "--baseline", "12"]  # fmt: skip
STUDY = """
[study]
name = "lsl-study"

[[participant]]
id = "p-01"
consent_date = 2026-01-05
consent_version = "v1"

[lsl.markers]
"selfcare_start" = "start self-care solo serum-massage"
"selfcare_end" = "stop self-care solo serum-massage"
"""


def _markers(store: Path) -> list[Marker]:
    try:
        with Store(store, readonly=True) as s:
            return [e for e in s.iter_events() if isinstance(e, Marker)]
    except StoreError:  # not created yet, or created and its tables not yet
        return []


def _wait_markers(store: Path, n: int, proc: subprocess.Popen[str]) -> list[Marker]:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline and proc.poll() is None:
        marks = _markers(store)
        if len(marks) >= n:
            return marks
        time.sleep(0.2)  # polling the store, bounded by the deadline
    raise AssertionError(f"{n} markers not stored within {DEADLINE_S:g} s")


@pytest.mark.slow
def test_psychopy_markers_become_sessions_in_store_and_live_pipeline(tmp_path: Path) -> None:
    """A PsychoPy-style outlet (type Markers, one string channel, irregular rate) sends
    ``selfcare_start`` then ``selfcare_end`` while ``collect --lsl-markers`` records a
    simulated participant: the store holds the mapped markers at the sending times (UTC), the
    live pipeline's session spans them, and a replay of the store gives the same results."""
    study = tmp_path / "study.toml"
    study.write_text(STUDY, encoding="utf-8")
    store = tmp_path / "live.db"
    name = f"psychopy-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, name)
    outlet = pylsl.StreamOutlet(info)
    collect = subprocess.Popen(
        [sys.executable, "-m", "stresstrack", "collect", "--participant", "p-01", "--simulate",
         "--study", str(study), "--store", str(store), "--lsl-markers", name,
         "--duration", "120", *PIPELINE],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert outlet.wait_for_consumers(DEADLINE_S), "collect did not subscribe"
        sent_start = time.time_ns()
        outlet.push_sample(["selfcare_start"])
        (start,) = _wait_markers(store, 1, collect)
        outlet.push_sample(["trial 3"])  # not in the table: a point event
        outlet.push_sample(["selfcare_end"])
        sent_end = time.time_ns()
        marks = _wait_markers(store, 3, collect)
        collect.send_signal(signal.SIGINT)
        out, err = collect.communicate(timeout=DEADLINE_S)
        assert "LSL" in out
    finally:
        if collect.poll() is None:
            collect.kill()
            collect.communicate()
    assert collect.returncode == 0, err
    device = f"lsl:{name}"
    assert [(m.action, m.kind, m.mode, m.label, m.device) for m in marks] == [
        (MarkerAction.START, "self-care", "solo", "serum-massage", device),
        (MarkerAction.EVENT, "trial 3", "", "", device),
        (MarkerAction.STOP, "self-care", "solo", "serum-massage", device),
    ]
    # The sending time, through LSL's clock, on the wall clock (within scheduling noise).
    assert abs(start.time_ns - sent_start) < 0.5 * NS
    assert abs(marks[2].time_ns - sent_end) < 0.5 * NS

    with Store(store, readonly=True) as s:
        live = (s.features(), s.stress(), s.sessions())
        assert s.meta("study") == "lsl-study"
    (session,) = live[2]
    assert (session.kind, session.mode, session.label) == ("self-care", "solo", "serum-massage")
    assert (session.start_ns, session.end_ns) == (start.time_ns, marks[2].time_ns)
    replayed = tmp_path / "replayed.db"
    assert main(["replay", str(store), "--store", str(replayed), *PIPELINE]) == 0
    with Store(replayed, readonly=True) as r:
        assert (r.features(), r.stress(), r.sessions()) == live


def test_marker_rules_and_fallback() -> None:
    """Mapped strings take the rule's fields; others read as in XDF files."""
    rules = {"go": parse_marker_rule("start stressor solo tsst", "t")}
    ids = EventIds(participant="p", study="s", device="lsl:x")
    clock = LslClock(lsl_s=10.0, utc_ns=1_000 * NS)

    def marker(text: str, at: float) -> Marker | None:
        return marker_from_text(text, at, rules=rules, ids=ids, clock=clock, stream="x")

    go = marker("go", 12.0)
    assert go is not None
    assert (go.action, go.kind, go.mode, go.label, go.time_ns) == (
        MarkerAction.START, "stressor", "solo", "tsst", 1_002 * NS,
    )  # fmt: skip
    end = marker("recovery end", 13.0)
    assert end is not None and (end.action, end.kind) == (MarkerAction.STOP, "recovery")
    assert marker("   ", 13.0) is None
    with pytest.raises(StressTrackError, match="must be"):
        parse_marker_rule("begin", "study.toml [lsl.markers]")
