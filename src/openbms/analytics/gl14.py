"""ASHRAE Guideline 14 statistics of a fitted model, and the Student t distribution they need.

::

    actual y, predicted ŷ, p parameters ──▶ FitStats: R², CV(RMSE), NMBE (n − p degrees of freedom),
                                             lag-1 autocorrelation of the residuals
    FitStats + criteria ("hourly", "monthly") ──▶ met or not

Guideline 14 (2014) divides both sums by ``n − p``, the degrees of freedom
left once the model's ``p`` parameters are fitted::

    CV(RMSE) = sqrt(Σ (y − ŷ)² / (n − p)) / ȳ
    NMBE     = Σ (y − ŷ) / ((n − p) · ȳ)

(positive NMBE: the model predicts less than the building used). Its
calibration criteria are CV(RMSE) ≤ 30 % and NMBE within ±10 % for hourly
data, 15 % and ±5 % for monthly data.

The t distribution (p-values of coefficients, the t of a confidence level)
comes from the regularised incomplete beta function, so numpy is the only
numerical library analytics needs. Everything here is pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "CRITERIA",
    "Criteria",
    "FitStats",
    "fit_stats",
    "t_quantile",
    "t_two_sided_p",
]

Interval = Literal["hourly", "monthly"]


@dataclass(frozen=True, slots=True)
class Criteria:
    """Guideline 14's limits for one data interval, in percent."""

    cvrmse_pct: float
    nmbe_pct: float


#: Guideline 14's calibration criteria: hourly data, monthly data.
CRITERIA: dict[Interval, Criteria] = {
    "hourly": Criteria(cvrmse_pct=30.0, nmbe_pct=10.0),
    "monthly": Criteria(cvrmse_pct=15.0, nmbe_pct=5.0),
}


@dataclass(frozen=True, slots=True)
class FitStats:
    """How well a model fits: percentages are percent, ``autocorrelation`` is the lag-1 ρ of the residuals."""

    n: int
    p: int
    mean: float
    r2: float
    cvrmse_pct: float
    nmbe_pct: float
    autocorrelation: float

    def meets(self, interval: Interval = "hourly") -> bool:
        """Whether CV(RMSE) and NMBE are within Guideline 14's criteria for ``interval`` data."""
        c = CRITERIA[interval]
        return self.cvrmse_pct <= c.cvrmse_pct and abs(self.nmbe_pct) <= c.nmbe_pct


def fit_stats(
    actual: npt.ArrayLike,
    predicted: npt.ArrayLike,
    p: int,
    adjacent: npt.ArrayLike | None = None,
) -> FitStats:
    """Guideline 14 statistics of ``predicted`` against ``actual`` for a model of ``p`` parameters.

    ``adjacent[i]`` says whether row ``i`` directly follows row ``i − 1`` in
    time (no gap between them); the autocorrelation uses only such pairs.
    Without it every row follows the one before.
    """
    y = np.asarray(actual, dtype=float)
    f = np.asarray(predicted, dtype=float)
    n = len(y)
    if n != len(f):
        raise ValueError(f"{n} actual values but {len(f)} predicted")
    if n <= p:
        raise ValueError(f"{n} values cannot judge a model of {p} parameters: more are needed")
    resid = y - f
    mean = float(y.mean())
    ss_res = float(resid @ resid)
    dev = y - mean
    ss_tot = float(dev @ dev)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    dof = n - p
    if mean == 0:
        cv = nmbe = math.inf
    else:
        cv = 100.0 * math.sqrt(ss_res / dof) / abs(mean)
        nmbe = 100.0 * float(resid.sum()) / (dof * mean)
    return FitStats(n=n, p=p, mean=mean, r2=r2, cvrmse_pct=cv, nmbe_pct=nmbe,
                    autocorrelation=lag1_autocorrelation(resid, adjacent))


def lag1_autocorrelation(resid: npt.ArrayLike, adjacent: npt.ArrayLike | None = None) -> float:
    """ρ of residuals one interval apart, over the pairs of rows ``adjacent`` marks (0 when none)."""
    r = np.asarray(resid, dtype=float)
    if len(r) < 3:
        return 0.0
    pair = np.ones(len(r) - 1, dtype=bool) if adjacent is None else np.asarray(adjacent, dtype=bool)[1:]
    centred = r - r.mean()
    den = float(centred @ centred)
    if den == 0 or not pair.any():
        return 0.0
    num = float((centred[1:] * centred[:-1])[pair].sum())
    # The mean product of the pairs used over the variance, so a gappy series is not biased towards zero.
    return (num / int(pair.sum())) / (den / len(r))


# --- Student's t ----------------------------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    ln = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(ln) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln) * _betacf(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, dof: float) -> float:
    """P(|T| ≥ |t|) for Student's t with ``dof`` degrees of freedom."""
    if not math.isfinite(t):
        return 0.0
    return _betainc(dof / 2.0, 0.5, dof / (dof + t * t))


def t_quantile(confidence: float, dof: float) -> float:
    """The two-sided t of a confidence level: P(|T| ≤ t) = ``confidence`` (1.645 at 90 %, ∞ dof)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.9), not {confidence}")
    alpha = 1.0 - confidence
    lo, hi = 0.0, 1.0
    while t_two_sided_p(hi, dof) > alpha:
        hi *= 2.0
    for _ in range(100):
        mid = (lo + hi) / 2.0
        if t_two_sided_p(mid, dof) > alpha:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0
