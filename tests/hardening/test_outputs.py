"""Issue 16, items 5 and 12: no silent overwrite, owner-only files, no formula injection.

Each test reproduces a failure of the adversarial run (commit 317c45e): an export or report
written over a store or over its own input, a demo replacing a collected store, reports and
exports readable by everyone, CSV cells that a spreadsheet runs as formulas, and a
participant ID with a trailing newline.
"""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from stresstrack.cli import main
from stresstrack.errors import SettingError, StressTrackError
from stresstrack.events import Beat, validate_participant_id
from stresstrack.outputs import check_output
from stresstrack.pipeline.results import Session
from stresstrack.store.sqlite import Store

T0 = 1_767_603_600_000_000_000
# OWASP "CSV Injection" payloads: each starts with a character spreadsheets evaluate.
FORMULAS = ("=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example","x")', "+1+1", "@SUM(1)")


@pytest.fixture(autouse=True)
def _umask() -> Iterator[None]:
    old = os.umask(0o022)  # a usual umask: files would be 0644 unless created 0600
    try:
        yield
    finally:
        os.umask(old)


def _store(path: Path) -> Path:
    with Store(path) as store:
        store.add_events([Beat(time_ns=T0, participant="p-1", rr_ms=800.0)])
        sessions = [
            Session(
                participant="p-1",
                study="s",
                kind="self-care",
                start_ns=T0 + i,
                end_ns=T0 + 9,
                mode="",
                label=text,
                note=text,
            )
            for i, text in enumerate(FORMULAS)
        ]
        store.add_results(sessions=sessions)
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_export_and_report_never_replace_a_store_or_their_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    g3, h1, h2 = _store(tmp_path / "g3.db"), _store(tmp_path / "h1.db"), _store(tmp_path / "h2.db")
    before = {p: p.read_bytes() for p in (g3, h1, h2)}
    export = ["export", "--table", "sessions", "--out"]
    assert main([*export[:3], str(g3), *export[3:], str(g3)]) == 2
    assert "that is the input" in capsys.readouterr().err
    for force in ([], ["--force"]):
        assert main(["export", str(h1), "--table", "sessions", "--out", str(h2), *force]) == 2
        assert "is a store" in capsys.readouterr().err
        assert main(["report", str(h1), "--out", str(h2), *force]) == 2
        assert "is a store" in capsys.readouterr().err
    assert main(["report", str(h1), "--out", str(h1), "--force"]) == 2
    assert {p: p.read_bytes() for p in (g3, h1, h2)} == before
    with Store(h2, readonly=True) as store:
        assert store.count("events") == 1


def test_existing_outputs_are_replaced_only_with_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _store(tmp_path / "s.db")
    out = tmp_path / "sessions.csv"
    out.write_text("precious\n", encoding="utf-8")
    argv = ["export", str(db), "--table", "sessions", "--out", str(out)]
    assert main(argv) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "precious\n"
    assert main([*argv, "--force"]) == 0
    assert out.read_text(encoding="utf-8").startswith("time,participant")


def test_output_errors_name_settings_and_the_cli_names_their_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The library says which setting to change ("output file", "replace existing files"),
    without a flag; ``export`` names ``--out`` and ``--force`` (issue 17)."""
    db = _store(tmp_path / "s.db")
    out = tmp_path / "sessions.csv"
    out.write_text("precious\n", encoding="utf-8")
    with pytest.raises(SettingError) as same:
        check_output(db, force=True, inputs=[db])
    with pytest.raises(StressTrackError) as exists:
        check_output(out, force=False)
    assert (same.value.setting, exists.value.setting) == ("output file", "replace existing files")
    assert "--" not in str(same.value) + str(exists.value)
    assert main(["export", str(db), "--table", "sessions", "--out", str(db)]) == 2
    assert f"--out: {db}: that is the input" in capsys.readouterr().err
    assert main(["export", str(db), "--table", "sessions", "--out", str(out)]) == 2
    assert capsys.readouterr().err.rstrip().endswith("allow replacing existing files (--force)")


def test_demo_never_replaces_a_collected_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``collect`` writes ./stresstrack.db by default; ``demo --out .`` used to replace it."""
    collected = _store(tmp_path / "stresstrack.db")
    before = collected.read_bytes()
    assert main(["demo", "--out", str(tmp_path), "--participants", "1"]) == 2
    assert "already exists; name another file, or allow replacing existing files (--force)" in (
        capsys.readouterr().err
    )
    assert collected.read_bytes() == before


def test_participant_data_files_are_owner_only(tmp_path: Path) -> None:
    db = _store(tmp_path / "s.db")
    csv_out, parquet_out = tmp_path / "x" / "s.csv", tmp_path / "x" / "s.parquet"
    report, tables = tmp_path / "r.html", tmp_path / "analysis"
    assert main(["export", str(db), "--table", "sessions", "--out", str(csv_out)]) == 0
    assert main(["export", str(db), "--table", "sessions", "--out", str(parquet_out)]) == 0
    assert main(["report", str(db), "--out", str(report)]) == 0
    assert main(["analyze", str(db), "--out", str(tables)]) == 0
    written = [csv_out, parquet_out, report, *sorted(tables.iterdir())]
    assert len(written) == 8  # export CSV + Parquet, report, 5 analysis tables
    assert {p.name: oct(_mode(p)) for p in written} == {p.name: "0o600" for p in written}
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_csv_cells_cannot_run_as_formulas(tmp_path: Path) -> None:
    """A spreadsheet evaluates a cell that starts with = + - @ (OWASP); exports prefix '."""
    db = _store(tmp_path / "s.db")
    out = tmp_path / "sessions.csv"
    assert main(["export", str(db), "--table", "sessions", "--out", str(out)]) == 0
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["note"] for r in rows] == ["'" + text for text in FORMULAS]
    assert [r["label"] for r in rows] == ["'" + text for text in FORMULAS]
    assert all(not r["duration_s"].startswith("'") for r in rows)


