"""Self-report answers and lab values as events: limits, store, InfluxDB lines, export,
CSV import with clear errors, and the ``ask`` and ``lab`` commands."""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from stresstrack.cli import main
from stresstrack.errors import EventError
from stresstrack.events import Beat, Event, LabSample, SelfReport
from stresstrack.export.tables import export_table
from stresstrack.limits import check_event
from stresstrack.pipeline import Pipeline
from stresstrack.pipeline.results import Session
from stresstrack.sinks.points import event_lines
from stresstrack.store.codec import event_from_payload, event_to_payload
from stresstrack.store.sqlite import Store

NS = 1_000_000_000
T = 1_767_603_600 * NS  # 2026-01-05 09:00:00 UTC
ANSWER = SelfReport(
    time_ns=T, participant="P1", study="calm", device="terminal", item="stress", value=62.0,
    prompt_id="after:stressor:1767603000",
)  # fmt: skip
SAMPLE = LabSample(
    time_ns=T, participant="P1", study="calm", device="csv", analyte="cortisol", value=12.5,
    unit="nmol/L",
)  # fmt: skip
STUDY = """
[study]
name = "calm"

[[participant]]
id = "P1"
consent_date = 2026-01-01
consent_version = "v1"

[[participant]]
id = "P2"
consent_date = 2026-01-01
consent_version = "v1"

[ask]
items = ["stress", "sam_valence"]
after = ["stressor"]
"""


