"""Control blocks: the small, pure, deterministic pieces that logic programs wire together.

Every block follows the interface of :class:`Block` (``step(now, inputs)``
returning every output, ``reset``, ``state``/``restore``) and carries the
metadata a program validator needs (ports with types and units,
``time_based``, ``breaks_cycles``, a pydantic ``Params`` model). ``BLOCKS``
is the catalogue by kind; ``create_block`` builds one from JSON-style params.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openbms.control.blocks.arithmetic import Add, Divide, Limit, Multiply, Subtract
from openbms.control.blocks.base import Block, BlockParams, Port, Value, suggest
from openbms.control.blocks.formula import Formula
from openbms.control.blocks.hysteresis import Hysteresis
from openbms.control.blocks.leadlag import LeadLag
from openbms.control.blocks.logic import And, Compare, Not, Or, Xor
from openbms.control.blocks.pid import Pid
from openbms.control.blocks.ratelimit import RateLimit
from openbms.control.blocks.reset import LinearReset
from openbms.control.blocks.selection import Average, Maximum, Minimum, Select
from openbms.control.blocks.staging import Staging
from openbms.control.blocks.timers import Delay, DelayOff, DelayOn, Pulse

__all__ = ["BLOCKS", "Block", "BlockParams", "Port", "Value", "create_block"]

_CATALOGUE: tuple[type[Block], ...] = (
    Pid,
    LinearReset,
    Hysteresis,
    LeadLag,
    Staging,
    Minimum,
    Maximum,
    Average,
    Select,
    Compare,
    And,
    Or,
    Not,
    Xor,
    DelayOn,
    DelayOff,
    Pulse,
    Delay,
    RateLimit,
    Add,
    Subtract,
    Multiply,
    Divide,
    Limit,
    Formula,
)

#: Every block class by its ``kind``: the names a program's ``"block"`` field may use.
BLOCKS: dict[str, type[Block]] = {cls.kind: cls for cls in _CATALOGUE}


def create_block(kind: str, params: Mapping[str, Any] | None = None) -> Block:
    """A new block of ``kind`` with validated ``params``.

    Raises ``ValueError`` for an unknown kind (listing the known ones and the
    closest match) or for invalid parameters (naming each one and what it expects).
    """
    cls = BLOCKS.get(kind)
    if cls is None:
        known = sorted(BLOCKS)
        close = suggest(str(kind), known)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ValueError(f"unknown block kind {kind!r}.{hint} Known kinds: {', '.join(known)}.")
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise ValueError(f"block {kind!r}: params must be an object, not {type(params).__name__}")
    return cls(**{str(key): value for key, value in params.items()})
