"""The commands with InfluxDB: demo/replay --influx-*, sync, doctor, export to Parquet."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from influx_adapter import InfluxAdapter
from influx_checks import influx_counts, store_counts
from servers import InfluxServer, free_port

from stresstrack.cli import main
from stresstrack.sinks import TOKEN_ENV
from stresstrack.store import Store

CANARY = "canary-7f3a9c-do-not-print"

SHORT_TOML = """
name = "short"
[[phase]]
kind = "baseline"
minutes = 3
[[phase]]
kind = "stressor"
minutes = 2
[[phase]]
kind = "self-care"
mode = "solo"
label = "serum"
minutes = 2
"""


@pytest.fixture
def protocol_file(tmp_path: Path) -> Path:
    path = tmp_path / "short.toml"
    path.write_text(SHORT_TOML, encoding="utf-8")
    return path


def _influx_args(url: str, bucket: str, *extra: str) -> list[str]:
    return ["--influx-url", url, "--influx-bucket", bucket, *extra]


def test_demo_replicates_to_influxdb(
    tmp_path: Path,
    protocol_file: Path,
    influx_server: InfluxServer,
    influx_adapter: InfluxAdapter,
    influx_db: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(TOKEN_ENV, influx_server.token)
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--participants", "2", "--protocol", str(protocol_file)]
    assert main([*argv, *_influx_args(influx_adapter.url, influx_db)]) == 0
    stdout = capsys.readouterr().out
    expected = store_counts(out / "stresstrack.db")
    # Sessions are sent when they open and again when they close: more sent than stored.
    sent = int(stdout.split(" points sent, everything in the store is delivered")[0].split()[-1])
    assert sent >= sum(expected.values())
    assert influx_counts(influx_server, influx_db) == expected
    assert "eda" not in expected and "beat" in expected  # raw samples only with --influx-raw


def test_replay_replicates_to_influxdb(
    tmp_path: Path,
    protocol_file: Path,
    influx_server: InfluxServer,
    influx_adapter: InfluxAdapter,
    influx_db: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(influx_server.token + "\n", encoding="utf-8")
    demo = tmp_path / "demo"
    argv = ["demo", "--out", str(demo), "--participants", "1", "--protocol", str(protocol_file)]
    assert main(argv) == 0
    replayed = tmp_path / "replayed.db"
    influx = _influx_args(influx_adapter.url, influx_db, "--influx-token-file", str(token_file))
    influx.append("--influx-raw")
    assert main(["replay", str(demo / "stresstrack.db"), "--store", str(replayed), *influx]) == 0
    assert "everything in the store is delivered" in capsys.readouterr().out
    expected = store_counts(replayed, raw=True)
    assert expected["eda"] > 0
    assert influx_counts(influx_server, influx_db) == expected


def test_token_is_never_printed_or_logged(
    tmp_path: Path,
    protocol_file: Path,
    influx_adapter: InfluxAdapter,
    influx_db: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A canary token through every command and failure path: refused, unreachable."""
    monkeypatch.setenv(TOKEN_ENV, f"stresstrack:{CANARY}")  # a wrong 1.x password
    token_file = tmp_path / "token"
    token_file.write_text(CANARY, encoding="utf-8")
    dead_url = f"http://127.0.0.1:{free_port()}"
    demo = tmp_path / "demo"
    store = demo / "stresstrack.db"
    caplog.set_level(logging.DEBUG)
    argv = ["-v", "demo", "--out", str(demo), "--participants", "1"]
    argv += ["--protocol", str(protocol_file), "--influx-wait", "0.5"]
    # The command's work is done and kept even though InfluxDB refuses or is unreachable.
    assert main([*argv, *_influx_args(influx_adapter.url, influx_db)]) == 0
    refused = capsys.readouterr()
    assert "InfluxDB refused the writes, " in refused.err
    assert "points queued in" in refused.err and "(401: authorization failed)" in refused.err
    assert main([*argv, "--force", *_influx_args(dead_url, influx_db)]) == 0  # a new demo
    unreachable = capsys.readouterr()
    queued = sum(store_counts(store).values())
    assert (
        f"InfluxDB unreachable, {queued} points queued in {store} (connection refused)"
        in unreachable.err
    )
    assert f"stresstrack sync {store} --influx-url {dead_url}" in unreachable.err
    sync = ["sync", str(store), "--influx-wait", "0.5"]
    assert main([*sync, *_influx_args(influx_adapter.url, influx_db)]) == 1
    assert (
        main([*sync, *_influx_args(dead_url, influx_db, "--influx-token-file", str(token_file))])
        == 1
    )
    doctor = ["doctor", *_influx_args(influx_adapter.url, influx_db)]
    assert main(doctor) == 1
    assert main([*doctor, "--influx-token-file", str(token_file)]) == 1
    assert main(["doctor", *_influx_args(dead_url, influx_db)]) == 1
    rest = capsys.readouterr()
    assert "[FAIL] write: 401: the token was refused" in rest.out
    assert "[FAIL] reachable: no answer" in rest.out
    everything = refused.out + refused.err + unreachable.out + unreachable.err + rest.out + rest.err
    assert CANARY not in everything
    assert CANARY not in caplog.text
    assert "retrying, the data is kept in the store" in caplog.text  # the logs were captured
    with Store(store, readonly=True) as s:
        assert CANARY not in str(s.dead_letters())


