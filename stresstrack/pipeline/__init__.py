"""Streaming pipeline: beats and skin conductance in, window features and stress index out.

The engine (NumPy, SciPy, NeuroKit2) loads on first use, so that light users of the result
types (the store, ``stresstrack mark``) start quickly.
"""

from typing import TYPE_CHECKING, Any

from stresstrack.pipeline.results import FeatureRow, Session, StressRow

if TYPE_CHECKING:
    from stresstrack.pipeline.engine import Output, Pipeline, PipelineConfig
    from stresstrack.pipeline.stress import STRESS_INDEX_VERSION

__all__ = [
    "STRESS_INDEX_VERSION",
    "FeatureRow",
    "Output",
    "Pipeline",
    "PipelineConfig",
    "Session",
    "StressRow",
]


def __getattr__(name: str) -> Any:
    if name in ("Output", "Pipeline", "PipelineConfig"):
        from stresstrack.pipeline import engine

        return getattr(engine, name)
    if name == "STRESS_INDEX_VERSION":
        from stresstrack.pipeline import stress

        return stress.STRESS_INDEX_VERSION
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
