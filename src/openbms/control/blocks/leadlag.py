"""Lead-lag rotation of N identical units, with failover when a unit faults."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar, Literal

import pydantic

from openbms.control.blocks.base import Block, BlockParams, Port, Value, as_bool, as_number, param_unit

__all__ = ["LeadLag", "LeadLagParams"]

MAX_UNITS = 8
_WEEK_S = 7 * 86400.0


class LeadLagParams(BlockParams):
    """Parameters of ``leadlag``. Runtimes in hours, calendar times in seconds (UTC epoch arithmetic)."""

    n: int = pydantic.Field(ge=2, le=MAX_UNITS, description="number of units")
    mode: Literal["runtime", "calendar"] = pydantic.Field(
        "runtime", description="runtime: rotate on run hours; calendar: rotate at fixed instants")
    threshold_h: float = pydantic.Field(
        24.0, ge=0, description="runtime mode: rotate when the lead has run this much more than the least",
        json_schema_extra=param_unit("h")
    )
    rotate_every_s: float = pydantic.Field(
        _WEEK_S, gt=0, description="calendar mode: the lead advances by one unit every this many seconds",
        json_schema_extra=param_unit("s")
    )
    rotate_offset_s: float = pydantic.Field(
        0.0,
        description="calendar mode: rotation instants are rotate_offset_s + k·rotate_every_s (UTC epoch)",
        json_schema_extra=param_unit("s")
    )


def _unit_ports(prefix: str, port: Port) -> dict[str, Port]:
    return {f"{prefix}_{i}": port for i in range(1, MAX_UNITS + 1)}


class LeadLag(Block):
    """Decides which of ``n`` units run, given how many are needed.

    ``demand`` is a bool (one unit or none) or the number of units needed
    (rounded up; 0.2 → 1). Units run in rotation order, skipping faulted units,
    so when the lead faults the next healthy unit runs in the same step, and
    when the fault clears the lead takes over again.

    ``runtime`` mode: the designated lead is the healthy unit with the least
    runtime (``runtime_i`` input in hours when given, else counted by the block
    from its own ``run_i`` outputs); it changes only when the current lead has
    run more than ``threshold_h`` hours longer than that unit, so leads do not
    flap. Lags are sticky: a running lag keeps running while it is needed;
    when demand rises the idle units with the least runtime start, when it
    falls the running lags with the most runtime stop, and a running lag is
    swapped for an idle unit only once it has run more than ``threshold_h``
    hours longer than that unit (one swap per step). So units never short-cycle
    because their runtimes are close.

    ``calendar`` mode: the lead is unit ``1 + floor((now − rotate_offset_s) /
    rotate_every_s) mod n``, lags follow cyclically (lead, lead+1, …). This is
    pure UTC arithmetic, so a restart does not change the rotation: weekly on
    Monday 06:00 UTC is ``rotate_every_s = 604800`` and ``rotate_offset_s =
    345600 + 21600`` (1970-01-05 was a Monday).

    ``lead`` is the index (1..n) of the unit that runs first, 0 when every unit
    has faulted. An unknown ``demand`` holds the outputs; an unknown fault
    counts as healthy (a lost status point must not stop the plant).
    """

    kind: ClassVar[str] = "leadlag"
    inputs: ClassVar[dict[str, Port]] = {
        "demand": Port("any"),
        **_unit_ports("fault", Port("bool", required=False, default=False)),
        **_unit_ports("runtime", Port("number", required=False, unit="h")),
    }
    outputs: ClassVar[dict[str, Port]] = {
        **_unit_ports("run", Port("bool")),
        "lead": Port("number"),
    }
    time_based: ClassVar[bool] = True
    Params: ClassVar[type[BlockParams]] = LeadLagParams

    params: LeadLagParams

    def active_inputs(self) -> dict[str, Port]:
        n = self.params.n
        return {k: v for k, v in self.inputs.items() if k == "demand" or int(k.rsplit("_", 1)[1]) <= n}

    def active_outputs(self) -> dict[str, Port]:
        n = self.params.n
        return {k: v for k, v in self.outputs.items() if k == "lead" or int(k.rsplit("_", 1)[1]) <= n}

    def _reset(self) -> None:
        n = self.params.n
        self._hours = [0.0] * n
        self._running = [False] * n
        self._lead = 0  # designated lead (0-based) in runtime mode, chosen on the first step
        self._lead_known = False
        self._out_lead = 0
        self._last_order: list[int] = []  # the healthy units in rotation order at the last step

    @staticmethod
    def _units_needed(demand: Value) -> int | None:
        if demand is None:
            return None
        if isinstance(demand, bool):
            return int(demand)
        number = as_number(demand)
        if number is None:
            flag = as_bool(demand)
            return None if flag is None else int(flag)
        return max(0, math.ceil(number - 1e-9))

    def _order(self, now: float, runtimes: list[float], healthy: list[bool]) -> list[int]:
        p = self.params
        n = p.n
        if p.mode == "calendar":
            lead = math.floor((now - p.rotate_offset_s) / p.rotate_every_s) % n
            return [(lead + k) % n for k in range(n)]
        candidates = [i for i in range(n) if healthy[i]] or list(range(n))
        least = min(candidates, key=lambda i: (runtimes[i], i))
        if not self._lead_known:
            self._lead, self._lead_known = least, True
        elif runtimes[self._lead] - runtimes[least] > p.threshold_h:
            self._lead = least
        lead = self._lead
        return [lead, *sorted((i for i in range(n) if i != lead), key=lambda i: (runtimes[i], i))]

    def _sticky(self, order: list[int], needed: int, runtimes: list[float]) -> set[int]:
        """Runtime mode: the lead (``order[0]``) runs; running lags keep running unless past the threshold."""
        if needed <= 0 or not order:
            return set()
        lead = order[0]

        def by_runtime(i: int) -> tuple[float, int]:
            return runtimes[i], i

        running = sorted((i for i in order[1:] if self._running[i]), key=by_runtime)
        lags = running[: needed - 1]  # demand fell: the lags that ran most stop
        idle = sorted((i for i in order[1:] if i not in lags), key=by_runtime)
        while len(lags) < needed - 1 and idle:  # demand rose (or a lag faulted): the least-run idle start
            lags.append(idle.pop(0))
        if lags and idle:
            most = max(lags, key=by_runtime)
            if runtimes[most] - runtimes[idle[0]] > self.params.threshold_h:
                lags[lags.index(most)] = idle[0]
        return {lead, *lags}

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        n = self.params.n
        for i in range(n):
            if self._running[i]:
                self._hours[i] += dt / 3600.0
        needed = self._units_needed(inputs["demand"])
        if needed is not None:
            healthy = [inputs[f"fault_{i + 1}"] is not True for i in range(n)]
            runtimes = []
            for i in range(n):
                given = as_number(inputs[f"runtime_{i + 1}"])
                runtimes.append(self._hours[i] if given is None else given)
            order = [i for i in self._order(now, runtimes, healthy) if healthy[i]]
            self._last_order = order
            if self.params.mode == "runtime":
                chosen = self._sticky(order, needed, runtimes)
            else:
                chosen = set(order[:needed])
            self._running = [i in chosen for i in range(n)]
            self._out_lead = order[0] + 1 if order else 0
        outputs: dict[str, Value] = {f"run_{i + 1}": self._running[i] for i in range(n)}
        outputs["lead"] = self._out_lead
        return outputs

    def _inspect(self, now: float) -> dict[str, Value]:
        return {"order": ", ".join(str(i + 1) for i in self._last_order), **self._state()}

    def _state(self) -> dict[str, Value]:
        state: dict[str, Value] = {
            "lead": self._lead if self._lead_known else None,
            "out_lead": self._out_lead,
        }
        for i in range(self.params.n):
            state[f"hours_{i + 1}"] = self._hours[i]
            state[f"running_{i + 1}"] = self._running[i]
        return state

    def _restore(self, state: Mapping[str, Value]) -> None:
        n = self.params.n
        lead = as_number(state.get("lead"))
        if lead is not None and 0 <= int(lead) < n:
            self._lead, self._lead_known = int(lead), True
        self._out_lead = int(as_number(state.get("out_lead")) or 0)
        for i in range(n):
            self._hours[i] = as_number(state.get(f"hours_{i + 1}")) or 0.0
            self._running[i] = as_bool(state.get(f"running_{i + 1}")) or False
