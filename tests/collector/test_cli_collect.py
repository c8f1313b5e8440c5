"""``stresstrack collect`` and ``stresstrack scan`` against simulated devices, in real time.

The two long runs (``--duration 5`` and SIGTERM after ~5 s) start together in subprocesses so
the module takes about as long as one of them.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from stresstrack.cli import main
from stresstrack.events import DeviceState, DeviceStatus, HeartRate, Marker, MarkerAction
from stresstrack.runtime.status import LiveStatus
from stresstrack.sensors.collector import CollectorStats
from stresstrack.store.sqlite import Store, StoreError

PROCESS_S = 180.0  # a subprocess starting, or stopping, on a busy 2-core machine

NS = 1_000_000_000


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "stresstrack", *args]


@dataclass
class Finished:
    code: int
    out: str
    err: str
    store: Path


def _start(tmp: Path, name: str, *extra: str) -> tuple[subprocess.Popen[str], Path]:
    store = tmp / f"{name}.db"
    proc = subprocess.Popen(
        _command("collect", "--participant", "p-01", "--simulate", "--store", str(store), *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return proc, store


def _wait_heart_rates(store: Path, n: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + PROCESS_S
    while True:
        try:
            with Store(store, readonly=True) as s:
                if sum(isinstance(e, HeartRate) for e in s.iter_events()) >= n:
                    return
        except StoreError:  # not created yet, or created and its tables not yet
            pass
        assert proc.poll() is None, "collect ended early"
        assert time.monotonic() < deadline, f"{n} heart rates not stored in {PROCESS_S:g} s"
        time.sleep(0.2)  # a poll interval inside a deadline


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Finished]:
    tmp = tmp_path_factory.mktemp("collect")
    timed, timed_store = _start(tmp, "timed", "--duration", "5")
    killed, killed_store = _start(tmp, "killed")
    assert killed.stdout is not None
    first = killed.stdout.readline()  # "collecting p-01: ..." once the devices are found
    assert first.startswith("collecting p-01: Sim HR p-01, Sim EDA p-01"), first
    _wait_heart_rates(killed_store, 4, killed)  # about 5 s of collection
    killed.send_signal(signal.SIGTERM)
    out, err = killed.communicate(timeout=PROCESS_S)
    results = {"killed": Finished(killed.returncode, first + out, err, killed_store)}
    out, err = timed.communicate(timeout=PROCESS_S)
    results["timed"] = Finished(timed.returncode, out, err, timed_store)
    return results


def _events(store: Path) -> list:  # type: ignore[type-arg]
    with Store(store, readonly=True) as s:
        assert s.integrity_check() == "ok"
        return list(s.iter_events())


def test_collect_simulate_for_5_seconds(runs: dict[str, Finished]) -> None:
    """--duration 5: exit 0, a summary, and a store with heart rate, beats, EDA and device
    statuses of the participant's simulated strap and EDA band."""
    run = runs["timed"]
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    assert "5 s elapsed: " in run.out and "events stored in" in run.out
    events = _events(run.store)
    kinds = Counter(type(e).__name__ for e in events)
    assert kinds["HeartRate"] >= 3 and kinds["Beat"] >= 3 and kinds["EdaSamples"] >= 15
    assert kinds["DeviceStatus"] >= 6
    assert {e.participant for e in events} == {"p-01"}
    statuses = [e for e in events if isinstance(e, DeviceStatus)]
    assert {s.detail for s in statuses if s.state is DeviceState.CONNECTED} >= {
        "heart-rate",
        "eda:stresstrack-eda-v1",
    }
    stopped = [s for s in statuses if s.state is DeviceState.DISCONNECTED]
    assert [s.detail for s in stopped] == ["stopped", "stopped"]


def test_sigterm_stops_cleanly_with_everything_stored(runs: dict[str, Finished]) -> None:
    """SIGTERM after ~5 s of collection: exit 0, sound store, one HR per second of collection
    (the strap notifies each second, the first one about 1.3 s after the start). Collection
    runs from the devices' connection to their stop, by the statuses collect stored (the test's
    own clock would count the time a busy machine takes to start collect and deliver the
    signal)."""
    run = runs["killed"]
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    assert "SIGTERM received: " in run.out
    events = _events(run.store)
    hr = [e for e in events if isinstance(e, HeartRate)]
    statuses = [e for e in events if isinstance(e, DeviceStatus) and e.device == hr[0].device]
    start = min(e.time_ns for e in statuses if e.state is DeviceState.CONNECTED)
    stop = max(e.time_ns for e in statuses if e.state is DeviceState.DISCONNECTED)
    ran_s = (stop - start) / 1e9
    assert abs(len(hr) - (ran_s - 1.3)) <= 1.5, (len(hr), ran_s)
    assert len(hr) == int(run.out.split(" hr,")[0].rsplit("(", 1)[1].split(",")[-1].split()[0])


