"""The anomaly job: each meter's last complete local day judged once it has ended, findings raised as alarms.

::

    start ─▶ run at once, then RUN_AFTER_S past every hour of the runtime's clock
      for each site, each meter (``meter_groups``: its register, else its demand point):
        the local day that ended at least JUDGE_AFTER_S ago, and not yet judged (at most CATCH_UP_DAYS
        back after a stop)
        analytics.history.meter_hours: its kWh and the outdoor °C of the weeks before and the day
        ──(worker thread) analytics.anomaly.judge_day (days found consumption or stuck earlier left out of
        training)──▶ findings
        each finding ──▶ kept (state database, key ``anomalies:<site>``, the newest MAX_FINDINGS)
                     ──▶ alarm ``anomaly:<kind>:<equipment>.<point>`` of the site's alarm engine
                         (raise_external, source ``analytics``): its message the finding's sentence
                         and the chart path, its context the evidence
        a kind not found on a judged day ──▶ its alarm cleared (returns to normal once acknowledged)

A day that cannot be judged yet (too few known hours, or of training) is
tried again at the next run, for CATCH_UP_DAYS. A site without an outdoor
temperature point is judged on time of week alone, and so is a day that
cannot be judged with its temperature (the sensor offline, that day or in
training).
A site whose alarms do not run (no rules, no state database) keeps its
findings without alarms. A failing meter or database is logged once and
retried at the next hour; recovery is logged once.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa

from openbms.alarms.engine import ACTIVE_ACKED, ACTIVE_UNACKED, AlarmEngine, AlarmError
from openbms.analytics.anomaly import CREEP_DAYS, KINDS, TRAIN_DAYS, Finding, judge_day
from openbms.analytics.consumption import configured, short_ref
from openbms.analytics.energy import meter_groups, meter_of
from openbms.analytics.history import meter_hours
from openbms.db import load_state, save_state
from openbms.historian import Historian
from openbms.model.site import SiteConfig
from openbms.runtime.clock import Clock
from openbms.service.hourly import HOUR, HourlyJob

__all__ = ["ALARM_PRIORITY", "MAX_FINDINGS", "RUN_AFTER_S", "SOURCE", "AnomalyRun", "AnomalyService",
           "alarm_id", "chart_path", "state_key", "stored_findings"]

log = logging.getLogger(__name__)

DAY = 86_400.0
#: Seconds past the hour a run waits: the hour's last samples reach the historian's rollups first.
RUN_AFTER_S = 180.0
#: A day is judged once it ended this long ago: its last hour's readings are in.
JUDGE_AFTER_S = HOUR
#: After a stop, the days judged at most (the latest first back): older ones are left unjudged.
CATCH_UP_DAYS = 3
#: Findings kept per site (the newest).
MAX_FINDINGS = 1000
#: The alarms' source, priority and class.
SOURCE = "analytics"
ALARM_PRIORITY = 150
ALARM_CLASS = "energy"
#: A day found with these is left out of the training of the days after it: a day of waste is no
#: normal, and a day a frozen register read zero would teach the next that zero is (it would be judged
#: normal and its stuck alarm cleared while the meter stays frozen).
UNTRAINED = ("consumption", "stuck")
_TITLES = {"consumption": "Consumption anomaly", "base_load": "Base load creep", "stuck": "Meter stuck",
           "jump": "Meter jump"}


@dataclass(frozen=True, slots=True)
class AnomalyRun:
    """What one run did: meter-days judged, findings, alarms raised and cleared."""

    at: float
    judged: int
    findings: int
    raised: int
    cleared: int


def state_key(site: str) -> str:
    """Where a site's findings are kept in the state database (``runtime_state``)."""
    return f"anomalies:{site}"


