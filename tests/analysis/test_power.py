"""Power and sample size: the paired design against statsmodels' TTestPower, the crossover's
definition (n - 3 df) against scipy's noncentral t called directly, and the CLI."""

from __future__ import annotations

import math

import pytest
from scipy import stats
from statsmodels.stats.power import TTestPower

from stresstrack.analysis.power import min_detectable_dz, power, sample_size
from stresstrack.cli import main


@pytest.mark.parametrize(("dz", "n"), [(0.5, 20), (0.3, 50), (0.8, 10), (-0.5, 20)])
def test_prepost_power_equals_statsmodels(dz: float, n: int) -> None:
    assert power(dz, n, "prepost") == pytest.approx(
        TTestPower().power(abs(dz), n, 0.05, alternative="two-sided"), rel=1e-9
    )


def test_sample_size_and_minimum_effect_equal_statsmodels_solve_power() -> None:
    n80 = TTestPower().solve_power(effect_size=0.5, alpha=0.05, power=0.8)
    assert sample_size(0.5, 0.8, "prepost") == math.ceil(n80)
    mde = TTestPower().solve_power(nobs=34, alpha=0.05, power=0.8)
    # statsmodels solves to its own tolerance (about 1e-6 relative).
    assert min_detectable_dz(34, 0.8, "prepost") == pytest.approx(mde, rel=1e-5)


def test_crossover_power_is_the_noncentral_t_on_n_minus_3_df() -> None:
    n, dz = 20, 0.5
    crit = stats.t.ppf(0.975, n - 3)
    ncp = dz * math.sqrt(n)
    expected = stats.nct.sf(crit, n - 3, ncp) + stats.nct.cdf(-crit, n - 3, ncp)
    assert power(dz, n, "crossover") == pytest.approx(expected, rel=1e-12)
    n80 = sample_size(dz, 0.8, "crossover")
    assert power(dz, n80, "crossover") >= 0.8 > power(dz, n80 - 1, "crossover")


def test_power_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["power", "--dz", "0.5", "--n", "20"]) == 0
    out = capsys.readouterr().out
    assert "participants for 80% power: 34" in out and "participants for 90% power: 45" in out
    assert "power with n = 20: 55.9%" in out
    assert main(["power", "--design", "prepost", "--effect", "5", "--sd", "10"]) == 0
    assert "effect: dz 0.500 = 5 / SD 10" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--effect", "5"], "--effect needs exactly one of --sd S or --pilot STORE"),
        (["--dz", "0"], "the effect must be a finite number other than 0"),
        (["--dz", "0.5", "--n", "3"], "needs at least 4 participants, got 3"),
        (["--effect", "2", "--pilot", "nowhere.db"], "pilot store nowhere.db: no such file"),
    ],
)
def test_power_errors_are_clear(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["power", *argv]) == 2
    assert message in capsys.readouterr().err
