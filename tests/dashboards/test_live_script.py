"""deploy/stresstrack/live.sh under dash (Debian's /bin/sh, the image's too): a TERM reaches
every collector, which then exits; nothing is left running."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIVE = ROOT / "deploy" / "stresstrack" / "live.sh"

# A stand-in for the stresstrack command: "collect --help" advertises --influx-url; "collect"
# writes its PID, waits for TERM, notes it got it, and exits (a real collector closes its
# sessions there).
FAKE = """#!/bin/sh
if [ "$2" = "--help" ]; then echo "--influx-url"; exit 0; fi
trap 'echo term > "$OUT/$$.term"; exit 0' TERM
echo $$ > "$OUT/$$.pid"
while true; do sleep 0.05; done
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(shutil.which("dash") is None, reason="dash is Debian's /bin/sh")
def test_term_reaches_every_collector(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "stresstrack"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "OUT": str(tmp_path),
        "STRESSTRACK_INFLUX_URL": "http://influxdb:8086",
        "STRESSTRACK_INFLUX_BUCKET": "b",
        "STRESSTRACK_INFLUX_TOKEN": "t",
        "STRESSTRACK_PARTICIPANTS": "p1 p2 p3",
    }
    live = subprocess.Popen(["dash", str(LIVE)], env=env)
    deadline = time.monotonic() + 120  # a busy 2-core machine
    while len(list(tmp_path.glob("*.pid"))) < 3:
        assert time.monotonic() < deadline, "the collectors did not start"
        assert live.poll() is None
        time.sleep(0.05)
    pids = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
    try:
        live.send_signal(signal.SIGTERM)
        assert live.wait(timeout=120) == 0
        assert sorted(p.name for p in tmp_path.glob("*.term")) == sorted(f"{p}.term" for p in pids)
        deadline = time.monotonic() + 120
        while any(_alive(p) for p in pids):
            assert time.monotonic() < deadline, "a collector outlived live.sh"
            time.sleep(0.05)
    finally:  # a failing run leaves no stand-in behind
        for p in pids:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
        if live.poll() is None:
            live.kill()
