"""A protocol's [design] and blocks: parsing, errors that say where, Williams orders checked
against their defining property, and each participant's order in the simulator."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from stresstrack.errors import ImportFormatError
from stresstrack.session.protocol import Design, load_protocol, parse_protocol, williams_orders

CROSSOVER = """\
name = "x"

[design]
conditions = ["self-care", "rest", "sham"]
control = "rest"
secondary = ["hr"]
smallest_effect = 4

[[phase]]
kind = "baseline"
minutes = 3

[[phase]]
block = "A"
kind = "stressor"
minutes = 2

[[phase]]
block = "A"
kind = "self-care"
minutes = 3

[[phase]]
block = "B"
kind = "stressor"
minutes = 2

[[phase]]
block = "B"
kind = "rest"
minutes = 3

[[phase]]
block = "C"
kind = "sham"
minutes = 3
"""


def test_design_is_read() -> None:
    p = parse_protocol(CROSSOVER, "x.toml")
    assert p.design == Design(
        conditions=("self-care", "rest", "sham"),
        control="rest",
        primary="stress_index",
        secondary=("hr",),
        smallest_effect=4.0,
        counterbalance=True,
    )
    assert p.design.treatments == ("self-care", "sham")
    assert [name for name, _ in p.blocks()] == ["A", "B", "C"]


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_williams_orders_balance_first_order_carryover(k: int) -> None:
    """Every row is a permutation; every condition is in every position equally often; every
    ordered pair (a then b) appears equally often as neighbours (Williams 1949)."""
    rows = williams_orders(k)
    assert len(rows) == (k if k % 2 == 0 else 2 * k)
    assert all(sorted(r) == list(range(k)) for r in rows)
    for position in range(k):
        assert len(Counter(r[position] for r in rows)) == k
        assert len(set(Counter(r[position] for r in rows).values())) == 1
    pairs = Counter(pair for r in rows for pair in itertools.pairwise(r))
    assert set(pairs) == {(a, b) for a in range(k) for b in range(k) if a != b}
    assert len(set(pairs.values())) == 1


def test_participants_get_the_orders_in_turn() -> None:
    p = parse_protocol(CROSSOVER, "x.toml")
    orders = [p.order_for(i) for i in range(6)]
    assert len(set(orders)) == 6  # 3 conditions: 6 Williams orders
    for i in range(6):
        phases = p.for_participant(i).phases
        assert phases[0].kind == "baseline"  # outside blocks: in place
        held = [x.kind for x in phases if x.kind in ("self-care", "rest", "sham")]
        assert tuple(held) == p.order_for(i)
        assert sorted(x.duration_s for x in phases) == sorted(x.duration_s for x in p.phases)


def test_shipped_crossover_is_ab_ba() -> None:
    p = load_protocol("stress-selfcare-vs-rest")
    assert p.orders() == [("self-care", "rest"), ("rest", "self-care")]
    assert p.design is not None and p.design.control == "rest"


def test_multiplicity_is_holm_by_default_or_benjamini_hochberg() -> None:
    assert parse_protocol(CROSSOVER, "x.toml").design.multiplicity == "holm"  # type: ignore[union-attr]
    text = CROSSOVER.replace("smallest_effect = 4", 'smallest_effect = 4\nmultiplicity = "bh"')
    design = parse_protocol(text, "x.toml").design
    assert design is not None and design.multiplicity == "bh"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('control = "rest"', 'control = "placebo"'), "control 'placebo' is not one of"),
        (('secondary = ["hr"]', 'secondary = ["pulse"]'), "'pulse' is not an outcome"),
        (("smallest_effect = 4", "smallest_effect = -1"), "smallest_effect must be > 0"),
        (
            ("smallest_effect = 4", 'smallest_effect = 4\nmultiplicity = "bonferroni"'),
            "multiplicity must be one of holm, bh, got 'bonferroni'",
        ),
        (('block = "C"', 'block = "A"'), "a block's phases must be consecutive"),
        (('kind = "sham"', 'kind = "walk"'), "block 'C' must hold exactly one phase of a"),
        (("[design]", "[design]\ncolour = 1"), "unknown key(s) colour"),
    ],
)
def test_bad_designs_say_what(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ImportFormatError, match=r"x\.toml") as err:
        parse_protocol(CROSSOVER.replace(*change), "x.toml")
    assert message in str(err.value)


def test_blocks_without_a_design_are_an_error() -> None:
    text = CROSSOVER.split("[design]")[0] + "[[phase]]" + CROSSOVER.split("[[phase]]", 1)[1]
    with pytest.raises(ImportFormatError, match="no \\[design\\]"):
        parse_protocol(text, "x.toml")


def test_participants_of_a_study_file_follow_their_order() -> None:
    """The study file's order of participants gives each their counterbalanced order."""
    from stresstrack.session.study import parse_study, participant_protocol

    study = parse_study(
        '[study]\nname = "s"\n[[participant]]\nid = "P01"\n[[participant]]\nid = "P02"\n',
        "study.toml",
    )
    p = load_protocol("stress-selfcare-vs-rest")
    first, order1 = participant_protocol(p, study, "P01")
    second, order2 = participant_protocol(p, study, "P02")
    assert (order1, order2) == (("self-care", "rest"), ("rest", "self-care"))
    kinds = [x.kind for x in second.phases if x.kind in ("self-care", "rest")]
    assert kinds == ["rest", "self-care"] and first == p
    assert participant_protocol(p, None, "P09") == (p, ("self-care", "rest"))
