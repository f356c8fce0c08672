"""Glue between the schedule runner and the arbiter, used by the assembly (``openbms.service.assembly``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from openbms.control.schedules import Schedule
from openbms.errors import CommandError

__all__ = ["schedule_commands"]

log = logging.getLogger(__name__)


def schedule_commands(arbiter: Callable[[], Any], tasks: set[asyncio.Task[Any]]
                      ) -> Callable[[Schedule, Any, float], None]:
    """The runner's ``apply``: a schedule's new value commands (or, when None, releases) each of
    its targets at its priority, as source ``schedule``. The writes run as tasks kept in ``tasks``
    (so whoever stops the arbiter can cancel them first); a refusal is logged, never raised."""

    async def write(schedule: Schedule, target: str, value: Any) -> None:
        who, why = f"schedule:{schedule.id}", f"schedule {schedule.name or schedule.id}"
        try:
            if value is None:
                await arbiter().release(target, schedule.priority, source="schedule",
                                        requested_by=who, reason=why)
            else:
                await arbiter().command(target, value, schedule.priority, source="schedule",
                                        requested_by=who, reason=why)
        except CommandError as err:
            log.warning("schedule %s could not command %s: %s", schedule.id, target, err)

    def apply(schedule: Schedule, value: Any, ts: float) -> None:
        for target in schedule.targets:
            task = asyncio.create_task(write(schedule, target, value))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    return apply
