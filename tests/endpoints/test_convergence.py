"""Repeated-measures and between-person correlations against pingouin (an independent
implementation, tested against the rmcorr R package)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from stresstrack.analysis.convergence import between_corr, rm_corr

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pingouin as pg


def _quiet(f: Any, *args: Any, **kwargs: Any) -> Any:
    """pingouin's pandas calls warn about pandas 4 deprecations (not about the result)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*args, **kwargs)


def _data(seed: int, k: int, m: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    who = [f"p{i}" for i in range(k) for _ in range(m)]
    offset = np.repeat(rng.normal(0, 5, k), m)  # people differ in level
    x = rng.normal(0, 1, k * m) + offset
    y = 0.6 * x - 1.5 * offset + rng.normal(0, 1, k * m)  # within +, between - : they differ
    return who, x, y


@pytest.mark.parametrize(("seed", "k", "m"), [(1, 8, 4), (2, 12, 6), (3, 5, 10), (4, 20, 2)])
def test_rm_corr_matches_pingouin(seed: int, k: int, m: int) -> None:
    who, x, y = _data(seed, k, m)
    mine = rm_corr(who, list(x), list(y))
    ref = _quiet(pg.rm_corr, pd.DataFrame({"s": who, "x": x, "y": y}), x="x", y="y", subject="s")
    assert mine.r == pytest.approx(float(ref["r"].iloc[0]), abs=1e-9)
    assert mine.df == int(ref["dof"].iloc[0])
    assert mine.p == pytest.approx(float(ref["pval"].iloc[0]), rel=1e-6)
    lo, hi = ref["CI95"].iloc[0]  # pingouin rounds its CI to 2 decimals
    assert mine.ci == pytest.approx((lo, hi), abs=0.005 + 1e-9)


def test_between_corr_is_pearson_of_the_means() -> None:
    who, x, y = _data(5, 10, 5)
    df = pd.DataFrame({"s": who, "x": x, "y": y}).groupby("s").mean()
    ref = _quiet(pg.corr, df["x"], df["y"])
    mine = between_corr(who, list(x), list(y))
    assert mine.r == pytest.approx(float(ref["r"].iloc[0]))
    assert mine.ci == pytest.approx(tuple(ref["CI95"].iloc[0]), abs=0.005 + 1e-9)
    # Within people the association is positive, between them negative (by construction).
    assert rm_corr(who, list(x), list(y)).r > 0 > mine.r


def test_too_little_data_is_a_note_not_a_number() -> None:
    c = rm_corr(["a", "b"], [1.0, 2.0], [1.0, 3.0])
    assert np.isnan(c.r) and "more repeated" in c.note
    assert "4 participants" in between_corr(["a", "b"], [1.0, 2.0], [1.0, 3.0]).note