@pytest.mark.parametrize("text", ["p-1\n", "evil_\n", "p-1\r", "\np-1", "p 1"])
def test_participant_ids_with_a_newline_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a pseudonym"):
        validate_participant_id(text)


@pytest.mark.parametrize(
    "url", ["http://admin:s3cret-canary@localhost:8086", "https://s3cret-canary@db.lab:8086/"]
)
def test_credentials_in_the_influx_url_are_refused_and_never_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    """Item 12: a password in ``--influx-url`` was printed in warnings and saved in the
    store's ``sink_cursors``."""
    db = _store(tmp_path / "s.db")
    assert main(["sync", str(db), "--influx-url", url, "--influx-bucket", "b"]) == 2
    err = capsys.readouterr().err
    assert "no credentials in the URL" in err
    assert "s3cret-canary" not in err
    with Store(db, readonly=True) as store:
        assert store._db.execute("SELECT COUNT(*) FROM sink_cursors").fetchone()[0] == 0


def test_kubios_export_never_replaces_a_store_or_an_earlier_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 5 for ``export --kubios DIR``: it wrote ``DIR/<participant>_rr.txt`` over whatever
    was there (a store copied there, an earlier export) without a word."""
    db = _store(tmp_path / "s.db")
    folder = tmp_path / "kubios"
    folder.mkdir()
    target = folder / "p-1_rr.txt"
    target.write_bytes(db.read_bytes())  # a store under that name
    before = target.read_bytes()
    for force in ([], ["--force"]):
        assert main(["export", str(db), "--kubios", str(folder), *force]) == 2
        assert "is a store" in capsys.readouterr().err
    assert target.read_bytes() == before
    target.write_text("an earlier export\n", encoding="utf-8")
    assert main(["export", str(db), "--kubios", str(folder)]) == 2
    assert "already exists; name another file, or allow replacing existing files (--force)" in (
        capsys.readouterr().err
    )
    assert target.read_text(encoding="utf-8") == "an earlier export\n"
    assert main(["export", str(db), "--kubios", str(folder), "--force"]) == 0
    assert target.read_text(encoding="utf-8").startswith("# stresstrack RR export")
    assert oct(_mode(target)) == "0o600"


@pytest.mark.parametrize("option", ["--bids", "--kubios"])
def test_a_dataset_folder_that_is_a_file_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    db, other = _store(tmp_path / "s.db"), _store(tmp_path / "o.db")
    before = other.read_bytes()
    assert main(["export", str(db), option, str(other)]) == 2
    assert f"{option} {other}: is a file, not a folder" in capsys.readouterr().err
    assert other.read_bytes() == before


def test_analysis_and_audit_tables_are_never_written_over_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 5 for the tables ``analyze`` and ``audit`` rewrite on every run: the prompts'
    ``proximal.csv`` and ``audit_participants.csv`` were written without the check the other
    tables get (a store under that name was replaced)."""
    db = _store(tmp_path / "s.db")
    study = tmp_path / "study.toml"
    study.write_text(
        '[study]\nname = "s"\n\n[[participant]]\nid = "p-1"\n\n'
        '[attributes.p-1]\nconsent = true\nskin_type = "II"\n',
        encoding="utf-8",
    )
    cases = [
        (["analyze", str(db), "--out", str(tmp_path / "a")], tmp_path / "a" / "proximal.csv"),
        (
            ["audit", "--store", str(db), "--study", str(study), "--out", str(tmp_path / "b"),
             "--participants"],
            tmp_path / "b" / "audit_participants.csv",
        ),
    ]  # fmt: skip
    for argv, victim in cases:
        victim.parent.mkdir()
        victim.write_bytes(db.read_bytes())
        before = victim.read_bytes()
        assert main(argv) == 2
        assert f"{victim}: is a store" in capsys.readouterr().err
        assert victim.read_bytes() == before


def test_dashboard_provisioning_refuses_credentials_in_the_influx_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 12: ``dashboards export --influx-url http://admin:pw@db:8086`` wrote the password
    into the datasource file Grafana reads (the token belongs in its environment)."""
    out = tmp_path / "provisioning"
    url = "http://admin:s3cret-canary@db:8086"
    assert main(["dashboards", "export", str(out), "--influx-url", url]) == 2
    err = capsys.readouterr().err
    assert "--influx-url: no credentials in the URL" in err and "s3cret-canary" not in err
    assert not out.exists()
    assert main(["dashboards", "export", str(out), "--influx-url", "http://db:8086"]) == 0
    assert "http://db:8086" in (out / "datasources" / "influxdb.yaml").read_text("utf-8")


def test_the_companion_public_url_refuses_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 12: ``serve --public-url`` goes into every enrolment QR code a phone scans."""
    study = tmp_path / "study.toml"
    study.write_text('[study]\nname = "s"\n', encoding="utf-8")
    argv = ["serve", "--study", str(study), "--store", str(tmp_path / "s.db"), "--public-url",
            "https://u:s3cr@x.org"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--public-url: no credentials in the URL" in err and "s3cr" not in err
    assert not (tmp_path / "s.db").exists()
