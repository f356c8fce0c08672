"""Avoided energy over a reporting period, and how sure it is (IPMVP option C, ASHRAE Guideline 14).

::

    Baseline (fitted before the measure) + reporting rows (after it) − exclusions
      ──▶ adjusted baseline Σŷ (what the building would have used in this weather)
          actual Σy, avoided energy Σŷ − Σy, fraction F = avoided / Σŷ
          fractional savings uncertainty at a confidence (Guideline 14 Annex B)

The uncertainty of the savings, as a fraction of them::

    FSU = 1.26 · t · CV · sqrt((n / n′) · (1 + 2 / n′) · (1 / m)) / F,    n′ = n · (1 − ρ) / (1 + ρ)

with CV the baseline's CV(RMSE) (a fraction), n its rows, p its parameters, t
the two-sided Student t of the confidence at n − p degrees of freedom, m the
reporting rows and ρ the lag-1 autocorrelation of the baseline's residuals
(hourly and daily rows are autocorrelated; a negative ρ counts as 0). Savings
are then ``avoided ± FSU × avoided`` at that confidence. Everything is pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openbms.analytics.baseline import Baseline, Exclusion, _arrays, _keep, interval_of
from openbms.analytics.gl14 import t_quantile

__all__ = [
    "Normalised",
    "Savings",
    "fractional_savings_uncertainty",
    "normalised_savings",
    "savings",
]

#: A demand meter's hour counts when its rollup covers at least this share of it (else it is a gap:
#: part of an hour's energy would read as a low hour).
MIN_COVERED = 0.9


@dataclass(frozen=True, slots=True)
class Savings:
    """What a measure saved over a reporting period, in the meter's energy unit (kWh).

    ``fsu`` is the fractional savings uncertainty at ``confidence``: the savings
    lie within ``avoided ± fsu × avoided`` (``low``, ``high``). It is infinite
    when nothing was saved.
    """

    rows: int
    excluded_rows: int
    exclusions: tuple[Exclusion, ...]
    adjusted_baseline: float
    actual: float
    avoided: float
    fraction: float
    confidence: float
    fsu: float

    @property
    def low(self) -> float:
        """The lower end of the avoided energy at the confidence."""
        return self.avoided - abs(self.avoided) * self.fsu

    @property
    def high(self) -> float:
        """The upper end of the avoided energy at the confidence."""
        return self.avoided + abs(self.avoided) * self.fsu


def fractional_savings_uncertainty(
    cvrmse_pct: float, n: int, p: int, m: int, fraction: float, rho: float = 0.0, confidence: float = 0.9
) -> float:
    """Guideline 14 Annex B's fractional savings uncertainty (a fraction of the savings; 0.2 is ±20 %)."""
    if n <= p:
        raise ValueError(f"a baseline of {n} rows and {p} parameters has no degrees of freedom left")
    if m <= 0:
        raise ValueError("a reporting period needs at least one row")
    if fraction == 0 or not math.isfinite(fraction):
        return math.inf
    rho = min(max(rho, 0.0), 0.99)
    n_eff = n * (1.0 - rho) / (1.0 + rho)
    t = t_quantile(confidence, n - p)
    return 1.26 * t * (cvrmse_pct / 100.0) * math.sqrt((n / n_eff) * (1.0 + 2.0 / n_eff) / m) / abs(fraction)


def savings(
    baseline: Baseline,
    ts: npt.ArrayLike,
    actual: npt.ArrayLike,
    temp: npt.ArrayLike,
    exclude: Sequence[Exclusion] = (),
    confidence: float = 0.9,
) -> Savings:
    """Avoided energy over the reporting rows (energy of the interval, mean °C), leaving out ``exclude``.

    The reporting rows must have the baseline's interval (hourly or daily):
    the uncertainty formula counts rows of one interval.
    """
    t, x, y = _arrays(ts, temp, actual)
    assert y is not None
    keep = _keep(t, exclude)
    t, x, y = t[keep], x[keep], y[keep]
    if len(t) == 0:
        raise ValueError("the reporting period has no rows outside its exclusions")
    if len(t) > 1 and interval_of(t) != baseline.interval:
        raise ValueError(f"reporting rows are {interval_of(t)} but the baseline was fitted on "
                         f"{baseline.interval} rows: give rows of the same interval")
    predicted = baseline.predict(t, x, baseline.interval)
    adjusted = float(np.sum(predicted))
    used = float(np.sum(y))
    avoided = adjusted - used
    fraction = avoided / adjusted if adjusted else math.inf
    s = baseline.stats
    fsu = fractional_savings_uncertainty(s.cvrmse_pct, s.n, s.p, len(t), fraction, s.autocorrelation,
                                         confidence)
    return Savings(rows=len(t), excluded_rows=int((~keep).sum()), exclusions=tuple(exclude),
                   adjusted_baseline=adjusted, actual=used, avoided=avoided, fraction=fraction,
                   confidence=confidence, fsu=fsu)


@dataclass(frozen=True, slots=True)
class Normalised:
    """Normalised savings: what each period's model says of the same conditions (kWh)."""

    baseline: float
    reporting: float

    @property
    def avoided(self) -> float:
        """Energy the measure saves under the normal conditions."""
        return self.baseline - self.reporting

    @property
    def fraction(self) -> float:
        """The saving as a share of the baseline model's energy."""
        return self.avoided / self.baseline if self.baseline else math.inf


def normalised_savings(
    baseline: Baseline, reporting: Baseline, ts: npt.ArrayLike, temp: npt.ArrayLike
) -> Normalised:
    """Both periods' models applied to the same conditions (a typical year's weather and calendar).

    ``reporting`` is a model fitted on the reporting period like ``baseline`` on
    the baseline period; unlike avoided energy, the result does not depend on the
    reporting period's own weather.
    """
    t, x, _ = _arrays(ts, temp, ordered=False)
    kind = interval_of(t) if len(t) > 1 else baseline.interval
    return Normalised(float(np.sum(baseline.predict(t, x, kind))),
                      float(np.sum(reporting.predict(t, x, kind))))
