"""A task cancelled while it closes a ``Requester`` stays cancelled: closing awaited the reader
under ``suppress(CancelledError)``, which also swallowed the cancellation aimed at the closing
task, so a stop that cancelled a backfill waiting there did not end it (``openbms central run``
sometimes did not exit on SIGTERM)."""

from __future__ import annotations

import asyncio

from openbms.drivers.mqtt.requests import Requester


async def test_a_task_cancelled_while_closing_a_requester_is_cancelled(mosquitto):
    closing: asyncio.Task[None] | None = None

    async def stubborn_reader() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            assert closing is not None
            closing.cancel()  # the closing task is cancelled while it waits for this reader
            raise

    async def use() -> None:
        async with Requester(mosquitto.host, mosquitto.port, "openbms", "hq", timeout=5) as requester:
            assert requester._reader is not None
            requester._reader.cancel()
            await asyncio.gather(requester._reader, return_exceptions=True)
            requester._reader = asyncio.create_task(stubborn_reader())
            await asyncio.sleep(0)

    closing = asyncio.create_task(use())
    done, _ = await asyncio.wait({closing}, timeout=10)
    assert done, "closing the requester hung"
    assert closing.cancelled(), f"the cancellation was swallowed: {closing!r}"
