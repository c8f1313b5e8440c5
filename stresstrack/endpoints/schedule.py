"""When self-report items are asked: around sessions, at phase boundaries, and as EMA prompts
(docs/endpoints.md, "When items are asked"). Pure functions of the study's rules and the
recorded sessions; the same inputs always give the same prompts.

EMA prompts are random within the study's windows (a signal-contingent schedule of
stratified random times, Shiffman, Stone & Hufford 2008): the day's prompts are spread over
the windows as evenly as ``per_day`` allows, each at a uniform time within its window, at
least ``min_gap_minutes`` apart. The draws are seeded by the study's seed, the participant
and the date, so a participant's schedule can be recomputed anywhere (companion, terminal,
analysis) and differs between participants and days.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import random
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from stresstrack.endpoints.config import AskRule, EmaRule
from stresstrack.pipeline.results import Session

__all__ = ["Prompt", "due_prompts", "ema_schedule", "session_prompts"]

NS: Final = 1_000_000_000
_TRIES: Final = 200  # redraws of a day's times before the gap rule is relaxed to what fits
_NEAR_NS: Final = 60 * NS  # sessions closer than this share a boundary


@dataclass(frozen=True, slots=True)
class Prompt:
    id: str  # stored with each answer (SelfReport.prompt_id)
    due_ns: int
    expires_ns: int
    items: tuple[str, ...]


def _kinds(kinds: Sequence[str], kind: str) -> bool:
    return "*" in kinds or kind in kinds


def session_prompts(sessions: Iterable[Session], rule: AskRule) -> list[Prompt]:
    """Prompts before and after the sessions the rule names, and (``phase_boundaries``) one
    at each boundary between consecutive sessions; sorted by due time, ids unique.

    >>> from stresstrack.endpoints.config import AskRule
    >>> s = Session(study="x", participant="P1", kind="self-care", start_ns=600 * NS,
    ...             end_ns=900 * NS)
    >>> rule = AskRule(before=("*",), after=("self-care",))
    >>> [(p.id, p.due_ns // NS) for p in session_prompts([s], rule)]
    [('before:self-care:600', 600), ('after:self-care:600', 900)]
    """
    expire = round(rule.expires_minutes * 60 * NS)
    out: dict[str, Prompt] = {}
    ordered = sorted(sessions, key=lambda s: s.start_ns)
    for s in ordered:
        stamp = s.start_ns // NS
        if _kinds(rule.before, s.kind):
            pid = f"before:{s.kind}:{stamp}"
            out[pid] = Prompt(pid, s.start_ns, s.start_ns + expire, rule.items)
        if s.end_ns is not None and _kinds(rule.after, s.kind):
            pid = f"after:{s.kind}:{stamp}"
            out[pid] = Prompt(pid, s.end_ns, s.end_ns + expire, rule.items)
    if rule.phase_boundaries:
        for a, b in itertools.pairwise(ordered):
            if a.end_ns is not None and abs(b.start_ns - a.end_ns) <= _NEAR_NS:
                pid = f"boundary:{a.kind}>{b.kind}:{b.start_ns // NS}"
                if not any(p.due_ns == b.start_ns or p.due_ns == a.end_ns for p in out.values()):
                    out[pid] = Prompt(pid, a.end_ns, a.end_ns + expire, rule.items)
    return sorted(out.values(), key=lambda p: (p.due_ns, p.id))


def _rng(rule: EmaRule, study: str, participant: str, day: dt.date) -> random.Random:
    key = f"{rule.seed}\0{study}\0{participant}\0{day.isoformat()}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def _counts(rng: random.Random, windows: int, per_day: int) -> list[int]:
    """Prompts per window: as even as possible, the remainder in randomly chosen windows."""
    counts = [per_day // windows] * windows
    for w in rng.sample(range(windows), per_day % windows):
        counts[w] += 1
    return counts


def ema_schedule(rule: EmaRule, study: str, participant: str, day: dt.date) -> list[Prompt]:
    """The EMA prompts of ``participant`` on ``day`` (local date of ``rule.timezone``).

    >>> from stresstrack.endpoints.config import EmaRule
    >>> rule = EmaRule(("stress",), ((dt.time(9), dt.time(12)),), per_day=2, min_gap_minutes=30)
    >>> a = ema_schedule(rule, "s", "P1", dt.date(2026, 1, 5))
    >>> a == ema_schedule(rule, "s", "P1", dt.date(2026, 1, 5)), len(a)
    (True, 2)
    """
    zone = ZoneInfo(rule.timezone)
    rng = _rng(rule, study, participant, day)
    spans = []
    for lo, hi in rule.windows:
        a = dt.datetime.combine(day, lo, zone).timestamp()
        b = dt.datetime.combine(day, hi, zone).timestamp()
        spans.append((a, b))
    counts = _counts(rng, len(spans), rule.per_day)
    gap = rule.min_gap_minutes * 60.0
    times: list[float] = []
    for _ in range(_TRIES):
        times = sorted(
            rng.uniform(a, b) for (a, b), k in zip(spans, counts, strict=True) for _ in range(k)
        )
        if all(y - x >= gap for x, y in itertools.pairwise(times)):
            break
    else:  # the windows cannot hold this many prompts this far apart: keep what fits
        kept: list[float] = []
        for t in times:
            if not kept or t - kept[-1] >= gap:
                kept.append(t)
        times = kept
    expire = round(rule.expires_minutes * 60 * NS)
    out = []
    for n, t in enumerate(times, 1):
        due = round(t * NS)
        out.append(Prompt(f"ema:{day.isoformat()}:{n}", due, due + expire, rule.items))
    return out


def due_prompts(now_ns: int, prompts: Iterable[Prompt], answered: Collection[str]) -> list[Prompt]:
    """Prompts open at ``now_ns`` (due, not expired) that have no answer yet."""
    return [p for p in prompts if p.due_ns <= now_ns < p.expires_ns and p.id not in answered]
