"""ASHRAE Guideline 14 statistics and the t distribution behind them (issue 18, item 2)."""

from __future__ import annotations

import math

import pytest

from openbms.analytics.gl14 import CRITERIA, fit_stats, t_quantile, t_two_sided_p


def test_statistics_use_n_minus_p_degrees_of_freedom() -> None:
    actual = [10.0, 12.0, 14.0, 16.0]
    predicted = [11.0, 11.0, 15.0, 15.0]  # residuals −1, +1, −1, +1
    s = fit_stats(actual, predicted, p=2)
    # mean 13; Σr² = 4; CV = sqrt(4 / (4 − 2)) / 13; Σr = 0; R² = 1 − 4 / 20.
    assert s.cvrmse_pct == pytest.approx(100 * math.sqrt(2) / 13)
    assert s.nmbe_pct == pytest.approx(0.0)
    assert s.r2 == pytest.approx(0.8)
    biased = fit_stats(actual, [9.0, 11.0, 13.0, 15.0], p=1)  # predicts 1 low everywhere
    assert biased.nmbe_pct == pytest.approx(100 * 4 / (3 * 13))


def test_criteria_hourly_and_monthly() -> None:
    assert (CRITERIA["hourly"].cvrmse_pct, CRITERIA["hourly"].nmbe_pct) == (30.0, 10.0)
    assert (CRITERIA["monthly"].cvrmse_pct, CRITERIA["monthly"].nmbe_pct) == (15.0, 5.0)
    y = [100.0 + (i % 2) * 40 for i in range(100)]  # a model predicting 120 everywhere: CV ≈ 20 %
    s = fit_stats(y, [120.0] * 100, p=1)
    assert 15 < s.cvrmse_pct < 30 and abs(s.nmbe_pct) < 5
    assert s.meets("hourly") and not s.meets("monthly")


def test_autocorrelation_counts_only_adjacent_rows() -> None:
    resid = [1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0]
    s = fit_stats(resid, [0.0] * 8, p=1)
    assert abs(s.autocorrelation) < 0.2  # 4 pairs agree, 3 differ
    # Only the pairs inside each run are adjacent: they agree in sign.
    joined = fit_stats(resid, [0.0] * 8, p=1, adjacent=[False, True, False, True, False, True, False, True])
    assert joined.autocorrelation == pytest.approx(1.0)


def test_t_distribution_matches_tables() -> None:
    assert t_quantile(0.95, 10) == pytest.approx(2.228, abs=1e-3)
    assert t_quantile(0.90, 5) == pytest.approx(2.015, abs=1e-3)
    assert t_quantile(0.90, 1e9) == pytest.approx(1.645, abs=1e-3)
    assert t_quantile(0.68, 30) == pytest.approx(1.0, abs=0.03)
    assert t_two_sided_p(2.228, 10) == pytest.approx(0.05, abs=1e-3)


def test_bad_arguments_say_what_was_expected() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        t_quantile(90, 10)
    with pytest.raises(ValueError, match="more are needed"):
        fit_stats([1.0, 2.0], [1.0, 2.0], p=2)
