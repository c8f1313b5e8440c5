"""A small version of validation/stress_index.py: the index follows the true stress level."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "validation"))

from stress_index import CLEAN, REALISTIC, run_cohort


def test_index_follows_true_stress_on_clean_signals() -> None:
    rhos = run_cohort(2, seed=11, art=CLEAN)
    assert min(rhos) >= 0.9, rhos


def test_index_follows_true_stress_with_artefacts_and_dropouts() -> None:
    rhos = run_cohort(2, seed=12, art=REALISTIC)
    assert float(np.median(rhos)) >= 0.8, rhos
