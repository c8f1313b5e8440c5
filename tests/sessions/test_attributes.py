"""Participant attributes for the fairness audit: consented, validated, errors name the line."""

from __future__ import annotations

import pytest

from stresstrack.attributes import parse_attributes
from stresstrack.errors import ImportFormatError
from stresstrack.session.study import parse_study

PEOPLE = {"P1": None, "P2": None}


def test_attributes_are_read_and_normalised() -> None:
    text = (
        '[attributes.P1]\nconsent = true\nsex = "female"\nage_band = "65+"\nskin_type = "vi"\n\n'
        '[attributes.P2]\nconsent = true\nage_band = "18-29"\n'
    )
    assert parse_attributes(text, "s.toml", PEOPLE) == {
        "P1": {"sex": "female", "age_band": "65+", "skin_type": "VI"},
        "P2": {"age_band": "18-29"},
    }


def test_a_study_file_with_attributes_and_blinding_is_a_valid_study() -> None:
    text = (
        '[study]\nname = "s"\n\n[[participant]]\nid = "P1"\narm = "A"\n\n'
        '[blinding]\ncodes = ["A", "B"]\n\n[attributes.P1]\nconsent = true\nsex = "m"\n'
    )
    assert list(parse_study(text, "s.toml").participants) == ["P1"]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('sex = "f"', "line 3: \\[attributes.P1\\]: needs consent = true"),
        ('consent = "yes"\nsex = "f"', "needs consent = true"),
        ('consent = true\nskin_type = "VII"', "not a Fitzpatrick type"),
        ('consent = true\nage_band = "40-30"', "must look like 30-39 or 65\\+"),
        ('consent = true\nage_band = "forty"', "must look like"),
        ('consent = true\nethnicity = "x"', "unknown key\\(s\\) ethnicity"),
        ('consent = true\nsex = "<script>"', "short text"),
    ],
)
def test_bad_attributes_are_clear(entry: str, problem: str) -> None:
    with pytest.raises(ImportFormatError, match=problem):
        parse_attributes(f"# audit\n\n[attributes.P1]\n{entry}\n", "s.toml", PEOPLE)


def test_attributes_of_an_unlisted_participant_are_refused() -> None:
    with pytest.raises(ImportFormatError, match="P9\\]: not a listed participant"):
        parse_attributes("[attributes.P9]\nconsent = true\n", "s.toml", PEOPLE)
