"""Protocol files: parsing, errors with their line, shipped protocols, and the simulators
following the same file as a real session."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from stresstrack.clock import VirtualClock, run_virtual
from stresstrack.errors import ImportFormatError
from stresstrack.events import Event, Marker, MarkerAction
from stresstrack.session.markers import protocol_markers, run_protocol
from stresstrack.session.protocol import (
    DEFAULT_PROTOCOL,
    Phase,
    Protocol,
    load_protocol,
    parse_protocol,
    shipped_protocols,
)
from stresstrack.simulators.physiology import (
    PHASE_STRESS,
    ParticipantModel,
    ParticipantParams,
    phase_level,
)

NS = 1_000_000_000
TEXT = """\
name = "trial"
description = "A short trial"

[[phase]]
kind = "baseline"
minutes = 2
prompt = "Sit quietly."

[[phase]]
kind = "self-care"
duration_s = 90
mode = "partner"
label = "cream-B"
simulated_stress = 0.1
"""


def test_protocol_file_is_read_whole() -> None:
    assert parse_protocol(TEXT, "trial.toml") == Protocol(
        name="trial",
        description="A short trial",
        phases=(
            Phase("baseline", 120.0, prompt="Sit quietly."),
            Phase("self-care", 90.0, mode="partner", label="cream-B", simulated_stress=0.1),
        ),
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("minutes = 2", "minuts = 2"), "trial.toml, line 4: phase 1: unknown key(s) minuts"),
        (("minutes = 2", 'minutes = "two"'), "line 4: phase 1: minutes must be a number"),
        (("minutes = 2", "minutes = -2"), "line 4: phase 1: phase 'baseline' has a non-positive"),
        (("duration_s = 90", "duration_s = 90\nminutes = 1"),
         "line 9: phase 2: phase 'self-care' needs exactly one"),
        (('"partner"', '"group"'), "line 9: phase 2: mode 'group' is not one of solo, partner"),
        (("= 0.1", "= 1.5"), "line 9: phase 2: simulated_stress must be within 0-1"),
        (('kind = "baseline"', 'kind = ""'), "line 4: phase 1: 'kind' is empty"),
        (('name = "trial"', 'title = "trial"'), "trial.toml: unknown key(s) title"),
        (("[[phase]]", "[phase]"), "not valid TOML"),
    ],
)  # fmt: skip
def test_bad_protocols_say_where(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ImportFormatError) as err:
        parse_protocol(TEXT.replace(*change, 1), "trial.toml")
    assert message in str(err.value)


def test_no_phases_and_unknown_names() -> None:
    with pytest.raises(ImportFormatError, match=r"x.toml: needs at least one \[\[phase\]\]"):
        parse_protocol('name = "x"\n', "x.toml")
    with pytest.raises(ValueError, match="shipped: baseline-selfcare, partner-session"):
        load_protocol("no-such-protocol")


def test_shipped_protocols_load_and_prompt_every_phase() -> None:
    names = shipped_protocols()
    assert names == [
        "baseline-selfcare",
        "partner-session",
        "stress-selfcare-recovery",
        "stress-selfcare-vs-rest",
    ]
    for name in names:
        p = load_protocol(name)
        assert p.name == name and p.description
        assert p.phases[0].kind == "baseline"
        assert all(ph.prompt for ph in p.phases), name
        assert all(ph.mode in ("solo", "partner") for ph in p.phases if ph.kind == "self-care")
    assert load_protocol("stress-selfcare-recovery") == DEFAULT_PROTOCOL


def test_protocol_markers_are_what_run_protocol_writes() -> None:
    """Offline markers (simulated or imported recordings) equal the live ones."""
    protocol = parse_protocol(TEXT, "trial.toml")
    start = 1_767_603_600 * NS
    clock = VirtualClock(start)
    written: list[Event] = []

    class Sink:
        def emit(self, events: list[Event]) -> None:
            written.extend(events)

    run_virtual(
        run_protocol(protocol, participant="P1", study="s", clock=clock, sink=Sink()), clock
    )
    offline = protocol_markers(protocol, participant="P1", study="s", start_ns=start)
    assert written == offline
    assert offline[2] == Marker(
        time_ns=start + 120 * NS,
        participant="P1",
        study="s",
        device="protocol",
        action=MarkerAction.START,
        kind="self-care",
        mode="partner",
        label="cream-B",
    )


def test_simulators_follow_the_protocol_file_and_its_simulated_stress() -> None:
    """A phase's simulated_stress overrides PHASE_STRESS; phase_stress= overrides by kind."""
    protocol = parse_protocol(TEXT, "trial.toml")
    params = ParticipantParams()
    model = ParticipantModel(protocol, params, seed=1)
    assert phase_level(protocol.phases[1]) == 0.1
    assert np.all(model.target[model.t < 120.0] == PHASE_STRESS["baseline"])
    assert np.all(model.target[(model.t >= 120.0) & (model.t < 210.0)] == 0.1)
    plain = Protocol(
        "p", tuple(dataclasses.replace(p, simulated_stress=None) for p in protocol.phases)
    )
    by_kind = ParticipantModel(plain, params, seed=1, phase_stress={"baseline": 0.5})
    assert np.all(by_kind.target[by_kind.t < 120.0] == 0.5)
    assert np.all(
        by_kind.target[(by_kind.t >= 120.0) & (by_kind.t < 210.0)] == PHASE_STRESS["self-care"]
    )
