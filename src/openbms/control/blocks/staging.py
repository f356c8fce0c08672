"""Staging of N stages (compressors, boilers, fans) from a load signal, with minimum on/off times."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import pydantic

from openbms.control.blocks.base import Block, BlockParams, Port, Value, as_number, param_unit, shifted

__all__ = ["Staging", "StagingParams"]

MAX_STAGES = 8


class StagingParams(BlockParams):
    """Parameters of ``staging``. Thresholds in the load's unit (usually %), times in seconds."""

    stages: int = pydantic.Field(ge=1, le=MAX_STAGES, description="number of stages (stage_1 … stage_n)")
    up: float = pydantic.Field(80.0, description="stage up while load is above this",
                              json_schema_extra=param_unit("unit of load"))
    down: float = pydantic.Field(20.0, description="stage down while load is below this",
                                json_schema_extra=param_unit("unit of load"))
    delay_up_s: float = pydantic.Field(300.0, ge=0, description="load must stay above 'up' this long",
                                       json_schema_extra=param_unit("s"))
    delay_down_s: float = pydantic.Field(300.0, ge=0, description="load must stay below 'down' this long",
                                         json_schema_extra=param_unit("s"))
    min_on_s: float = pydantic.Field(0.0, ge=0, description="a stage stays on at least this long",
                                   json_schema_extra=param_unit("s"))
    min_off_s: float = pydantic.Field(0.0, ge=0, description="a stage stays off at least this long",
                                    json_schema_extra=param_unit("s"))

    @pydantic.model_validator(mode="after")
    def _check_band(self) -> StagingParams:
        if self.down >= self.up:
            raise ValueError(f"down ({self.down}) must be below up ({self.up})")
        return self


class Staging(Block):
    """Adds a stage when the load stays above ``up``, removes one when it stays below ``down``.

    Stages switch on in order 1, 2, … and off in reverse. The ``up`` condition
    must hold for ``delay_up_s``, counted from when it began or from the last
    stage change, whichever is later (so the delay is also the interstage
    delay); likewise for ``down``. A stage does not switch on within
    ``min_off_s`` of switching off nor off within ``min_on_s`` of switching on;
    a change so blocked waits. ``load`` is usually a PID output that keeps
    rising while the running stages are not enough. Between the thresholds
    nothing changes, so a load hovering around one threshold cannot flap the
    stages.

    ``enable`` false switches every stage off at once (a shutdown, so minimum
    on times are not waited for). An unknown ``load`` holds the stages and
    restarts the delays; an unknown ``enable`` holds the stages.
    """

    kind: ClassVar[str] = "staging"
    inputs: ClassVar[dict[str, Port]] = {
        "load": Port("number"),
        "enable": Port("bool", required=False, default=True),
    }
    outputs: ClassVar[dict[str, Port]] = {
        "stages": Port("number"),
        **{f"stage_{i}": Port("bool") for i in range(1, MAX_STAGES + 1)},
    }
    time_based: ClassVar[bool] = True
    Params: ClassVar[type[BlockParams]] = StagingParams

    params: StagingParams

    def active_outputs(self) -> dict[str, Port]:
        n = self.params.stages
        return {k: v for k, v in self.outputs.items() if k == "stages" or int(k.rsplit("_", 1)[1]) <= n}

    def _reset(self) -> None:
        n = self.params.stages
        self._count = 0
        self._changed_at: list[float | None] = [None] * n  # when each stage last switched
        self._last_change: float | None = None
        self._up_since: float | None = None
        self._down_since: float | None = None

    def _shift(self, delta: float) -> None:
        self._changed_at = [shifted(t, delta) for t in self._changed_at]
        self._last_change = shifted(self._last_change, delta)
        self._up_since = shifted(self._up_since, delta)
        self._down_since = shifted(self._down_since, delta)

    def _held_for(self, since: float | None, now: float) -> float:
        start = since if since is not None else now
        if self._last_change is not None and self._last_change > start:
            start = self._last_change
        return now - start

    def _may_switch(self, stage: int, now: float, minimum: float) -> bool:
        changed = self._changed_at[stage]
        return changed is None or now - changed >= minimum

    def _switch(self, count: int, now: float) -> None:
        stage = min(count, self._count)  # 0-based index of the stage that switches
        self._changed_at[stage] = now
        self._last_change = now
        self._count = count

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        p = self.params
        load = as_number(inputs["load"])
        enable = inputs["enable"]
        if enable is False:
            for stage in range(self._count):
                self._changed_at[stage] = now
            if self._count:
                self._last_change = now
            self._count = 0
            self._up_since = self._down_since = None
        elif enable is None or load is None:
            self._up_since = self._down_since = None
        else:
            if load > p.up:
                self._down_since = None
                if self._up_since is None:
                    self._up_since = now
                if (
                    self._count < p.stages
                    and self._held_for(self._up_since, now) >= p.delay_up_s
                    and self._may_switch(self._count, now, p.min_off_s)
                ):
                    self._switch(self._count + 1, now)
            elif load < p.down:
                self._up_since = None
                if self._down_since is None:
                    self._down_since = now
                if (
                    self._count > 0
                    and self._held_for(self._down_since, now) >= p.delay_down_s
                    and self._may_switch(self._count - 1, now, p.min_on_s)
                ):
                    self._switch(self._count - 1, now)
            else:
                self._up_since = self._down_since = None
        outputs: dict[str, Value] = {"stages": self._count}
        for i in range(p.stages):
            outputs[f"stage_{i + 1}"] = i < self._count
        return outputs

    def _state(self) -> dict[str, Value]:
        state: dict[str, Value] = {
            "count": self._count,
            "last_change": self._last_change,
            "up_since": self._up_since,
            "down_since": self._down_since,
        }
        for i, changed in enumerate(self._changed_at):
            state[f"changed_{i + 1}"] = changed
        return state

    def _restore(self, state: Mapping[str, Value]) -> None:
        n = self.params.stages
        self._count = min(n, max(0, int(as_number(state.get("count")) or 0)))
        self._last_change = as_number(state.get("last_change"))
        self._up_since = as_number(state.get("up_since"))
        self._down_since = as_number(state.get("down_since"))
        for i in range(n):
            self._changed_at[i] = as_number(state.get(f"changed_{i + 1}"))
