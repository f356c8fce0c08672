"""M&V on the emulated office, where the true saving is known: a baseline fitted, a saving recovered.

::

    year Y, baseline sequence ──────────────▶ fit_baseline (hourly rows; and daily rows)
                                                │  Guideline 14 statistics (in-sample, as Guideline 14 does)
    reporting days from 1 January Y+1:          ▼
      improved sequence (the measure) ──▶ savings(): estimated saving = 1 − actual / adjusted baseline
      baseline sequence (counterfactual) ─▶ true saving = 1 − improved / counterfactual
                                            out-of-sample CV(RMSE): the model against the counterfactual

Both reporting runs start from the same day with the same seed, so weather
and occupants are identical (``openbms.sim.building.meters``): their
difference is the measure's saving and nothing else. The runs take minutes
(about a second of one core per simulated day), so each is cached as a
``.npz`` under ``cache`` (a folder outside the repository), named by what
made it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from openbms.analytics.baseline import fit_baseline
from openbms.analytics.gl14 import fit_stats
from openbms.analytics.savings import savings
from openbms.bench import Figure
from openbms.sim.building.meters import DEFAULT_STEP, Meter, MeterHours, simulate_hours

__all__ = ["Evaluation", "MeterEvaluation", "evaluate", "meter_hours"]

_F = npt.NDArray[np.float64]


def meter_hours(
    cache: Path | None,
    days: int,
    start: date,
    *,
    seed: int,
    climate: str,
    sequence: str,
    step: float,
    progress: Callable[[float], None] | None = None,
) -> MeterHours:
    """``simulate_hours``, read from ``cache`` when it ran with the same arguments, else saved there."""
    name = f"meters-{climate}-seed{seed}-{sequence}-{start.isoformat()}-{days}d-step{step:g}.npz"
    path = cache / name if cache is not None else None
    if path is not None and path.exists():
        with np.load(path) as got:
            return MeterHours(got["ts"], got["electricity"], got["gas"], got["temperature"],
                              float(got["utc_offset"]))
    hours = simulate_hours(days, start, seed=seed, climate=climate, sequence=sequence, step=step,
                           progress=progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npz")  # a run stopped half-way leaves no cache entry
        np.savez(partial, ts=hours.ts, electricity=hours.electricity, gas=hours.gas,
                 temperature=hours.temperature, utc_offset=hours.utc_offset)
        partial.replace(path)
    return hours


def zone_of(utc_offset: float) -> ZoneInfo:
    """The building's standard time as an IANA zone (Etc/GMT+6 is UTC−6)."""
    if utc_offset != int(utc_offset):
        raise ValueError(f"the climate is {utc_offset} h from UTC: whole hours are expected")
    return ZoneInfo("UTC" if utc_offset == 0 else f"Etc/GMT{-int(utc_offset):+d}")


def _days(ts: _F, value: _F, temp: _F) -> tuple[_F, _F, _F]:
    """Hourly rows from local midnight, 24 to a day (standard time: no 23- or 25-hour days) → daily rows."""
    n = len(ts) // 24
    return (ts[: n * 24 : 24], value[: n * 24].reshape(n, 24).sum(axis=1),
            temp[: n * 24].reshape(n, 24).mean(axis=1))


@dataclass(frozen=True, slots=True)
class MeterEvaluation:
    """One meter's figures: the fit on the baseline year and the reporting period's savings, in percent."""

    meter: Meter
    model: str  # the model the hourly baseline chose: "hourly" (TOWT) or "daily" (change-point)
    hourly_cvrmse_pct: float  # in-sample, Guideline 14's n − p
    hourly_nmbe_pct: float
    hourly_r2: float
    hourly_out_of_sample_cvrmse_pct: float  # the baseline against the counterfactual's hours
    daily_cvrmse_pct: float  # the daily change-point model fitted on daily rows, in-sample
    daily_out_of_sample_cvrmse_pct: float
    true_saving_pct: float  # 1 − improved / counterfactual over the reporting period
    estimated_saving_pct: float  # hourly baseline: 1 − actual / adjusted baseline
    estimated_fsu_pct: float  # the estimate's fractional savings uncertainty at 90 %, % of the savings
    daily_estimated_saving_pct: float

    @property
    def error_pp(self) -> float:
        """Estimated minus true saving, percentage points (hourly baseline)."""
        return self.estimated_saving_pct - self.true_saving_pct

    @property
    def daily_error_pp(self) -> float:
        """Estimated minus true saving, percentage points (daily baseline)."""
        return self.daily_estimated_saving_pct - self.true_saving_pct

    def figures(self, prefix: str = "analytics.") -> Iterator[Figure]:
        """The figures as ``openbms bench`` prints them; electricity's without a meter in the name."""
        tag = "" if self.meter == "electricity" else f"{self.meter}_"
        p = f"{prefix}{tag}"
        yield (f"{p}baseline_cvrmse_pct", round(self.hourly_cvrmse_pct, 2), "%")
        yield (f"{p}baseline_nmbe_pct", round(self.hourly_nmbe_pct, 3) + 0.0, "%")  # never "-0.0"
        yield (f"{p}baseline_r2", round(self.hourly_r2, 4), "")
        yield (f"{p}baseline_out_of_sample_cvrmse_pct", round(self.hourly_out_of_sample_cvrmse_pct, 2), "%")
        yield (f"{p}baseline_daily_cvrmse_pct", round(self.daily_cvrmse_pct, 2), "%")
        yield (f"{p}baseline_daily_out_of_sample_cvrmse_pct", round(self.daily_out_of_sample_cvrmse_pct, 2),
               "%")
        yield (f"{p}saving_true_pct", round(self.true_saving_pct, 2), "%")
        yield (f"{p}saving_estimated_pct", round(self.estimated_saving_pct, 2), "%")
        yield (f"{p}saving_error_pp", round(self.error_pp, 2), "pp")
        yield (f"{p}saving_fsu_pct", round(self.estimated_fsu_pct, 1), "%")
        yield (f"{p}saving_daily_estimated_pct", round(self.daily_estimated_saving_pct, 2), "%")
        yield (f"{p}saving_daily_error_pp", round(self.daily_error_pp, 2), "pp")


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Both meters' figures, and what was simulated."""

    electricity: MeterEvaluation
    gas: MeterEvaluation
    baseline_days: int
    reporting_days: int
    seed: int
    climate: str

    def figures(self) -> Iterator[Figure]:
        """Every figure, electricity's first."""
        yield from self.electricity.figures()
        yield from self.gas.figures()


