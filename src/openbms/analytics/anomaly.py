"""Anomaly detection on a meter's hours: what its own model and its own history call abnormal.

::

    hourly kWh, outdoor °C, hour starts (epoch s), the site's zone, the local day judged
      │ training: up to TRAIN_DAYS local days before it (days already flagged left out), at least
      │ MIN_TRAIN_DAYS of them
      ├─ TOWT model (baseline.fit_towt) on the training days ──▶ the judged day's expected kWh
      ├─ the same model fitted without a few training days in turn (about FOLDS fits) ──▶ each
      │  training day's out-of-sample residual: what "normal" error looks like for this meter
      │
      ├─ consumption: the day's residual (actual − expected) as a robust z against the residuals of
      │  training days of its kind (its weekday, else weekdays or weekends, ``_day_class``) ──▶ z > Z_DAY
      ├─ base load: the mean residual of the unoccupied hours, each of the last CREEP_DAYS days, against
      │  a model trained before them ──▶ every one of them above Z_CREEP (a creep, not one odd night)
      ├─ stuck: the longest run of hours of identical energy that reaches into the day, against the
      │  longest such run in training ──▶ longer than max(STUCK_MIN_HOURS, that run + 1); flat at zero
      │  only for a meter that never read zero in training, and never at the value it read in most
      │  training hours (a steady load)
      └─ jump: a negative hour, or a change from one hour to the next beyond JUMP_FACTOR × the
         largest change in training
      ──▶ Finding(kind, start, end, expected, actual, score, threshold, message)

Thresholds come from the meter's own residuals, never from a fixed percent:
the scale of a z is the median absolute deviation of the out-of-sample daily
residuals (×1.4826: a standard deviation for normal errors), so a meter the
model predicts well is judged tightly and a noisy one loosely. Out-of-sample
matters: residuals of the days a model was fitted on are smaller than those
of a day it has not seen, and a threshold from them would flag normal days.
The training window trails the judged day, so the threshold follows the
season. Everything is pure: arrays in, findings out; the runtime's job
(``openbms.service.anomalies``) loads the hours and raises the alarms.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from openbms.analytics.baseline import HourlyModel, fit_towt, local_time

__all__ = [
    "CREEP_DAYS",
    "JUMP_FACTOR",
    "KINDS",
    "MIN_TRAIN_DAYS",
    "STUCK_MIN_HOURS",
    "TRAIN_DAYS",
    "Z_CREEP",
    "Z_DAY",
    "Finding",
    "judge_day",
]

_F = npt.NDArray[np.float64]
Kind = Literal["consumption", "base_load", "stuck", "jump"]
KINDS: tuple[Kind, ...] = ("consumption", "base_load", "stuck", "jump")

HOUR = 3600.0
#: Local days of history a judgement trains on (8 weeks: two months of the same season).
TRAIN_DAYS = 56
#: Fewer training days than this and a day is not judged (two of each day of the week).
MIN_TRAIN_DAYS = 14
#: A day whose residual is this many robust standard deviations from normal is an anomaly.
Z_DAY = 5.0
#: Each of the last CREEP_DAYS days' unoccupied hours this far above normal is a base-load creep.
Z_CREEP = 3.0
CREEP_DAYS = 5
#: A meter reading the same energy this many hours running (at least) is stuck.
STUCK_MIN_HOURS = 6
#: A change from one hour to the next this many times the largest in training is a jump.
JUMP_FACTOR = 3.0
#: Hours of a day that must be known for it to be judged or to train (a day of gaps proves nothing).
MIN_DAY_HOURS = 18
#: Training days of the same weekday, or of the same kind (weekday or weekend), that set a day's threshold.
SAME_WEEKDAY = 6
SAME_KIND = 4
#: About how many fits give the out-of-sample residuals (a few days held out at a time).
FOLDS = 14
_MAD = 1.4826  # median absolute deviation × this = the standard deviation of normal errors


@dataclass(frozen=True, slots=True)
class Finding:
    """One anomaly of a meter over ``[start, end)`` with its evidence.

    ``expected_kwh`` and ``actual_kwh`` are the model's energy and the meter's
    over the period (None where the finding is not a comparison of energy: a
    jump's expected is the hour before). ``score`` crossed ``threshold``: a
    robust z for ``consumption`` and ``base_load``, hours for ``stuck``, a
    ratio to the largest change in training for ``jump``.
    """

    kind: Kind
    start: float
    end: float
    expected_kwh: float | None
    actual_kwh: float | None
    score: float
    threshold: float
    message: str


@dataclass(frozen=True, slots=True)
class _Reference:
    """A model trained on some days, and its out-of-sample residuals per training day."""

    model: HourlyModel
    total: _F  # each training day's residual kWh (actual − expected of the model without that day)
    night: _F  # each training day's mean residual of its unoccupied hours (NaN: none)
    weekday: npt.NDArray[np.int64]  # each training day's weekday (0 = Monday)


def _robust(values: _F) -> tuple[float, float]:
    """Centre and scale (median, MAD as a standard deviation) of finite ``values``."""
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return 0.0, math.inf
    centre = float(np.median(v))
    scale = _MAD * float(np.median(np.abs(v - centre)))
    if scale <= 0.0:  # identical residuals (generated data): the spread of the rest, else nothing flags
        scale = float(np.std(v)) or math.inf
    return centre, scale


def _reference(tow: npt.NDArray[np.int64], x: _F, y: _F, day: npt.NDArray[np.int64],
               days: Sequence[int], tz: ZoneInfo) -> _Reference:
    model = fit_towt(tow, x, y, tz)
    total = np.full(len(days), np.nan)
    night = np.full(len(days), np.nan)
    # Held out a few consecutive days at a time: at most about FOLDS fits, whatever the window.
    chunk = max(1, len(days) // FOLDS)
    for lo in range(0, len(days), chunk):
        fold = days[lo:lo + chunk]
        out = np.isin(day, np.asarray(fold, dtype=np.int64))
        held = fit_towt(tow[~out], x[~out], y[~out], tz)
        for i, d in enumerate(fold, start=lo):
            this = day == d
            r = y[this] - held.predict_tow(tow[this], x[this])
            total[i] = float(r.sum()) * 24.0 / len(r)  # per 24 known hours: a day with a gap is comparable
            occ = model.occupied[tow[this]]
            if (~occ).any():
                night[i] = float(r[~occ].mean())
    weekday = (np.asarray(days, dtype=np.int64) - 1) % 7  # date.fromordinal(1) is a Monday
    return _Reference(model, total, night, weekday)


def _day_class(ref: _Reference, weekday: int) -> _F:
    """The out-of-sample residuals of the training days like a day of ``weekday``: the same weekday
    when there are SAME_WEEKDAY of them (six weeks), else the same kind (Monday–Friday, or
    Saturday–Sunday) when there are SAME_KIND, else every day. A Saturday's use differs from a
    Tuesday's in level and in spread; the threshold is the spread of its own kind."""
    same = ref.total[ref.weekday == weekday]
    if np.isfinite(same).sum() >= SAME_WEEKDAY:
        return same
    kind = ref.total[(ref.weekday >= 5) == (weekday >= 5)]
    return kind if np.isfinite(kind).sum() >= SAME_KIND else ref.total


def _flat_runs(v: _F) -> npt.NDArray[np.int64]:
    """For each hour, how many hours up to it (itself included) have had the same energy."""
    run = np.ones(len(v), dtype=np.int64)
    for i in range(1, len(v)):
        same = math.isfinite(v[i]) and v[i] == v[i - 1]
        run[i] = run[i - 1] + 1 if same else 1
    return run


def _kwh(v: float) -> str:
    return f"{v:,.0f} kWh" if abs(v) >= 100 else f"{v:,.1f} kWh"


def judge_day(ts: npt.ArrayLike, kwh: npt.ArrayLike, temp: npt.ArrayLike, tz: ZoneInfo, day: date,
              *, name: str = "the meter", exclude: Collection[date] = ()) -> list[Finding] | None:
    """The anomalies of the local ``day`` of a meter (see the module), from its hours.

    ``ts``, ``kwh`` and ``temp`` are one row per hour start (epoch s, ascending), NaN where
    unknown, from at least ``MIN_TRAIN_DAYS`` before ``day`` through its end. ``exclude``:
    local days left out of training (days already flagged, non-routine events). Returns None
    when the day or its training has too few known hours to judge (and [] for a normal day).
    """
    t = np.asarray(ts, dtype=float)
    y_all = np.asarray(kwh, dtype=float)
    x_all = np.asarray(temp, dtype=float)
    if not (len(t) == len(y_all) == len(x_all)):
        raise ValueError("timestamps, energies and temperatures must have one entry per hour")
    if len(t) == 0:
        return None
    loc = local_time(t, tz)
    judged = day.toordinal()
    this = loc.day == judged
    known = np.isfinite(y_all) & np.isfinite(x_all)
    if int((this & known).sum()) < MIN_DAY_HOURS:
        return None
    skip = {d.toordinal() for d in exclude}
    counts = np.bincount(loc.day[known] - loc.day.min(), minlength=judged - int(loc.day.min()) + 1)

    def days_between(lo: int, hi: int) -> list[int]:
        return [d for d in range(max(lo, int(loc.day.min())), hi)
                if d not in skip and counts[d - int(loc.day.min())] >= MIN_DAY_HOURS]

    def rows(days: Sequence[int]) -> npt.NDArray[np.bool_]:
        return known & np.isin(loc.day, np.asarray(days, dtype=np.int64))

    train_days = days_between(judged - TRAIN_DAYS, judged)
    if len(train_days) < MIN_TRAIN_DAYS:
        return None
    found: list[Finding] = []
    m = rows(train_days)
    ref = _reference(loc.tow[m], x_all[m], y_all[m], loc.day[m], train_days, tz)
    when = day.strftime("%a %d %b %Y")
    start = float(t[this].min())
    end = float(t[this].max()) + HOUR

    # --- consumption: the day against its model
    d_rows = this & known
    expected_h = ref.model.predict_tow(loc.tow[d_rows], x_all[d_rows])
    actual = float(y_all[d_rows].sum())
    expected = float(expected_h.sum())
    centre, scale = _robust(_day_class(ref, day.weekday()))
    # The class's spread, but never below every day's: a few similar days of a class are no proof that
    # its days never vary more (few false alarms before many detections).
    scale = max(scale, _robust(ref.total)[1])
    residual = (actual - expected) * 24.0 / int(d_rows.sum())
    z = (residual - centre) / scale
    if z > Z_DAY:  # more than expected: waste. Less is no fault (a stopped meter is stuck, below)
        share = f" ({(actual - expected) / expected:.0%})" if expected > 0 else ""
        found.append(Finding(
            "consumption", start, end, expected, actual, round(z, 2), Z_DAY,
            f"{name} used {_kwh(actual)} on {when}: {_kwh(actual - expected)}{share} more than "
            f"the {_kwh(expected)} its model expects for the day's weather and time of week "
            f"(z = {z:.1f}; normal days stay below {Z_DAY:g})"))

    # --- base load creep: the unoccupied hours of the last CREEP_DAYS days against the weeks before
    recent = [judged - k for k in range(CREEP_DAYS - 1, -1, -1)]
    before = days_between(judged - CREEP_DAYS + 1 - TRAIN_DAYS, judged - CREEP_DAYS + 1)
    if len(before) >= MIN_TRAIN_DAYS and all(counts[d - int(loc.day.min())] >= MIN_DAY_HOURS for d in recent):
        mb = rows(before)
        base = ref if before == train_days else _reference(
            loc.tow[mb], x_all[mb], y_all[mb], loc.day[mb], before, tz)
        n_centre, n_scale = _robust(base.night)
        zs: list[float] = []
        exp_night = act_night = 0.0
        for d in recent:
            r = (loc.day == d) & known
            occ = base.model.occupied[loc.tow[r]]
            if not (~occ).any():
                zs = []
                break
            e = base.model.predict_tow(loc.tow[r], x_all[r])[~occ]
            a = y_all[r][~occ]
            exp_night += float(e.sum())
            act_night += float(a.sum())
            zs.append((float((a - e).mean()) - n_centre) / n_scale)
        if zs and min(zs) > Z_CREEP:
            first = float(t[loc.day == recent[0]].min())
            found.append(Finding(
                "base_load", first, end, exp_night, act_night, round(min(zs), 2), Z_CREEP,
                f"{name}'s base load (its unoccupied hours) has risen: {_kwh(act_night)} over the "
                f"unoccupied hours of the {CREEP_DAYS} days to {when}, {_kwh(act_night - exp_night)} more "
                f"than the {_kwh(exp_night)} the weeks before predict (every day above z = "
                f"{Z_CREEP:g}, the least z = {min(zs):.1f})"))

    # --- stuck: identical energy hour after hour
    y_train = np.where(m, y_all, np.nan)
    runs = _flat_runs(np.where(known | this, y_all, np.nan))
    idx = np.flatnonzero(this)
    run = int(runs[idx].max())
    last = int(idx[np.argmax(runs[idx])])
    first_i = last - run + 1
    span = slice(first_i, last + 1)
    value = float(y_all[last])
    # A steady load (a server room's sub-meter) reads one value in most of its training hours: flat at
    # that value is what it does (its run reaches back through the training, longer every day), and flat
    # at another is judged against the runs of the hours it read something else.
    trained = y_train[np.isfinite(y_train)]
    values, counts = np.unique(trained, return_counts=True)
    common = float(values[np.argmax(counts)]) if len(trained) and counts.max() >= 0.5 * len(trained) else None
    usual = common is not None and value == common
    others = y_train if common is None else np.where(y_train == common, np.nan, y_train)
    longest_normal = int(_flat_runs(others).max()) if len(others) else 1
    limit = max(STUCK_MIN_HOURS, longest_normal + 1)
    exp = float(ref.model.predict_tow(loc.tow[span], np.nan_to_num(x_all[span])).sum())
    # Flat at zero proves nothing for a meter that reads zero in training: it is off when its plant is
    # (no heating on a mild weekend), for as long as the plant is.
    off_is_normal = value == 0.0 and bool((y_train == 0.0).any())
    if run >= limit and not off_is_normal and not usual:
        s0 = float(t[first_i])
        found.append(Finding(
            "stuck", s0, float(t[last]) + HOUR, exp, float(value * run), float(run), float(limit),
            f"{name} read {_kwh(value)} every hour for {run} hours running to {when} (its longest "
            f"such run in training was {longest_normal} h): the meter or its counter looks stuck; "
            f"its model expected {_kwh(exp)} over those hours"))

    # --- jump: a negative hour or a step beyond the physically plausible
    steps = np.abs(np.diff(y_train))
    largest = float(np.nanmax(steps)) if np.isfinite(steps).any() else math.nan
    y_day = y_all[idx]
    prev = y_all[idx - 1] if idx[0] > 0 else np.concatenate([[np.nan], y_all[idx[:-1]]])
    for i, h in enumerate(idx.tolist()):
        v, p = float(y_day[i]), float(prev[i])
        if not math.isfinite(v):
            continue
        hs = float(t[h])
        at = f"the hour from {_clock(hs, tz)} on {when}"
        if v < 0:
            found.append(Finding(
                "jump", hs, hs + HOUR, None, v, v, 0.0,
                f"{name} went backwards by {_kwh(-v)} in {at}: energy cannot be negative (a counter "
                "reset or a replaced meter not configured as one)"))
            break
        if math.isfinite(p) and math.isfinite(largest) and largest > 0 and abs(v - p) > JUMP_FACTOR * largest:
            ratio = abs(v - p) / largest
            found.append(Finding(
                "jump", hs, hs + HOUR, p, v, round(ratio, 2), JUMP_FACTOR,
                f"{name} jumped from {_kwh(p)} to {_kwh(v)} in {at}: {ratio:.1f} times the largest "
                f"change from one hour to the next in training ({_kwh(largest)})"))
            break
    return found


def _clock(ts: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%H:%M")
