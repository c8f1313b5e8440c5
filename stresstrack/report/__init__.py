"""Reports read from the store: one self-contained HTML page."""

from stresstrack.report.html import render_report

__all__ = ["render_report"]
