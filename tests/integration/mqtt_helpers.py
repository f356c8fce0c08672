"""Helpers for the MQTT driver tests: a recorder for the driver's changes, a publisher, waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiomqtt

from openbms.drivers.mqtt import MQTTDriver
from openbms.model import DriverSettings, parse_binding
from openbms.model.binding import Binding
from openbms.model.sample import Value
from openbms.runtime.clock import Clock
from tests.fixtures.services import MosquittoBroker


class Changes:
    """What the driver reported, in order: (uri, value, status, ts)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Value, str, float | None]] = []

    def __call__(self, binding: Binding, value: Value, status: str, ts: float | None = None) -> None:
        self.seen.append((binding.uri, value, status, ts))

    def of(self, uri: str) -> list[tuple[Value, str, float | None]]:
        return [(v, s, t) for u, v, s, t in self.seen if u == uri]

    def last(self, uri: str) -> tuple[Value, str, float | None] | None:
        got = self.of(uri)
        return got[-1] if got else None


async def until(condition: Callable[[], Any], within: float = 10.0, what: str = "") -> None:
    """Wait until ``condition()`` is true, at most ``within`` seconds (then fail saying what)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not within {within:g} s: {what or condition}")
        await asyncio.sleep(0.01)


def driver_for(broker: MosquittoBroker, clock: Clock | None = None, **extra: Any) -> MQTTDriver:
    extra.setdefault("reconnect_min", 0.1)
    extra.setdefault("max_backoff", 1.0)
    extra.setdefault("timeout", 3)
    return MQTTDriver(DriverSettings(host=broker.host, port=broker.port, **extra), clock)


@asynccontextmanager
async def subscribed(driver: MQTTDriver, *uris: str) -> AsyncIterator[Changes]:
    """The driver started with ``uris`` subscribed; stopped afterwards."""
    changes = Changes()
    await driver.start()
    try:
        bindings = [parse_binding(u) for u in uris]
        await driver.subscribe("any", bindings, changes)
        yield changes
    finally:
        await driver.stop()


@asynccontextmanager
async def publisher(broker: MosquittoBroker) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(broker.host, broker.port, identifier="test-publisher") as client:
        yield client
