"""A one-off MQTT subscription for the command line (``openbms mqtt sub``, ``discover``).

The driver keeps one connection that reconnects by itself; a command connects
once, takes messages until it has enough, and says in one line when the broker
cannot be reached, refuses it, or goes away. This is the only place outside the
driver that touches aiomqtt, so the command line imports no protocol library.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Callable, Sequence
from typing import cast

from openbms.drivers.mqtt.connect import LibraryLog

__all__ = ["BrokerError", "subscribe"]


class BrokerError(Exception):
    """The broker could not be reached or refused the connection (``connected`` False), or
    went away while messages were being taken (``connected`` True)."""

    def __init__(self, message: str, connected: bool) -> None:
        super().__init__(message)
        self.connected = connected


async def subscribe(host: str, port: int, patterns: Sequence[str],
                    take: Callable[[str, bytes], bool], seconds: float | None, *,
                    username: str | None = None, password: str | None = None,
                    tls_context: ssl.SSLContext | None = None,
                    connect_timeout: float = 5.0) -> None:
    """Subscribe to ``patterns`` (QoS 0) and give each message's topic and payload to ``take``
    until it returns False or ``seconds`` (real time) pass."""
    import aiomqtt

    connected = False
    said = LibraryLog(__name__)  # paho's reason (a TLS alert) for what aiomqtt calls a timeout
    try:
        async with aiomqtt.Client(host, port, identifier=f"openbms-cli-{random.getrandbits(32):08x}",
                                  username=username, password=password, tls_context=tls_context,
                                  timeout=connect_timeout, logger=cast(logging.Logger, said),
                                  protocol=aiomqtt.ProtocolVersion.V311) as client:
            connected = True
            await client.subscribe([(p, 0) for p in patterns])
            try:
                async with asyncio.timeout(seconds):
                    async for message in client.messages:
                        payload = message.payload
                        if not isinstance(payload, bytes | bytearray):
                            payload = b""
                        if not take(message.topic.value, bytes(payload)):
                            return
            except TimeoutError:
                return
    except aiomqtt.MqttError as err:
        raise BrokerError(said.why(err), connected) from None
