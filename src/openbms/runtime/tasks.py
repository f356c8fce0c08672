"""Ending tasks for sure.

Python 3.11's ``asyncio.wait_for`` (used inside client libraries: aiomqtt, pymodbus) drops a
cancellation that arrives together with the awaited result, so a task cancelled once may run on,
and ``cancel(); await task`` then waits for ever. :func:`cancel_and_wait` cancels again until
every task has ended.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(*tasks: asyncio.Task[Any] | None, every: float = 0.5) -> None:
    """Cancel ``tasks`` (None ones skipped) and return once all have ended, cancelling again
    every ``every`` seconds those that have not; their results and exceptions are discarded."""
    pending = {t for t in tasks if t is not None}
    for t in pending:
        t.cancel()
    while pending:
        _done, pending = await asyncio.wait(pending, timeout=every)
        for t in pending:
            t.cancel()
    await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)
