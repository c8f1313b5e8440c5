"""The library advises in its own terms; the command line names the option (issue 17)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from stresstrack.cli import OPTION_OF_SETTING, main
from stresstrack.errors import ImportFormatError, SettingError
from stresstrack.replay import FORMATS, ImportOptions, ImportStats
from stresstrack.replay.base import resolve_timezone


def test_a_library_import_error_names_no_flag_but_the_cli_names_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Kubios RR file without a date cannot be placed in time. Called as a library, the
    error says to give the start time and names the setting (``ImportOptions.start_ns``'s
    "start time") with no command-line flag in it; ``stresstrack replay`` says the same and
    adds ``--start``, the option that sets it."""
    path = tmp_path / "x.txt"
    path.write_text("812\n790\n")
    with pytest.raises(ImportFormatError) as err:
        list(FORMATS["kubios"].read([path], ImportOptions(), ImportStats()))
    assert "--" not in str(err.value)
    assert str(err.value).endswith("give the start time of the first beat")
    assert err.value.setting == "start time"
    store = tmp_path / "o.db"
    assert main(["replay", str(path), "--format", "kubios", "--store", str(store)]) == 2
    cli = capsys.readouterr().err
    assert f"{err.value} (--start)" in cli
    assert not store.exists()


def test_every_named_setting_maps_to_an_option_of_the_cli() -> None:
    """Each option the table names is a real option of some ``stresstrack`` command."""
    assert "--grafana-url" in OPTION_OF_SETTING.values()  # an option of ``dashboards push``
    from stresstrack.cli import build_parser

    def flags(parser: argparse.ArgumentParser) -> set[str]:
        """The options of ``parser`` and of its subcommands (``dashboards push``) at any depth."""
        found: set[str] = set()
        for action in parser._actions:
            found.update(action.option_strings)
            if isinstance(action.choices, dict):
                for sub in action.choices.values():
                    if isinstance(sub, argparse.ArgumentParser):
                        found |= flags(sub)
        return found

    known = flags(build_parser())
    assert set(OPTION_OF_SETTING.values()) <= known


def test_a_wrong_setting_is_named_by_its_option_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown time zone: the library's ``SettingError`` names the setting ("time zone"),
    ``stresstrack replay --timezone`` names the option instead."""
    with pytest.raises(SettingError) as err:
        resolve_timezone("Mars/Olympus")
    assert str(err.value).startswith("time zone: unknown time zone 'Mars/Olympus'")
    path = tmp_path / "x.txt"
    path.write_text("812\n790\n")
    argv = ["replay", str(path), "--format", "kubios", "--timezone", "Mars/Olympus"]
    assert main([*argv, "--store", str(tmp_path / "o.db")]) == 2
    assert f"--timezone: {err.value.problem}" in capsys.readouterr().err
