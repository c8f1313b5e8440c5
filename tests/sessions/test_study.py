"""Study files, the consent check, and `collect --study`."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from stresstrack.cli import main
from stresstrack.errors import ImportFormatError, StressTrackError
from stresstrack.session.study import (
    ConsentError,
    Study,
    StudyChoice,
    StudyParticipant,
    check_consent,
    load_study,
    parse_study,
    resolve_study,
    stamp_store,
    store_arms,
)
from stresstrack.store.sqlite import Store

STUDY = """\
[study]
name = "calm-2026"
description = "Serum massage vs placebo cream"

[[participant]]
id = "P001"
arm = "serum"
consent_date = 2026-01-05
consent_version = "v1.2"

[[participant]]
id = "P002"
arm = "placebo"
consent_date = "2026-01-06"
consent_version = "v1.2"

[[participant]]
id = "P003"
arm = "serum"
"""
TODAY = dt.date(2026, 2, 1)


def _study(tmp_path: Path, text: str = STUDY) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_study_file_is_read_whole() -> None:
    study = parse_study(STUDY, "study.toml", today=TODAY)
    assert study == Study(
        name="calm-2026",
        description="Serum massage vs placebo cream",
        path="study.toml",
        participants={
            "P001": StudyParticipant("P001", "serum", dt.date(2026, 1, 5), "v1.2"),
            "P002": StudyParticipant("P002", "placebo", dt.date(2026, 1, 6), "v1.2"),
            "P003": StudyParticipant("P003", "serum"),
        },
    )
    assert study.arms() == {"P001": "serum", "P002": "placebo", "P003": "serum"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('id = "P002"', 'id = "Jane Doe"'), "study.toml, line 11: participant 2: participant ID"),
        (('id = "P003"', 'id = "P001"'), "study.toml, line 17: participant P001 is listed twice"),
        (('"v1.2"\n\n[[participant]]\nid = "P002"', '""\n\n[[participant]]\nid = "P002"'),
         "line 5: participant 1: P001: a recorded consent needs both consent_date and"),
        (("2026-01-05", "2026-03-01"),
         "line 5: participant 1: P001: consent_date 2026-03-01 is in the future"),
        (('"2026-01-06"', '"6 Jan 2026"'), "line 11: participant 2: consent_date must be a date"),
        (('arm = "placebo"', 'arms = "placebo"'), "line 11: participant 2: unknown key(s) arms"),
        (('name = "calm-2026"', 'title = "calm-2026"'),
         'needs a [study] table with a name = "..."'),
        (("[study]", "[studdy]"), "unknown table(s) studdy"),
        (("consent_version = \"v1.2\"\n\n[[participant]]\nid = \"P002\"", "consent_version = \n"),
         "not valid TOML"),
    ],
)  # fmt: skip
def test_bad_study_files_say_where(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ImportFormatError) as err:
        parse_study(STUDY.replace(*change, 1), "study.toml", today=TODAY)
    assert message in str(err.value)


def test_missing_study_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match=r"nope\.toml: no such study file"):
        load_study(tmp_path / "nope.toml")


def test_consent_check() -> None:
    study = parse_study(STUDY, "study.toml", today=TODAY)
    assert check_consent(study, "P001") == study.participants["P001"]
    with pytest.raises(ConsentError) as err:
        check_consent(study, "P003")
    assert str(err.value) == (
        "participant P003 has no consent recorded in study.toml (study calm-2026): add their "
        "consent_date and consent_version once they have signed, or turn the consent check "
        "off for a pilot"
    )
    assert err.value.setting == "consent check" and "--" not in str(err.value)
    with pytest.raises(ConsentError, match=r"participant P009 is not listed in study\.toml"):
        check_consent(study, "P009")


def test_resolve_study_file_or_name(tmp_path: Path) -> None:
    path = _study(tmp_path)
    choice = resolve_study(str(path), "P002", check=True)
    assert choice.name == "calm-2026" and choice.participant is not None
    assert choice.participant.arm == "placebo"
    assert resolve_study("pilot-a", "P002", check=False) == StudyChoice("pilot-a")
    with pytest.raises(ConsentError, match="cannot be checked without a study file"):
        resolve_study("pilot-a", "P002", check=True)
    unchecked = resolve_study(str(path), "P003", check=False)  # e.g. simulated
    assert unchecked.participant == StudyParticipant("P003", "serum")


def test_stamp_store_records_study_and_arm_and_refuses_another_study(tmp_path: Path) -> None:
    path = _study(tmp_path)
    with Store(tmp_path / "s.db") as store:
        stamp_store(store, resolve_study("just-a-name", "P001", check=False))
        assert store.meta("study") is None  # a bare name leaves the store alone
        stamp_store(store, resolve_study(str(path), "P001", check=True))
        stamp_store(store, resolve_study(str(path), "P002", check=True))
        assert store.meta("study") == "calm-2026"
        assert store_arms(store, ["P001", "P002", "P003"]) == {"P001": "serum", "P002": "placebo"}
        other = StudyChoice("other", Study("other", {}), None)
        with pytest.raises(StressTrackError, match="holds study 'calm-2026', not 'other'"):
            stamp_store(store, other)


def test_collect_refuses_without_consent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Real devices need a study file with the participant's consent: the check comes before
    any scan, and nothing is written."""
    path = _study(tmp_path)
    store = tmp_path / "c.db"
    argv = ["collect", "--participant", "P003", "--device", "Polar H10 1234", "--store", str(store)]
    assert main([*argv, "--study", str(path)]) == 2
    err = capsys.readouterr().err
    assert "participant P003 has no consent recorded in" in err and "--no-consent-check" in err
    argv[2] = "P004"
    assert main([*argv, "--study", str(path)]) == 2
    assert "participant P004 is not listed in" in capsys.readouterr().err
    assert main(argv) == 2
    assert "cannot be checked without a study file" in capsys.readouterr().err
    assert not store.exists()


def test_collect_simulated_with_study_file_stamps_the_store(tmp_path: Path) -> None:
    """Simulated participants need no consent; the study's name reaches the store's meta and
    every event, the participant's arm the store's meta."""
    path = _study(tmp_path)
    store = tmp_path / "sim.db"
    proc = subprocess.run(
        [sys.executable, "-m", "stresstrack", "collect", "--participant", "P003", "--simulate",
         "--study", str(path), "--store", str(store), "--duration", "2"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with Store(store, readonly=True) as s:
        assert s.meta("study") == "calm-2026"
        assert store_arms(s) == {"P003": "serum"}
        events = list(s.iter_events())
    assert events and {e.study for e in events} == {"calm-2026"}