def test_events_round_trip_through_the_store_and_respect_the_limits(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.add_events([ANSWER, SAMPLE])
        assert list(store.iter_events(types=("selfreport", "lab"))) == [ANSWER, SAMPLE]
        assert store.schema_version == 3  # the events table holds them: no schema change
    name, payload = event_to_payload(ANSWER)
    assert (name, json.loads(payload)) == (
        "selfreport",
        {"item": "stress", "value": 62.0, "prompt_id": "after:stressor:1767603000"},
    )
    with pytest.raises(EventError, match="value nan is outside"):
        check_event(SelfReport(time_ns=T, participant="P1", item="stress", value=float("nan")))
    with pytest.raises(EventError, match="item is empty"):
        event_from_payload("selfreport", T, "P1", "s", "", '{"item": " ", "value": 1}')
    with pytest.raises(EventError, match="unit holds a control character"):
        check_event(LabSample(time_ns=T, participant="P1", analyte="c", value=1.0, unit="a\x07"))


def test_the_pipeline_ignores_answers_and_lab_values() -> None:
    """A beat stream with answers mixed in gives the same results as without them."""
    beats = [Beat(time_ns=T + i * 800_000_000, participant="P1", rr_ms=800.0) for i in range(400)]
    mixed: list[Event] = [*beats[:200], ANSWER, SAMPLE, *beats[200:]]
    a, b = Pipeline(), Pipeline()
    assert a.process_many(beats) + a.finish() == b.process_many(mixed) + b.finish()


# docs/schema.md: the device tag is 12 hex digits of SHA-256 over study NUL device.
DEVICE_TAG = hashlib.sha256(b"calm\x00terminal").hexdigest()[:12]


def test_influx_lines_follow_the_schema() -> None:
    """docs/schema.md: measurement selfreport with an item tag, lab with analyte and unit."""
    row = (
        1,
        *event_to_payload(ANSWER)[:1],
        T,
        "P1",
        "calm",
        "terminal",
        event_to_payload(ANSWER)[1],
    )
    assert event_lines(row) == [
        f"selfreport,device=d-{DEVICE_TAG},item=stress,participant=P1,study=calm "
        f'value=62.0,prompt_id="after:stressor:1767603000" {T}'
    ]
    lab = (2, "lab", T, "P1", "calm", "", event_to_payload(SAMPLE)[1])
    assert event_lines(lab, rank=1) == [
        f"lab,analyte=cortisol,participant=P1,study=calm,unit=nmol/L value=12.5 {T + 1}"
    ]


SR = "time,participant,item,value\n"
LAB = "time,participant,analyte,value,unit\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_import_export_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = _write(tmp_path / "study.toml", STUDY)
    answers = _write(
        tmp_path / "answers.csv",
        "time,participant,item,value,prompt_id\n"
        "2026-01-05T09:00:00Z,P1,stress,62,after:stressor:1767603000\n"
        "1767603660,P2,sam_valence,7,\n",
    )
    store = tmp_path / "s.db"
    assert (
        main(["ask", "--study", str(study), "--store", str(store), "--import", str(answers)]) == 0
    )
    assert "stored 2 answers (0 already stored)" in capsys.readouterr().out
    # Importing again adds nothing.
    assert (
        main(["ask", "--study", str(study), "--store", str(store), "--import", str(answers)]) == 0
    )
    assert "stored 0 answers (2 already stored)" in capsys.readouterr().out
    lab = _write(
        tmp_path / "lab.csv",
        LAB + "2026-01-05T09:00:00Z,P1,Cortisol,12.5,nmol/L\n",
    )
    assert main(["lab", str(lab), "--store", str(store), "--study", str(study)]) == 0
    out = tmp_path / "export.csv"
    with Store(store, readonly=True) as s:
        assert next(iter(s.iter_events(types=("selfreport",)))) == replace(ANSWER, device="csv")
        assert list(s.iter_events(types=("lab",))) == [SAMPLE]
        assert export_table(s, "selfreport", out) == 2
    # The export reads back in: same answers.
    again = tmp_path / "again.db"
    assert main(["ask", "--study", str(study), "--store", str(again), "--import", str(out)]) == 0
    with Store(store, readonly=True) as a, Store(again, readonly=True) as b:
        assert list(b.iter_events(types=("selfreport",))) == list(
            a.iter_events(types=("selfreport",))
        )
    assert (
        main(["export", str(store), "--table", "lab", "--out", str(tmp_path / "lab-out.csv")]) == 0
    )
    assert (tmp_path / "lab-out.csv").read_text().splitlines() == [
        "time,participant,analyte,value,unit,study,device",
        "2026-01-05T09:00:00.000000Z,P1,cortisol,12.5,nmol/L,calm,csv",
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("time,participant,value\n", "line 1: missing column(s) item"),
        (SR + "1767603600,P1,stress,101\n", "line 2: stress: 101 is outside 0..100"),
        (SR + "1767603600,P1,sam_valence,3.5\n", "line 2: sam_valence: 3.5 is not a whole"),
        (SR + "\n1767603600,P1,mood2,3\n", "line 3: unknown item 'mood2'"),
        (SR + "yesterday,P1,stress,3\n", "line 2: time 'yesterday' is neither"),
        (SR + "1767603600,Jane Doe,stress,3\n", "line 2: participant ID 'Jane Doe'"),
        (SR + "1767603600,P1,stress\n", "line 2: 3 fields, the header has 4"),
        (SR + "1767603600,P3,stress,3\n", "participant P3 is not listed"),
    ],
)
def test_bad_answer_files_name_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, message: str
) -> None:
    study = _write(tmp_path / "study.toml", STUDY)
    bad = _write(tmp_path / "bad.csv", body)
    store = tmp_path / "s.db"
    assert main(["ask", "--study", str(study), "--store", str(store), "--import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and message in err, err


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("time,participant,analyte,value\n", "line 1: missing column(s) unit"),
        (
            LAB + "1767603600,P1,cortisol,-2,nmol/L\n",
            "line 2: cortisol: a concentration cannot be negative",
        ),
        (LAB + "1767603600,P1,cortisol,12,\n", "line 2: cortisol: the unit is empty"),
        (
            LAB + "1767603600,P1,cortisol,high,nmol/L\n",
            "line 2: cortisol value 'high' is not a number",
        ),
    ],
)
def test_bad_lab_files_name_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, message: str
) -> None:
    bad = _write(tmp_path / "bad.csv", body)
    assert main(["lab", str(bad), "--store", str(tmp_path / "s.db")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and message in err, err


def test_ask_in_the_terminal_answers_the_open_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stressor that ended a minute ago opens the [ask] prompt "after:stressor:...": its
    items are asked, an out-of-range answer is refused and asked again, and the answers
    carry the prompt's id. Asked again, nothing is open: the [ask] items unprompted."""
    study = _write(tmp_path / "study.toml", STUDY)
    store_path = tmp_path / "s.db"
    now = time.time_ns()
    with Store(store_path) as store:
        stressor = Session(
            participant="P1", study="calm", kind="stressor", start_ns=now - 300 * NS,
            end_ns=now - 60 * NS,
        )  # fmt: skip
        store.add_results(sessions=[stressor])
    monkeypatch.setattr("sys.stdin", io.StringIO("150\n70\n12\n8\n"))
    args = ["ask", "--study", str(study), "--store", str(store_path), "--participant", "P1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "stress: 150 is outside 0..100" in out and "sam_valence: 12 is outside 1..9" in out
    assert "stored 2 of 2 answers" in out
    with Store(store_path, readonly=True) as store:
        got = [(e.item, e.value, e.prompt_id) for e in store.iter_events(types=("selfreport",))
               if isinstance(e, SelfReport)]  # fmt: skip
    prompt = f"after:stressor:{stressor.start_ns // NS}"
    assert got == [("stress", 70.0, prompt), ("sam_valence", 8.0, prompt)]
    monkeypatch.setattr("sys.stdin", io.StringIO("40\n5\n"))
    assert main(args) == 0
    assert "prompt after:" not in capsys.readouterr().out
    with Store(store_path, readonly=True) as store:
        last = list(store.iter_events(types=("selfreport",)))[-1]
    assert isinstance(last, SelfReport) and (last.value, last.prompt_id) == (5.0, "")


def test_ask_refuses_a_participant_without_consent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = _write(tmp_path / "study.toml", STUDY)
    args = ["ask", "--study", str(study), "--store", str(tmp_path / "s.db"), "--participant", "P9"]
    assert main(args) == 2
    assert "participant P9 is not listed" in capsys.readouterr().err


def test_parquet_export_types_the_answer_columns(tmp_path: Path) -> None:
    """An empty prompt id stays text (not a column of missing numbers); values are floats."""
    import pyarrow.parquet as pq

    with Store(tmp_path / "s.db") as store:
        store.add_events([replace(ANSWER, prompt_id=""), SAMPLE])
    out = tmp_path / "sr.parquet"
    assert main(["export", str(tmp_path / "s.db"), "--table", "selfreport", "--out", str(out)]) == 0
    table = pq.read_table(out)
    assert {f.name: str(f.type) for f in table.schema} == {
        "time": "timestamp[us, tz=UTC]", "participant": "string", "item": "string",
        "value": "double", "prompt_id": "string", "study": "string", "device": "string",
    }  # fmt: skip
    assert table.column("prompt_id").to_pylist() == [""]
