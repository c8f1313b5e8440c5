"""Issue 16, item 6: replays run again, killed, or failed leave the store as it should be.

On commit 317c45e a finished replay run again added every raw event a second time (+29,056),
a replay killed mid-copy and restarted added 2,477, a parallel replay killed with SIGKILL left
its pool workers blocked for ever and its ``.OUT.db.parts-*`` folders of health data behind,
and a failed replay left an empty store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stresstrack.cli import main
from stresstrack.store.sqlite import Store

T0 = 1_767_603_600


def _recording(folder: Path, seconds: int, offset: int = 0) -> Path:
    folder.mkdir(parents=True)
    rr = [f"{T0 + offset + k * 0.8:.1f},{800 + (k % 7) * 10}" for k in range(int(seconds / 0.8))]
    (folder / "rr.csv").write_text("time,rr_ms\n" + "\n".join(rr) + "\n", encoding="utf-8")
    return folder


def _counts(path: Path) -> tuple[int, int, int]:
    with Store(path, readonly=True) as s:
        return s.count("events"), s.count("features"), s.count("stress")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_replay_run_again_adds_nothing(tmp_path: Path, workers: str) -> None:
    for name in ("p-1", "p-2", "p-3"):
        _recording(tmp_path / "rec" / name, 300)
    out = tmp_path / "o.db"
    argv = ["replay", str(tmp_path / "rec"), "--store", str(out), "--workers", workers]
    assert main(argv) == 0
    first = _counts(out)
    assert first[0] == 3 * 375 and first[2] > 0
    assert main(argv) == 0
    assert _counts(out) == first
    # Half of it stored (a run killed mid-copy), then the whole run again: each event once.
    with Store(out) as s, Store(tmp_path / "half.db") as half:
        half.add_events(list(s.iter_events())[: first[0] // 2])
    argv[3] = str(tmp_path / "half.db")
    assert main(argv) == 0
    assert _counts(tmp_path / "half.db")[0] == first[0]


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    return [int(x) for x in text.split()]


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has exited


def test_a_killed_parallel_replay_leaves_no_workers_and_no_temporary_stores(
    tmp_path: Path,
) -> None:
    for name in ("p-1", "p-2"):
        _recording(tmp_path / "rec" / name, 600)
    out = tmp_path / "o.db"
    cmd = [sys.executable, "-m", "stresstrack", "replay", str(tmp_path / "rec"), "--store",
           str(out), "--workers", "2", "--speed", "10"]  # fmt: skip
    replay = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while time.monotonic() < deadline and not (
            len(workers) >= 2 and list(tmp_path.glob(".o.db.parts-*/*.db"))
        ):
            workers = [c for c in _children(replay.pid) if not _gone(c)]
            time.sleep(0.05)
        parts = list(tmp_path.glob(".o.db.parts-*"))
        assert parts and len(workers) >= 2, "the parallel replay did not start its workers"
        os.kill(replay.pid, signal.SIGKILL)
        replay.wait(120)
        deadline = time.monotonic() + 120  # the orphaned workers notice and clean up
        while time.monotonic() < deadline and not (
            all(_gone(w) for w in workers) and not list(tmp_path.glob(".o.db.parts-*"))
        ):
            time.sleep(0.05)
        assert [w for w in workers if not _gone(w)] == []
        assert list(tmp_path.glob(".o.db.parts-*")) == []
    finally:
        if replay.poll() is None:
            replay.kill()
            replay.wait()


def test_a_failed_replay_leaves_no_empty_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "p-1"
    bad.mkdir()
    (bad / "rr.csv").write_text("time,rr_ms\n1767603600,oops\n", encoding="utf-8")
    out = tmp_path / "new.db"
    assert main(["replay", str(bad), "--store", str(out)]) == 2
    assert "'oops' is not a number" in capsys.readouterr().err
    assert not out.exists()