def _evaluate_meter(meter: Meter, base: MeterHours, actual: MeterHours, counterfactual: MeterHours,
                    zone: ZoneInfo) -> MeterEvaluation:
    y = base.energy(meter)
    fitted = fit_baseline(base.ts, y, base.temperature, zone)
    rep_y, cf_y = actual.energy(meter), counterfactual.energy(meter)
    got = savings(fitted, actual.ts, rep_y, actual.temperature, confidence=0.9)
    true = 1.0 - float(rep_y.sum()) / float(cf_y.sum())
    expected = fitted.predict(counterfactual.ts, counterfactual.temperature, "hourly")
    out_of_sample = fit_stats(cf_y, expected, 0)
    day_ts, day_y, day_x = _days(base.ts, y, base.temperature)
    daily = fit_baseline(day_ts, day_y, day_x, zone)
    rep_day = _days(actual.ts, rep_y, actual.temperature)
    cf_day = _days(counterfactual.ts, cf_y, counterfactual.temperature)
    daily_got = savings(daily, *rep_day, confidence=0.9)
    daily_oos = fit_stats(cf_day[1], daily.predict(cf_day[0], cf_day[2], "daily"), 0)
    return MeterEvaluation(
        meter=meter, model=fitted.model, hourly_cvrmse_pct=fitted.stats.cvrmse_pct,
        hourly_nmbe_pct=fitted.stats.nmbe_pct, hourly_r2=fitted.stats.r2,
        hourly_out_of_sample_cvrmse_pct=out_of_sample.cvrmse_pct, daily_cvrmse_pct=daily.stats.cvrmse_pct,
        daily_out_of_sample_cvrmse_pct=daily_oos.cvrmse_pct, true_saving_pct=100.0 * true,
        estimated_saving_pct=100.0 * got.fraction,
        estimated_fsu_pct=100.0 * got.fsu if math.isfinite(got.fsu) else math.inf,
        daily_estimated_saving_pct=100.0 * daily_got.fraction)


def evaluate(
    cache: Path | None = None,
    *,
    year: int = 2025,
    baseline_days: int = 365,
    reporting_days: int = 59,
    seed: int = 0,
    climate: str = "temperate",
    step: float = DEFAULT_STEP,
    progress: Callable[[str, float], None] | None = None,
) -> Evaluation:
    """A baseline year from 1 January of ``year`` and a reporting period from the day after it.

    By default: 2025 under the conventional sequence, then January and February
    2026 under the improved one and, for the truth, under the conventional one
    (about 8 minutes of one core the first time; ``progress`` gets the run's
    name and its fraction done). ``cache`` is a folder for the runs.
    """
    first = date(year, 1, 1)
    reporting = first + timedelta(days=baseline_days)
    runs = {}
    for name, start, days, sequence in (("baseline period", first, baseline_days, "baseline"),
                                        ("reporting, improved", reporting, reporting_days, "improved"),
                                        ("reporting, counterfactual", reporting, reporting_days, "baseline")):
        report = None if progress is None else (lambda f, n=name: progress(n, f))
        runs[name] = meter_hours(cache, days, start, seed=seed, climate=climate, sequence=sequence, step=step,
                                 progress=report)
    base, actual, cf = runs["baseline period"], runs["reporting, improved"], runs["reporting, counterfactual"]
    zone = zone_of(base.utc_offset)
    return Evaluation(_evaluate_meter("electricity", base, actual, cf, zone),
                      _evaluate_meter("gas", base, actual, cf, zone),
                      baseline_days, reporting_days, seed, climate)
