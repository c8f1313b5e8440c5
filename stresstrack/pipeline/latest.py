"""The latest physiology per participant, for live views (``collect``'s terminal, ``serve``).

:class:`LatestValues` is a pipeline observer (``pipeline.observe(outputs=latest.observe)``)
keeping each participant's newest HR, RMSSD, SCL and stress index.
"""

from __future__ import annotations

from dataclasses import dataclass

from stresstrack.pipeline.engine import Output
from stresstrack.pipeline.results import FeatureRow, StressRow

__all__ = ["Latest", "LatestValues"]


@dataclass
class Latest:
    hr_bpm: float | None = None
    rmssd_ms: float | None = None
    scl_us: float | None = None
    stress: float | None = None
    confidence: float = 0.0

    def line(self) -> str:
        """e.g. ``HR 72 bpm · RMSSD 41.0 ms · SCL 4.10 µS · stress 55 (confidence 0.80)``.

        >>> Latest(72.4, 41.04, None, 55.2, 0.8).line()
        'HR 72 bpm · RMSSD 41.0 ms · SCL – · stress 55 (confidence 0.80)'
        """

        def fmt(x: float | None, f: str, unit: str) -> str:
            return "–" if x is None else f"{x:{f}}{unit}"

        stress = (
            "–" if self.stress is None else f"{self.stress:.0f} (confidence {self.confidence:.2f})"
        )
        return (
            f"HR {fmt(self.hr_bpm, '.0f', ' bpm')} · RMSSD {fmt(self.rmssd_ms, '.1f', ' ms')} · "
            f"SCL {fmt(self.scl_us, '.2f', ' µS')} · stress {stress}"
        )


class LatestValues:
    """Observer of pipeline outputs: each participant's newest values."""

    def __init__(self) -> None:
        self.by_participant: dict[str, Latest] = {}

    def observe(self, outputs: list[Output]) -> None:
        for o in outputs:
            if isinstance(o, FeatureRow):
                latest = self.by_participant.setdefault(o.participant, Latest())
                latest.hr_bpm = o.values.get("mean_hr_bpm")
                latest.rmssd_ms = o.values.get("rmssd_ms")
                latest.scl_us = o.values.get("scl_us")
            elif isinstance(o, StressRow):
                latest = self.by_participant.setdefault(o.participant, Latest())
                latest.stress, latest.confidence = o.index, o.confidence

    def lines(self) -> list[str]:
        return [f"{p}: {v.line()}" for p, v in sorted(self.by_participant.items())]
