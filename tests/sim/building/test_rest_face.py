"""The emulated building's REST thermostats: each shows its zone's air, a change is pushed as a signed
webhook, and the webhooks go over one HTTP client's connections (a new HTTP client for each took
about 0.1 s of the event loop the demo shares with openbms)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

from openbms.sim.building import SEQUENCES, Building
from openbms.sim.building.rest import BuildingThermostats
from openbms.sim.thermostats import sign


class Receiver:
    """A minimal HTTP/1.1 server on a free loopback port: answers 200 to every POST, keeps the
    connection open, and counts connections and requests."""

    def __init__(self) -> None:
        self.connections = 0
        self.bodies: list[tuple[bytes, str]] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")[1:]
                headers = dict(line.split(": ", 1) for line in lines if ": " in line)
                lower = {k.lower(): v for k, v in headers.items()}
                body = await reader.readexactly(int(lower.get("content-length", "0")))
                self.bodies.append((body, lower.get("x-signature", "")))
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()


async def test_the_thermostats_push_their_zones_changes_signed_over_one_client():
    building = Building(start=datetime(2025, 1, 6, 7, 0))
    sequence = SEQUENCES["baseline"]()
    thermostats = BuildingThermostats(building, client_id="c", client_secret="s", webhook_secret=b"hook")
    async with Receiver() as receiver:
        await thermostats.start()
        try:
            thermostats.register_webhook(f"http://127.0.0.1:{receiver.port}/hook")
            for _ in range(30):  # the morning warm-up: the zones' air changes
                sequence(building)
                building.step(60)
                thermostats.publish()
                await thermostats.service.drain()
            sent = thermostats.service.webhooks_sent
        finally:
            await thermostats.stop()
    assert len(sent) > len(thermostats.zones) and {status for _url, status in sent} == {200}
    assert len(receiver.bodies) == len(sent)
    # One client's pool for every webhook: at most one connection per thermostat changing at the
    # same step (it was one connection, and one new client, per webhook).
    assert receiver.connections <= len(thermostats.zones)
    for body, signature in receiver.bodies:
        assert signature == sign(b"hook", body)
    last = {json.loads(b)["device"]: json.loads(b)["status"] for b, _s in receiver.bodies}
    for vid, zone in thermostats.zones.items():
        if vid in last:
            assert last[vid]["temperature"] == round(float(building.get(f"vav-{zone}/zone-t")), 1)