def alarm_id(site: str, meter: str, kind: str) -> str:
    """The alarm of one meter's anomalies of one kind: ``anomaly:<kind>:<equipment>.<point>`` (no
    slash: an alarm id is one segment of the API's paths). Ids may hold dots, and ``main/elec.kwh``
    and ``main.elec/kwh`` are two meters: when either part holds one the two are joined by ``:``
    (which no id holds) instead, so that no two meters share an alarm."""
    ref = short_ref(meter, site)
    return f"anomaly:{kind}:{ref.replace('/', ':' if '.' in ref else '.')}"


def chart_path(site: str, meter: str, start: float, end: float) -> str:
    """The dashboard's energy page on ``meter`` over ``[start, end)`` (a path of its hash routes)."""
    ref = quote(short_ref(meter, site), safe="/")
    return f"/sites/{quote(site, safe='')}/energy?meter={ref}&since={start:.0f}&until={end:.0f}"


def stored_findings(engine: sa.Engine, site: str) -> list[dict[str, Any]]:
    """A site's kept findings, oldest first (blocking: call from a worker thread)."""
    state = load_state(engine, state_key(site))
    return list(state.get("findings", ())) if isinstance(state, dict) else []


class AnomalyService(HourlyJob[AnomalyRun]):
    """Judges every running site's meters each hour on ``clock`` (see the module).

    ``alarms(site)`` is the site's running alarm engine (None: its alarms do not run).
    """

    def __init__(self, sites: Callable[[], Sequence[SiteConfig]], historian: Historian, engine: sa.Engine,
                 clock: Clock, alarms: Callable[[str], AlarmEngine | None]) -> None:
        super().__init__("anomaly detection", clock, RUN_AFTER_S, log)
        self._sites = sites
        self._historian = historian
        self._engine = engine
        self._alarms = alarms

    async def run_once(self, now: float) -> AnomalyRun:
        """Judge every meter's days that have ended by ``now`` and are not judged yet."""
        judged = found = raised = cleared = 0
        for cfg in list(self._sites()):
            if self._stopping:
                break
            site = cfg.site.id
            try:
                state = await asyncio.to_thread(load_state, self._engine, state_key(site))
            except Exception:
                self.failed(f"anomaly detection of {site}")
                continue
            self.works(f"anomaly detection of {site}")
            state = state if isinstance(state, dict) else {}
            findings: list[dict[str, Any]] = list(state.get("findings", ()))
            done: dict[str, str] = dict(state.get("judged", {}))
            next_id = int(state.get("next_id", 1))
            tz = ZoneInfo(cfg.site.timezone)
            last = datetime.fromtimestamp(now - JUDGE_AFTER_S, tz).date() - timedelta(days=1)
            changed = False
            for meter_id, pid, name in _meters(cfg):
                if self._stopping:
                    break
                seen = done.get(meter_id)
                first = last - timedelta(days=CATCH_UP_DAYS - 1)
                if seen is not None:
                    first = max(first, date.fromisoformat(seen) + timedelta(days=1))
                if first > last:
                    continue
                flagged = {date.fromisoformat(f["day"]) for f in findings
                           if f["meter"] == meter_id and f["kind"] in UNTRAINED}
                try:
                    got = await self._judge(cfg, pid, name, tz, first, last, flagged)
                except Exception:
                    self.failed(f"anomaly detection of {meter_id}")
                    continue
                self.works(f"anomaly detection of {meter_id}")
                for day, day_findings in got:
                    if day_findings is None:
                        continue  # too few known hours (yet): tried again at the next run
                    judged += 1
                    done[meter_id] = day.isoformat()
                    changed = True
                    kinds = set()
                    for f in day_findings:
                        row = self._row(next_id, site, meter_id, name, day, f, now)
                        next_id += 1
                        findings.append(row)
                        kinds.add(f.kind)
                        found += 1
                        raised += self._raise(site, meter_id, name, f, row)
                    for kind in KINDS:
                        if kind not in kinds:
                            cleared += self._clear(site, meter_id, kind, day)
            if changed:
                keep = {"version": 1, "next_id": next_id, "judged": done,
                        "findings": findings[-MAX_FINDINGS:]}
                try:
                    await asyncio.to_thread(save_state, self._engine, state_key(site), keep, now)
                except Exception:
                    self.failed(f"keeping the anomalies of {site}")
                else:
                    self.works(f"keeping the anomalies of {site}")
        return AnomalyRun(now, judged, found, raised, cleared)

    async def _judge(self, cfg: SiteConfig, pid: str, name: str, tz: ZoneInfo, first: date, last: date,
                     flagged: set[date]) -> list[tuple[date, list[Finding] | None]]:
        start = _midnight(first - timedelta(days=TRAIN_DAYS + CREEP_DAYS), tz)
        end = _midnight(last + timedelta(days=1), tz)
        hours = await meter_hours(self._historian, cfg, pid, start, end)

        def compute() -> list[tuple[date, list[Finding] | None]]:
            no_weather = np.zeros(len(hours.starts))
            temp = hours.temperature if hours.temperature is not None else no_weather
            out = []
            day = first
            while day <= last:
                got = judge_day(hours.starts, hours.kwh, temp, tz, day, name=name, exclude=flagged)
                if got is None and temp is not no_weather:
                    # Its outdoor temperature unknown (a sensor offline): judged on time of week alone, as
                    # on a site without one, rather than not at all (a stuck meter would go unnoticed).
                    got = judge_day(hours.starts, hours.kwh, no_weather, tz, day, name=name, exclude=flagged)
                if got is not None and any(f.kind in UNTRAINED for f in got):
                    flagged.add(day)  # not a day to learn from for the days after it
                out.append((day, got))
                day += timedelta(days=1)
            return out

        # Weeks of hours and a few dozen model fits: in a worker thread, the loop keeps serving.
        return await asyncio.to_thread(compute)

    def _row(self, n: int, site: str, meter: str, name: str, day: date, f: Finding,
             now: float) -> dict[str, Any]:
        # JSON in the state database (PostgreSQL's refuses NaN): a number that is not finite is null.
        row = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in asdict(f).items()}
        row.update(id=n, meter=meter, name=name, day=day.isoformat(), detected=now,
                   alarm_id=alarm_id(site, meter, f.kind), chart=chart_path(site, meter, f.start, f.end))
        return row

    def _raise(self, site: str, meter: str, name: str, f: Finding, row: dict[str, Any]) -> int:
        engine = self._alarms(site)
        if engine is None:
            return 0
        evidence = {k: row[k] for k in ("id", "kind", "start", "end", "expected_kwh", "actual_kwh", "score",
                                        "threshold", "chart")}
        engine.raise_external(alarm_id(site, meter, f.kind), source=SOURCE,
                              message=f"{f.message}. Chart: #{row['chart']}", point=meter,
                              name=f"{_TITLES[f.kind]}: {name}", priority=ALARM_PRIORITY,
                              alarm_class=ALARM_CLASS, value=f.actual_kwh, context=evidence)
        return 1

    def _clear(self, site: str, meter: str, kind: str, day: date) -> int:
        engine = self._alarms(site)
        if engine is None:
            return 0
        try:
            was = engine.get(alarm_id(site, meter, kind)).state
        except AlarmError:
            return 0  # never raised
        if was not in (ACTIVE_UNACKED, ACTIVE_ACKED):
            return 0
        engine.clear_external(alarm_id(site, meter, kind), note=f"{day.isoformat()} judged normal")
        return 1


def _meters(cfg: SiteConfig) -> list[tuple[str, str, str]]:
    """(meter id, the point judged: its register, else its demand point, name) of the site's meters."""
    found = []
    for pid, equip, point in cfg.points():
        meter = meter_of(point.kind, point.unit, point.tags)
        if meter is not None:
            found.append((pid, equip, point, configured(cfg, pid, meter)))
    out = []
    for group in meter_groups(found):
        source = group.energy or group.power
        if source is not None:
            out.append((group.id, source, group.name))
    return out


def _midnight(day: date, tz: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
