"""A poll that is cancelled ends, even when the device's answer arrives in the same instant.

Python 3.11's ``asyncio.wait_for`` (pymodbus waits for each answer with it) returns the answer
and drops the cancellation when both come together; the driver manager's ``stop`` then waited
forever for a poll that went on polling (``openbms bench modbus`` hung at its end)."""

from __future__ import annotations

import asyncio

from openbms.drivers.modbus.client import Gateway
from tests.fixtures.modbus import ModbusTestServer, Unit
from tests.fixtures.waiting import eventually


async def test_a_read_cancelled_as_its_answer_arrives_is_cancelled():
    async with ModbusTestServer({1: Unit(holding={a: a for a in range(10)})}) as server:
        gateway = Gateway("127.0.0.1", server.port, 5.0)
        reads = 0

        async def poll_forever() -> None:
            nonlocal reads
            while True:
                await gateway.read(1, "holding", 0, 10)
                reads += 1

        task = asyncio.create_task(poll_forever())
        await eventually(lambda: gateway._client is not None, "connected")
        library = gateway._client.ctx

        def cancel_on_answer(sending: bool, pdu: object) -> object:
            # Called as the answer is decoded, just before pymodbus hands it to the waiting read.
            if not sending:
                task.cancel()
            return pdu

        library.trace_pdu = cancel_on_answer
        before = reads
        done, _ = await asyncio.wait([task], timeout=30)  # a bound against a hang, not a timing
        try:
            assert done == {task} and task.cancelled()
            assert reads <= before + 1  # the read whose answer came with the cancellation raised
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            gateway.close()