def test_scan_simulate_lists_devices_with_their_profiles(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["scan", "--simulate", "--timeout", "0.6"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["address", "rssi", "name", "profiles"]
    rows = {line.split("  ")[0].strip(): line for line in lines[1:]}
    assert len(rows) == 4
    by_name = {r.split()[2]: r for r in rows.values()}
    assert by_name["Polar"].rstrip().endswith("heart-rate, polar-pmd")  # strongest: the H10
    assert lines[1].split()[1] == "-55"
    assert any(r.rstrip().endswith("eda:stresstrack-eda-v1") for r in rows.values())
    assert sum(r.rstrip().endswith("  heart-rate") for r in rows.values()) == 1


def test_unknown_simulated_device_is_a_clear_error() -> None:
    proc = subprocess.run(
        _command(
            "collect",
            "--participant",
            "p-02",
            "--simulate",
            "--device",
            "Nope 3000",
            "--scan-timeout",
            "0.5",
        ),
        capture_output=True,
        text=True,
        timeout=PROCESS_S,
        cwd=Path(__file__).parent,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(
        "stresstrack collect: error: device 'Nope 3000' not found among the simulated devices "
        "of p-02: Sim HR p-02 (F0:00:00:00:00:00), Sim EDA p-02 (E0:00:00:00:00:00), Polar H10"
    )
    assert "or name a kind: strap, eda-band, polar-h10, verity-sense" in proc.stderr
    assert not (Path(__file__).parent / "stresstrack.db").exists()  # nothing created


def test_protocol_phases_are_marked_and_prompted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--protocol: each phase is a session (start/stop markers) with its prompt printed, and
    collection ends with the protocol; a Polar H10 named by kind streams ECG meanwhile."""
    protocol = tmp_path / "two.toml"
    protocol.write_text(
        'name = "two"\n'
        '[[phase]]\nkind = "baseline"\nduration_s = 1.5\nprompt = "Sit quietly."\n'
        '[[phase]]\nkind = "self-care"\nduration_s = 2\nmode = "solo"\n'
        'prompt = "Apply the serum."\n'
    )
    store = tmp_path / "p.db"
    args = ["collect", "--participant", "p-03", "--simulate", "--device", "polar-h10"]
    assert main([*args, "--store", str(store), "--protocol", str(protocol)]) == 0
    out = capsys.readouterr().out
    assert "phase 1/2: baseline (0.025 min): Sit quietly." in out
    assert "phase 2/2: self-care (0.0333333 min): Apply the serum." in out
    assert "protocol finished: " in out
    events = _events(store)
    marks = [(e.action, e.kind) for e in events if isinstance(e, Marker)]
    assert marks == [
        (MarkerAction.START, "baseline"),
        (MarkerAction.STOP, "baseline"),
        (MarkerAction.START, "self-care"),
        (MarkerAction.STOP, "self-care"),
    ]
    kinds = Counter(type(e).__name__ for e in events)
    assert kinds["Waveform"] >= 3  # ECG from the H10


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@dataclass
class _FakeCollector:
    stats: CollectorStats


def test_live_status_redraws_in_place_on_a_terminal() -> None:
    stats = CollectorStats(
        connects=3, disconnects=2, notifications=120, bad_packets=1, connected=True
    )
    stats.battery_pct, stats.last_data_ns, stats.moving = 87, 10 * NS, False
    screen = _Tty()
    status = LiveStatus([("Polar H10 1A2B3C4D", _FakeCollector(stats))], screen)  # type: ignore[list-item]
    status.refresh(10 * NS + 400_000_000)
    status.refresh(11 * NS)
    text = screen.getvalue()
    first, second = text.split("\x1b[2F\x1b[J")  # the 2-line table is erased before redraw
    assert first.splitlines()[1].split() == [
        "Polar", "H10", "1A2B3C4D", "up", "87%", "unsupported", "still", "0.4s", "120", "1", "2"
    ]  # fmt: skip
    assert second.splitlines()[1].split()[7] == "1.0s"


def test_live_status_logs_lines_when_not_a_terminal() -> None:
    stats = CollectorStats(connects=0, last_error="Polar: device not found")
    log = io.StringIO()
    ticks = iter([100.0, 101.0, 111.0])
    status = LiveStatus([("strap", _FakeCollector(stats))], log, clock=lambda: next(ticks))  # type: ignore[list-item]
    for now in (1, 2, 3):
        status.refresh(now * NS)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2  # at most one report per 10 s
    assert lines[0].endswith(
        "strap: disconnected (Polar: device not found), battery unknown, contact unsupported, "
        "last data - ago, 0 packets, 0 bad, 0 reconnects"
    )


CROSSOVER = """\
name = "tiny-crossover"
[design]
conditions = ["self-care", "rest"]
control = "rest"
[[phase]]
kind = "baseline"
duration_s = 1
[[phase]]
block = "A"
kind = "self-care"
duration_s = 1
mode = "solo"
[[phase]]
block = "B"
kind = "rest"
duration_s = 1
"""


def test_protocol_follows_each_participants_counterbalanced_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--protocol with a counterbalanced design and --study: the study file's first participant
    follows self-care then rest, the second rest then self-care; each order is recorded in the
    store (what `analyze` reads for the period terms) and is the order of the session markers."""
    from stresstrack.session.study import store_orders

    protocol = tmp_path / "crossover.toml"
    protocol.write_text(CROSSOVER)
    study = tmp_path / "study.toml"
    study.write_text(
        '[study]\nname = "s"\n[[participant]]\nid = "P01"\n[[participant]]\nid = "P02"\n'
    )
    store = tmp_path / "s.db"
    for pid in ("P01", "P02"):
        args = ["collect", "--participant", pid, "--simulate", "--store", str(store)]
        assert main([*args, "--protocol", str(protocol), "--study", str(study)]) == 0
    out = capsys.readouterr().out
    assert "order of conditions: self-care, rest" in out
    assert "order of conditions: rest, self-care" in out
    with Store(store, readonly=True) as s:
        assert store_orders(s) == {"P01": ("self-care", "rest"), "P02": ("rest", "self-care")}
    events = sorted((e for e in _events(store) if isinstance(e, Marker)), key=lambda e: e.time_ns)
    starts = {
        pid: [e.kind for e in events if e.participant == pid and e.action is MarkerAction.START]
        for pid in ("P01", "P02")
    }
    assert starts == {
        "P01": ["baseline", "self-care", "rest"],
        "P02": ["baseline", "rest", "self-care"],
    }
