"""Commands: requests to set or release a point, kept forever as the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from openbms.model.sample import Value

__all__ = ["Command", "CommandSource", "CommandStatus"]


class CommandStatus(StrEnum):
    """``pending → executing → completed | failed | superseded | expired``."""

    PENDING = "pending"
    EXECUTING = "executing"
    COMPLETED = "completed"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"


class CommandSource(StrEnum):
    """Who or what issued a command."""

    OPERATOR = "operator"
    SCHEDULE = "schedule"
    LOGIC = "logic"
    OPTIMISER = "optimiser"
    API = "api"


@dataclass(slots=True)
class Command:
    """A request to write ``value`` (or release, when ``release``) at ``priority`` 1–16."""

    id: str
    point: str
    value: Value
    priority: int
    source: CommandSource
    requested_by: str
    reason: str = ""
    release: bool = False
    expires_at: float | None = None
    status: CommandStatus = CommandStatus.PENDING
    created_at: float = 0.0
    updated_at: float = 0.0
    error: str = ""
