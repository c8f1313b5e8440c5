"""The cohort dashboard at scale: every cohort query's time on influxd holding 1000
participants x 8 h, and the points one participant-hour makes.

Run: python benchmarks/cohort_scale.py [--participants 1000] [--hours 8] [--points-only]

1. Points per participant-hour: one simulated participant for an hour through the real
   pipeline and store (simulate_study -> Recorder -> Store), counted by measurement as the
   InfluxDB sink would ship them (``store_points``): by default (raw signal samples stay in
   the store) and with ``--influx-raw``.
2. Scale: starts its own influxd 1.x (tests/servers.py) and writes, per participant, what the
   cohort dashboard reads: ``stress`` and ``features`` rows at the pipeline's 5-s hop, a
   ``device_status`` per device every 10 min, four sessions (the last one open), then the
   downsampled series of ``stresstrack influx setup`` (its backfill statements). Raw signal
   samples are not written: no cohort query reads them (docs/schema.md, downsampling).
   Every cohort panel, variable and annotation query is then run as Grafana sends it
   (``$timeFilter`` over the last 8 h; "Now" panels over their 15 min): the first run and the
   best of 3, with the answer's series, points and size. Target: each < 1 s (a 10-s refresh).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from influx_sink import _load  # benchmarks/influx_sink.py: a tests/ module by path

from stresstrack.dashboards import build_dashboards
from stresstrack.dashboards.downsampling import DOWNSAMPLED, backfill_statement
from stresstrack.dashboards.influxql import TimeRange, interpolate
from stresstrack.dashboards.provisioning import dashboard_json
from stresstrack.pipeline import Pipeline
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.session.recorder import Recorder
from stresstrack.simulators.study import StudyPlan, simulate_study
from stresstrack.sinks.outbox import store_points
from stresstrack.store import Store

S = 1_000_000_000
HOP_S = 5
STUDY = "scale"


def points_per_participant_hour() -> collections.Counter[str]:
    protocol = Protocol(
        "hour",
        (Phase("baseline", 900.0), Phase("stressor", 900.0), Phase("self-care", 900.0,
         mode="solo", label="bench"), Phase("recovery", 900.0)),
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as d, Store(Path(d) / "one.db") as store:
        recorder = Recorder(store, Pipeline())
        simulate_study(StudyPlan(participants=1, seed=5, protocol=protocol), recorder)
        recorder.close()
        points = store_points(store, raw=True)
        return collections.Counter(line.split(",", 1)[0] for line in points)


def participant_lines(k: int, t0_s: int, hours: float, rng: np.random.Generator) -> list[str]:
    pid = f"p-{k:04d}"
    tags = f"participant={pid},study={STUDY}"
    n = int(hours * 3600 / HOP_S)
    stress = np.clip(50 + np.cumsum(rng.normal(0, 1.5, n)), 0, 100)
    out = []
    for i in range(n):
        t = (t0_s + i * HOP_S) * S
        out.append(
            f"stress,{tags} stress_index={stress[i]:.3f},stress_confidence=0.8,z_hr=0.1,"
            f"z_ln_rmssd=-0.2,z_scl=0.3,z_scr_rate=0.0,version=1i {t}"
        )
        out.append(
            f"features,{tags} mean_hr_bpm={70 + stress[i] / 5:.2f},rmssd_ms=42.0,scl_us=3.1,"
            "scr_per_min=2.0,ns_scr_per_min=2.0,hrv_coverage=0.98,eda_coverage=1.0,contact_lost_share=0.0,"
            f"hrv_corrected_share=0.01,valid_features=4i {t}"
        )
    for dev in ("strap", "band"):
        for j in range(int(hours * 6)):
            t = (t0_s + j * 600) * S + 1
            battery = 100 - int(j * rng.uniform(0.5, 1.5))
            out.append(
                f'device_status,device=d-{k:04d}{dev},{tags} state="connected",connected=1i,'
                f"battery_pct={battery}i {t}"
            )
    quarter = int(hours * 3600 / 4)
    for j, kind in enumerate(("baseline", "stressor", "self-care", "recovery")):
        start = t0_s + j * quarter
        extra = ",mode=solo,label=bench" if kind == "self-care" else ""
        if j < 3:
            fields = f"open=0i,end_ms={(start + quarter - 60) * 1000}i,duration_s={quarter - 60}.0"
        else:
            fields = "open=1i"
        out.append(f"session,kind={kind}{extra},{tags} {fields} {start * S}")
    return out


def _post(url: str, params: dict[str, str], data: bytes | None = None) -> dict[str, Any]:
    req = urllib.request.Request(f"{url}?{urllib.parse.urlencode(params)}", data=data)
    with urllib.request.urlopen(req, timeout=600) as r:
        body = r.read()
    return json.loads(body) if body else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=1000)
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--points-only", action="store_true", help="only the participant-hour")
    args = ap.parse_args()

    counts = points_per_participant_hour()
    total = sum(counts.values())
    print(f"points per participant-hour with --influx-raw (simulated, real pipeline): {total}")
    for m, c in counts.most_common():
        print(f"  {m:<16}{c:>8}  {100 * c / total:5.1f} %")
    samples = sum(counts[m] for m in ("eda", "ecg", "ppg", "acc"))
    print(f"  replicated by default (raw signal samples stay in the store): {total - samples}")
    raw = samples + counts["beat"] + counts["heart_rate"]
    print(f"  results only (features, stress, session, status, marker): {total - raw}")
    if args.points_only:
        return

    servers = _load("servers")
    binary = servers.find_binary("influxd", "/usr/bin/influxd")
    if binary is None:
        sys.exit("influxd is not installed (Debian: apt-get install influxdb)")
    end_s = int(time.time()) // 60 * 60
    t0_s = end_s - int(args.hours * 3600)
    with tempfile.TemporaryDirectory() as d:
        server = servers.InfluxServer(Path(d) / "influxd", binary)
        server.start()
        try:
            db = server.database
            auth = {"u": server.user, "p": server.password}
            t = time.perf_counter()
            written = 0

            def write(k: int) -> int:
                lines = participant_lines(k, t0_s, args.hours, np.random.default_rng(k))
                _post(f"{server.url}/write", {"db": db, **auth}, "\n".join(lines).encode())
                return len(lines)

            with ThreadPoolExecutor(2) as pool:
                written = sum(pool.map(write, range(args.participants)))
            load_s = time.perf_counter() - t
            print(f"\nloaded {written} points ({args.participants} participants x "
                  f"{args.hours:g} h, no raw samples) in {load_s:.0f} s")  # fmt: skip
            t = time.perf_counter()
            for ds in DOWNSAMPLED:
                q = backfill_statement(ds, t0_s * 1000, end_s * 1000 + 60_000)
                _post(f"{server.url}/query", {"db": db, "q": q, **auth})
            print(f"downsampled series backfilled in {time.perf_counter() - t:.0f} s")

            board = json.loads(dashboard_json(build_dashboards()["cohort"]))
            rng_full = TimeRange(t0_s * 1000, end_s * 1000)
            queries = [
                (f"variable {v['name']}", "", "1m", v["query"]) for v in board["templating"]["list"]
            ]
            for p in board["panels"]:
                for tgt in p.get("targets", []):
                    queries.append(
                        (p["title"], p.get("timeFrom", ""), p.get("interval", "1m"), tgt["query"])
                    )
            print(f"\n{'cohort query':<36}{'first s':>8}{'best of 3':>10}{'series':>8}"
                  f"{'points':>8}{'kB':>8}")  # fmt: skip
            worst = worst_first = 0.0
            for title, time_from, interval, q in queries:
                tr = rng_full
                if time_from:
                    span = {"15m": 900, "1h": 3600, "24h": 86_400}[time_from]
                    tr = TimeRange(end_s * 1000 - span * 1000, end_s * 1000)
                text = interpolate(q, tr, interval=interval, variables={"study": STUDY})
                runs = [_timed(server.url, db, auth, text) for _ in range(3)]
                first, best = runs[0][0], min(r[0] for r in runs)
                worst, worst_first = max(worst, best), max(worst_first, first)
                _t, series, points, size = runs[0]
                print(f"{title[:35]:<36}{first:>8.3f}{best:>10.3f}{series:>8}{points:>8}"
                      f"{size / 1000:>8.1f}")  # fmt: skip
            print(f"{'slowest':<36}{worst_first:>8.3f}{worst:>10.3f}  (target < 1 s)")
        finally:
            server.stop()


def _timed(url: str, db: str, auth: dict[str, str], text: str) -> tuple[float, int, int, int]:
    """Seconds to the whole answer, its series, points (rows) and JSON bytes."""
    params = {"db": db, "q": text, "epoch": "ms", **auth}
    req = urllib.request.Request(f"{url}/query?{urllib.parse.urlencode(params)}")
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        body = r.read()
    elapsed = time.perf_counter() - t
    result = json.loads(body)["results"][0]
    assert "error" not in result, (text, result)
    series = result.get("series")
    assert series, f"no data: {text}"
    return elapsed, len(series), sum(len(s["values"]) for s in series), len(body)


if __name__ == "__main__":
    main()
