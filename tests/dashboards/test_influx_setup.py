"""``stresstrack influx setup`` on a real influxd 1.x: continuous queries, idempotent, and a
backfill whose per-minute means are numpy's over the raw points."""

from __future__ import annotations

import time
import urllib.parse
import urllib.request
from dataclasses import replace

import numpy as np
import pytest
from servers import InfluxServer

from stresstrack.cli import main
from stresstrack.dashboards.downsampling import DOWNSAMPLED, cq_statement, flux_task
from stresstrack.sinks import TOKEN_ENV

pytestmark = pytest.mark.influx
S = 1_000_000_000


def test_setup_creates_continuous_queries_once_and_backfills(
    influx_server: InfluxServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = influx_server.reset_database("setup_test")
    monkeypatch.setenv(TOKEN_ENV, influx_server.token)
    now_s = int(time.time())
    t0 = (now_s - 3 * 3600) // 60 * 60  # whole minutes, three hours ago
    rng = np.random.default_rng(7)
    values = rng.uniform(20, 80, size=(2, 36))  # 2 participants, 3 min at a 5-s hop
    lines = [
        f"stress,study=s,participant=p{p} stress_index={float(v)!r},stress_confidence=0.5 "
        f"{(t0 + 5 * i) * S}"
        for p in range(2)
        for i, v in enumerate(values[p])
    ]
    _write(influx_server, db, lines)
    args = ["influx", "setup", "--influx-url", influx_server.url, "--influx-bucket", db]
    assert main(args) == 0
    assert capsys.readouterr().out.split() == [
        x for d in DOWNSAMPLED for x in (f"{d.target}:", "created")
    ]
    assert main([*args, "--backfill-hours", "4"]) == 0
    out = capsys.readouterr().out
    assert all(f"{d.target}: unchanged" in out for d in DOWNSAMPLED)
    (result,) = influx_server.query("SHOW CONTINUOUS QUERIES")["results"]
    (ours,) = [s for s in result["series"] if s["name"] == db]
    assert [v[0] for v in ours["values"]] == [d.target for d in DOWNSAMPLED]
    got = influx_server.rows('SELECT * FROM "stress_1m" GROUP BY "participant"', db=db)
    assert len(got) == 6
    for r in got:
        p = int(str(r["participant"])[1:])
        minute = (int(r["time"]) // S - t0) // 60
        want = values[p][12 * minute : 12 * minute + 12].mean()
        assert r["stress_index"] == pytest.approx(want)


def test_setup_updates_the_pre_2_1_features_1m_and_backfills_ns_scr_per_min(
    influx_server: InfluxServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Upgrading to index 2.1: a features_1m continuous query without ``ns_scr_per_min`` (as
    an earlier setup made it) is replaced, and the backfill gives past minutes the numpy mean
    of the written ns-SCR rates."""
    db = influx_server.reset_database("setup_scr")
    monkeypatch.setenv(TOKEN_ENV, influx_server.token)
    (features,) = [d for d in DOWNSAMPLED if d.target == "features_1m"]
    old = replace(features, fields=tuple(f for f in features.fields if f != "ns_scr_per_min"))
    assert old.fields != features.fields
    influx_server.query(cq_statement(db, old), db=db)
    t0 = (int(time.time()) - 2 * 3600) // 60 * 60
    rates = [float(r) for r in np.random.default_rng(3).integers(0, 6, size=24)]  # 2 min, 5-s hop
    _write(
        influx_server,
        db,
        [
            f"features,study=s,participant=p ns_scr_per_min={r!r},scr_per_min={3 * r!r} "
            f"{(t0 + 5 * i) * S}"
            for i, r in enumerate(rates)
        ],
    )
    args = ["influx", "setup", "--influx-url", influx_server.url, "--influx-bucket", db]
    assert main([*args, "--backfill-hours", "3"]) == 0
    assert "features_1m: updated" in capsys.readouterr().out
    (result,) = influx_server.query("SHOW CONTINUOUS QUERIES")["results"]
    (ours,) = [s for s in result["series"] if s["name"] == db]
    (cq,) = [v[1] for v in ours["values"] if v[0] == "features_1m"]
    assert "ns_scr_per_min" in cq
    got = influx_server.rows('SELECT "ns_scr_per_min", "scr_per_min" FROM "features_1m"', db=db)
    assert [r["ns_scr_per_min"] for r in got] == pytest.approx(
        [np.mean(rates[:12]), np.mean(rates[12:])]
    )
    assert [r["scr_per_min"] for r in got] == pytest.approx(
        [3 * np.mean(rates[:12]), 3 * np.mean(rates[12:])]
    )


def _write(server: InfluxServer, db: str, lines: list[str]) -> None:
    """influxd's own 1.x /write (the setup test needs no sink)."""
    params = urllib.parse.urlencode({"db": db, "u": server.user, "p": server.password})
    req = urllib.request.Request(f"{server.url}/write?{params}", data="\n".join(lines).encode())
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 204


def test_flux_task_names_every_field() -> None:
    d = DOWNSAMPLED[1]
    flux = flux_task("b", "o", d)
    assert 'option task = {name: "stresstrack features_1m", every: 1m, offset: 10s}' in flux
    assert "range(start: -2m)" in flux
    # Stamped at the window's start, as the 1.x continuous query (GROUP BY time) stamps it.
    assert 'aggregateWindow(every: 1m, fn: mean, createEmpty: false, timeSrc: "_start")' in flux
    for f in d.fields:
        assert f'r._field == "{f}"' in flux
