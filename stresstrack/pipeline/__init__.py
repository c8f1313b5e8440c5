"""Streaming pipeline: beats and skin conductance in, window features and stress index out."""

from stresstrack.pipeline.engine import Output, Pipeline, PipelineConfig
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
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
