"""What the pipeline produces: window features, stress index rows and sessions."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FeatureRow", "Session", "StressRow"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureRow:
    """Features of one participant's windows ending at ``time_ns``.

    ``values`` maps a feature name with its unit (``rmssd_ms``) to its value, or ``None`` when
    the window did not hold enough good data; ``reasons`` says why for each missing family.
    ``plausible`` is False when the window's beats failed the plausibility checks
    (docs/features.md): such a window never enters a baseline.
    """

    time_ns: int
    participant: str
    study: str
    values: dict[str, float | None]
    quality: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    plausible: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class StressRow:
    """The stress index (0-100, 50 = the participant's own baseline) at ``time_ns``."""

    time_ns: int
    participant: str
    study: str
    index: float | None
    confidence: float
    components: dict[str, float | None]  # z-scores against the baseline, signed so + = stress
    version: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A marked period (baseline, stressor, self-care session...) of one participant."""

    participant: str
    study: str
    kind: str
    start_ns: int
    end_ns: int | None
    mode: str = ""
    label: str = ""
    note: str = ""
