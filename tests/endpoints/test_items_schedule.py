"""Items, the study file's endpoint tables, and when items are asked (EMA schedule)."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stresstrack.endpoints.config import AskRule, EmaRule, parse_endpoints
from stresstrack.endpoints.items import BUILTIN_ITEMS
from stresstrack.endpoints.schedule import due_prompts, ema_schedule, session_prompts
from stresstrack.errors import ImportFormatError
from stresstrack.pipeline.results import Session
from stresstrack.session.study import parse_study

NS = 1_000_000_000
STUDY = """
[study]
name = "calm"

[[participant]]
id = "P1"

[[item]]
id = "pss_1"
scale = "likert"
points = 5
question = "How often have you felt nervous?"

[ask]
items = ["stress", "pss_1"]
before = ["self-care"]
after = ["*"]

[ema]
items = ["stress"]
windows = ["09:00-12:00", "13:00-17:00"]
timezone = "Europe/Berlin"
per_day = 3
min_gap_minutes = 45

[lab]
lag_minutes = {cortisol = 15}

[endpoints]
primary = "stress_index"
secondary = ["hr", "sr_stress", "cortisol"]
"""


def test_a_study_file_with_endpoint_tables_is_still_a_study_file() -> None:
    assert parse_study(STUDY, "study.toml").name == "calm"
    cfg = parse_endpoints(STUDY, "study.toml")
    assert cfg.items["pss_1"].check(5) == 5.0 and cfg.items["stress"] == BUILTIN_ITEMS["stress"]
    assert cfg.ask is not None and cfg.ask.items == ("stress", "pss_1")
    assert cfg.ema is not None and cfg.ema.per_day == 3
    assert cfg.lag_ns("cortisol") == 15 * 60 * NS and cfg.lag_ns("alpha_amylase") == 0
    assert cfg.secondary == ("hr", "sr_stress", "cortisol")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('[[item]]\nid = "x"\nscale = "likert"\nquestion = "q"\n', 1, "points = 2..11"),
        ('\n\n[[item]]\nid = "Bad Id"\nquestion = "q"\n', 3, "lower-case"),
        ('[[item]]\nid = "n"\nscale = "numeric"\nquestion = "q"\nmin = 5\nmax = 1\n', 1, "below"),
        ('[ask]\nitems = ["nope"]\n', None, "unknown item(s) nope"),
        ('[ema]\nwindows = ["9-12"]\n', None, "HH:MM-HH:MM"),
        ('[ema]\nwindows = ["09:00-12:00"]\ntimezone = "Mars/Olympus"\n', None, "time zone"),
        ("[lab]\nlag_minutes = {cortisol = -5}\n", None, "0..240"),
        ('[endpoints]\nsecondary = ["sr_nope"]\n', None, "no item 'nope'"),
    ],
)
def test_bad_endpoint_tables_name_the_file_and_line(
    text: str, line: int | None, message: str
) -> None:
    with pytest.raises(ImportFormatError, match=re.escape(message)) as err:
        parse_endpoints(text, "study.toml")
    assert err.value.path == "study.toml" and err.value.line == line


def test_answers_outside_an_items_scale_are_refused() -> None:
    sam = BUILTIN_ITEMS["sam_arousal"]
    for bad, why in ((0, "outside 1..9"), (4.5, "whole number"), (float("nan"), "outside")):
        with pytest.raises(ValueError, match=why):
            sam.check(bad)


def test_session_prompts_before_after_and_at_boundaries() -> None:
    cfg = parse_endpoints(STUDY + "", "s.toml")
    assert cfg.ask is not None
    s1 = Session(participant="P1", study="x", kind="stressor", start_ns=0, end_ns=300 * NS)
    s2 = Session(participant="P1", study="x", kind="self-care", start_ns=300 * NS, end_ns=600 * NS)
    ids = [(p.id, p.due_ns // NS) for p in session_prompts([s2, s1], cfg.ask)]
    assert ids == [
        ("after:stressor:0", 300),
        ("before:self-care:300", 300),
        ("after:self-care:300", 600),
    ]
    prompts = session_prompts([s1, s2], cfg.ask)
    open_now = due_prompts(301 * NS, prompts, answered={"after:stressor:0"})
    assert [p.id for p in open_now] == ["before:self-care:300"]
    # Prompts lapse after 10 minutes.
    assert [p.id for p in due_prompts(960 * NS, prompts, ())] == ["after:self-care:300"]
    assert due_prompts(1200 * NS, prompts, ()) == []


RULE = EmaRule(
    items=("stress",),
    windows=((dt.time(9), dt.time(12)), (dt.time(13), dt.time(17)), (dt.time(18), dt.time(21))),
    timezone="Europe/Berlin",
    per_day=5,
    min_gap_minutes=40,
)


@settings(max_examples=60, deadline=None)
@given(
    day=st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2030, 12, 31)),
    participant=st.from_regex(r"\A[A-Za-z0-9]{1,8}\Z"),
    per_day=st.integers(1, 8),
)
def test_ema_schedule_keeps_its_rules(day: dt.date, participant: str, per_day: int) -> None:
    """Every prompt inside a window of the local day (DST days included), at most per_day,
    at least min_gap apart, and the same schedule every time it is computed."""
    rule = EmaRule(RULE.items, RULE.windows, RULE.timezone, per_day, RULE.min_gap_minutes)
    prompts = ema_schedule(rule, "calm", participant, day)
    assert prompts == ema_schedule(rule, "calm", participant, day)
    assert 1 <= len(prompts) <= per_day
    zone = ZoneInfo(rule.timezone)
    for p in prompts:
        local = dt.datetime.fromtimestamp(p.due_ns / NS, zone)
        assert local.date() == day
        assert any(lo <= local.time() <= hi for lo, hi in rule.windows)
    gaps = [b.due_ns - a.due_ns for a, b in itertools.pairwise(prompts)]
    assert all(g >= rule.min_gap_minutes * 60 * NS for g in gaps)
    assert len({p.id for p in prompts}) == len(prompts)


def test_ema_schedule_differs_between_people_and_days_and_spreads_over_windows() -> None:
    day = dt.date(2026, 3, 2)
    a = ema_schedule(RULE, "calm", "P1", day)
    assert a != ema_schedule(RULE, "calm", "P2", day)
    assert a != ema_schedule(RULE, "calm", "P1", day + dt.timedelta(days=1))
    assert len(a) == 5
    # 5 prompts over 3 windows: each window gets 1 or 2.
    zone = ZoneInfo(RULE.timezone)
    per_window = [
        sum(lo <= dt.datetime.fromtimestamp(p.due_ns / NS, zone).time() <= hi for p in a)
        for lo, hi in RULE.windows
    ]
    assert sorted(per_window) == [1, 2, 2]


def test_a_gap_the_windows_cannot_hold_keeps_what_fits() -> None:
    """Six prompts 60 min apart cannot fit one 2-hour window: the schedule keeps fewer."""
    rule = EmaRule(("stress",), ((dt.time(9), dt.time(11)),), per_day=6, min_gap_minutes=60)
    prompts = ema_schedule(rule, "s", "P1", dt.date(2026, 1, 5))
    assert 1 <= len(prompts) <= 3


def test_phase_boundaries_get_one_prompt_each() -> None:
    """Three phases back to back and a fourth after a gap: a prompt at each of the two
    boundaries between touching phases, none across the gap; a boundary that already has a
    before/after prompt gets no second one."""
    kinds = [("baseline", 0, 300), ("stressor", 300, 420), ("recovery", 420, 600),
             ("self-care", 900, 1200)]  # fmt: skip
    sessions = [
        Session(participant="P1", study="x", kind=k, start_ns=a * NS, end_ns=b * NS)
        for k, a, b in kinds
    ]
    only = AskRule(phase_boundaries=True)
    assert [(p.id, p.due_ns // NS) for p in session_prompts(sessions, only)] == [
        ("boundary:baseline>stressor:300", 300),
        ("boundary:stressor>recovery:420", 420),
    ]
    both = AskRule(after=("stressor",), phase_boundaries=True)
    assert [p.id for p in session_prompts(sessions, both)] == [
        "boundary:baseline>stressor:300",
        "after:stressor:300",
    ]
