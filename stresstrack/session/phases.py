"""A study protocol as data: its phases, blocks and crossover design, and the orders of the
blocks (Williams designs) each participant follows.

The file format, its checks and the shipped protocols are in :mod:`stresstrack.session.protocol`
(which re-exports these names, so ``from stresstrack.session.protocol import Protocol`` works).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_SECONDARY",
    "MODES",
    "MULTIPLICITY",
    "NS",
    "OUTCOMES",
    "Design",
    "Phase",
    "Protocol",
    "williams_orders",
]

NS: Final = 1_000_000_000
MODES: Final = ("solo", "partner")  # how a self-care session is done
# Adjustments of the secondary outcomes' p-values (stresstrack.analysis.stats.adjust_p).
MULTIPLICITY: Final = ("holm", "bh")
# Outcomes the analysis measures per period (stresstrack.analysis.sessions.MEASURES).
OUTCOMES: Final = (
    "stress_index", "hr_z", "ln_rmssd_z", "scl_z", "scr_rate_z", "hr", "rmssd", "scl", "scr_rate",
)  # fmt: skip


def williams_orders(k: int) -> list[tuple[int, ...]]:
    """Orders of ``k`` conditions balanced for first-order carry-over (Williams 1949): each
    condition follows every other equally often; ``k`` rows, ``2k`` when ``k`` is odd.

    >>> williams_orders(2)
    [(0, 1), (1, 0)]
    >>> williams_orders(3)
    [(0, 1, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0), (0, 2, 1), (1, 0, 2)]
    """
    if k < 1:
        raise ValueError("a design needs at least one condition")
    first = [0]
    lo, hi = 1, k - 1
    while len(first) < k:
        first.append(lo)
        lo += 1
        if len(first) < k:
            first.append(hi)
            hi -= 1
    rows = [tuple((c + i) % k for c in first) for i in range(k)]
    if k % 2:
        rows += [tuple(reversed(r)) for r in rows]
    return rows


DEFAULT_SECONDARY: Final = ("hr", "rmssd", "scl", "scr_rate")


@dataclass(frozen=True, slots=True)
class Design:
    """What a study compares: its conditions (session kinds), control, and outcomes."""

    conditions: tuple[str, ...]
    control: str | None = None
    primary: str = "stress_index"
    secondary: tuple[str, ...] = DEFAULT_SECONDARY
    smallest_effect: float | None = None  # in the primary outcome's units
    counterbalance: bool = True
    # secondary outcomes' family: "holm" (family-wise error, Holm 1979) or "bh" (false
    # discovery rate, Benjamini & Hochberg 1995)
    multiplicity: str = "holm"

    @property
    def treatments(self) -> tuple[str, ...]:
        """The conditions other than the control."""
        return tuple(c for c in self.conditions if c != self.control)


@dataclass(frozen=True, slots=True)
class Phase:
    kind: str  # baseline, stressor, self-care, recovery, rest, ...
    duration_s: float
    mode: str = ""  # solo / partner, for self-care sessions
    label: str = ""  # product or arm label
    prompt: str = ""  # what the participant is asked to do
    simulated_stress: float | None = None  # simulators only: true stress level (0-1)
    block: str = ""  # crossover block: its phases move together when orders are counterbalanced


@dataclass(frozen=True, slots=True)
class Protocol:
    name: str
    phases: tuple[Phase, ...]
    description: str = ""
    design: Design | None = None

    def blocks(self) -> list[tuple[str, tuple[Phase, ...]]]:
        """The runs of consecutive phases sharing a block name, in file order."""
        out: list[tuple[str, tuple[Phase, ...]]] = []
        for p in self.phases:
            if p.block and out and out[-1][0] == p.block:
                out[-1] = (p.block, (*out[-1][1], p))
            elif p.block:
                out.append((p.block, (p,)))
        return out

    def block_condition(self, phases: tuple[Phase, ...]) -> str:
        """The design condition a block's phases hold (the first phase of a condition kind)."""
        kinds = self.design.conditions if self.design else ()
        return next((p.kind for p in phases if p.kind in kinds), "")

    def orders(self) -> list[tuple[str, ...]]:
        """The counterbalanced orders of the blocks' conditions (one order if not
        counterbalanced)."""
        conditions = tuple(self.block_condition(ph) for _, ph in self.blocks())
        if not conditions or self.design is None or not self.design.counterbalance:
            return [conditions]
        return [tuple(conditions[j] for j in row) for row in williams_orders(len(conditions))]

    def order_for(self, index: int) -> tuple[str, ...]:
        """Participant ``index``'s (0-based) order of conditions."""
        orders = self.orders()
        return orders[index % len(orders)]

    def for_participant(self, index: int) -> Protocol:
        """The protocol participant ``index`` (0-based) follows: blocks in their order.

        >>> from stresstrack.session.protocol import load_protocol
        >>> p = load_protocol("stress-selfcare-vs-rest")
        >>> [x.kind for x in p.for_participant(1).phases if x.block]
        ['stressor', 'rest', 'recovery', 'stressor', 'self-care', 'recovery']
        """
        blocks = self.blocks()
        if not blocks or self.design is None or not self.design.counterbalance:
            return self
        by_condition = {self.block_condition(ph): ph for _, ph in blocks}
        queue = [by_condition[c] for c in self.order_for(index)]
        phases: list[Phase] = []
        block_no = 0
        # Replace each block, in place, by the next block of the order.
        i = 0
        while i < len(self.phases):
            p = self.phases[i]
            if not p.block:
                phases.append(p)
                i += 1
                continue
            size = len(blocks[block_no][1])
            phases += queue[block_no]
            block_no += 1
            i += size
        return Protocol(self.name, tuple(phases), self.description, self.design)

    @property
    def duration_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    def phase_bounds(self) -> list[tuple[float, float, Phase]]:
        """``(start_s, end_s, phase)`` for every phase, from the protocol's start."""
        out = []
        t = 0.0
        for p in self.phases:
            out.append((t, t + p.duration_s, p))
            t += p.duration_s
        return out
