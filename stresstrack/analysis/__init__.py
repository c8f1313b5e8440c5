"""Session effects: before / during / after each session, and paired statistics across
participants (see docs/sessions.md)."""

from stresstrack.analysis.sessions import (
    MEASURES,
    Analysis,
    AnalysisSettings,
    GroupSummary,
    Measure,
    ParticipantEffect,
    Period,
    SessionResult,
    analyze,
    analyze_participant,
    analyze_store,
)
from stresstrack.analysis.stats import PairedStats, bootstrap_bca, cohens_dz, paired_stats
from stresstrack.analysis.tables import TABLE_FILES, write_tables

__all__ = [
    "MEASURES",
    "TABLE_FILES",
    "Analysis",
    "AnalysisSettings",
    "GroupSummary",
    "Measure",
    "PairedStats",
    "ParticipantEffect",
    "Period",
    "SessionResult",
    "analyze",
    "analyze_participant",
    "analyze_store",
    "bootstrap_bca",
    "cohens_dz",
    "paired_stats",
    "write_tables",
]
