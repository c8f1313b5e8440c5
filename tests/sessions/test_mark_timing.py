"""``stresstrack mark`` stamps the moment it was invoked, before any heavy import (that it
reaches a running ``collect`` within a second: tests/sessions/test_mark_during_collect.py).

Independent reference: CPython's audit hook (``import`` events, raised when a module is
first loaded) timestamps every import of the ``mark`` process from outside our code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from stresstrack.events import Marker
from stresstrack.store.sqlite import Store

# Run as the console script runs it (stresstrack.cli:main with sys.argv), with an audit hook
# installed first that notes when each module starts loading.
PROBE = """
import json, sys, time
started = time.time_ns()
loaded = {}
def hook(event, args):
    if event == "import" and args[0] not in loaded:
        loaded[args[0]] = time.time_ns()
sys.addaudithook(hook)
from stresstrack.cli import main
sys.argv = ["stresstrack", *sys.argv[1:]]
code = main()
print(json.dumps({"started": started, "loaded": loaded}))
sys.exit(code)
"""
HEAVY = ("numpy", "pandas", "scipy", "neurokit2", "bleak", "sqlite3", "stresstrack.store")


def _mark(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", PROBE, "mark", *args, "--participant", "p-01",
           "--kind", "breathing", "--store", str(store)]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_mark_stamps_before_heavy_imports(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    Store(store).close()
    done = _mark(store, "start", "--allow-unknown")
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    loaded: dict[str, int] = probe["loaded"]
    with Store(store, readonly=True) as s:
        (marker,) = [e for e in s.iter_events() if isinstance(e, Marker)]
    heavy = {m: t for m, t in loaded.items() if any(m == h or m.startswith(h + ".") for h in HEAVY)}
    assert "stresstrack.store.sqlite" in heavy  # mark does load the store, after the stamp
    assert marker.time_ns < min(heavy.values()), sorted(heavy.items(), key=lambda x: x[1])[:3]
    # mark never loads the scientific stack at all.
    assert not {"numpy", "pandas", "scipy", "neurokit2", "bleak"} & set(loaded)
    print(f"stamped {(marker.time_ns - probe['started']) / 1e6:.0f} ms after the interpreter ran")