def test_doctor_reports_a_ready_server(
    influx_server: InfluxServer,
    influx_adapter: InfluxAdapter,
    influx_db: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(TOKEN_ENV, influx_server.token)
    assert main(["doctor", *_influx_args(influx_adapter.url, influx_db)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"InfluxDB {influx_adapter.url} bucket {influx_db!r}:",
        "  [ok] reachable: /ping answered 204 (InfluxDB 1.6.7~rc0)",
        "  [ok] health: no /health endpoint (InfluxDB 1.x before 1.8)",
        f"  [ok] write: wrote a test point to {influx_db!r}",
        "  [ok] query (InfluxQL): read the test point back",
        "InfluxDB is ready for stresstrack",
    ]
    assert influx_server.count("stresstrack_doctor", db=influx_db) == 1
    # A missing database is named.
    assert main(["doctor", *_influx_args(influx_adapter.url, "no_such_db")]) == 1
    assert "[FAIL] write: 404: bucket/database 'no_such_db'" in capsys.readouterr().out
    # InfluxDB 1.6 itself (no v2 write adapter in front): the version is what is wrong.
    assert main(["doctor", *_influx_args(influx_server.url, influx_db)]) == 1
    assert (
        "[FAIL] write: InfluxDB 1.6.7~rc0 has no /api/v2/write: InfluxDB 1.8 or newer is needed"
        in capsys.readouterr().out
    )


def test_bad_influx_options_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "a.db"
    Store(store).close()
    assert main(["sync", str(store), "--influx-url", "localhost:8086", "--influx-bucket", "b"]) == 2
    # The library names its settings; the CLI says which option they came from.
    assert "error: --influx-url: must start with http:// or https://" in capsys.readouterr().err
    assert main(["sync", str(store), "--influx-url", "http://127.0.0.1:1"]) == 2
    assert "error: --influx-bucket: required with" in capsys.readouterr().err
    missing = tmp_path / "nope"
    argv = ["sync", str(store), *_influx_args("http://127.0.0.1:1", "b")]
    assert main([*argv, "--influx-token-file", str(missing)]) == 2
    assert f"--influx-token-file {missing}: cannot read it" in capsys.readouterr().err
    assert main(["sync", str(tmp_path / "missing.db"), *_influx_args("http://h:1", "b")]) == 2
    assert "no such store" in capsys.readouterr().err


@pytest.mark.parametrize("table", ["features", "stress", "sessions"])
def test_export_parquet_matches_csv(
    tmp_path: Path, protocol_file: Path, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = tmp_path / "demo"
    argv = ["demo", "--out", str(demo), "--participants", "1", "--protocol", str(protocol_file)]
    assert main(argv) == 0
    store = str(demo / "stresstrack.db")
    assert main(["export", store, "--table", table, "--out", str(tmp_path / "t.csv")]) == 0
    assert main(["export", store, "--table", table, "--out", str(tmp_path / "t.parquet")]) == 0
    assert (
        main(
            [
                "export",
                store,
                "--table",
                table,
                "--format",
                "parquet",
                "--out",
                str(tmp_path / "t.bin"),
            ]
        )
        == 0
    )
    with (tmp_path / "t.csv").open(encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    for name in ("t.parquet", "t.bin"):
        data = pq.read_table(tmp_path / name)
        assert data.column_names == header
        assert data.num_rows == len(rows) > 0
        columns = data.to_pydict()
        for i, col in enumerate(header):
            for row, value in zip(rows, columns[col], strict=True):
                cell = row[i]
                if value is None:
                    assert cell == ""
                elif col in ("time", "end"):
                    assert value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") == cell
                elif isinstance(value, float):
                    assert value == float(cell)
                else:
                    assert value == cell
    assert str(data.schema.field("time").type) == "timestamp[us, tz=UTC]"
