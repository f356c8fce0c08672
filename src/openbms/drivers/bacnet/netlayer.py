"""Broadcasts the client sends itself: Who-Is and Who-Is-Router-To-Network as BACnet/IP datagrams.

bacpypes3 0.0.110 sends a broadcast to its own UDP port. On a site network
every device listens on 47808 and so does a client there, but a client on
another port (two BACnet programs on one machine, every test on loopback)
reaches no device that way. These datagrams go through the client's own
socket to the broadcast address and port it is configured with, so answers
come back to it and bacpypes3 takes them as usual: I-Ams to its Who-Is
collectors, I-Am-Router-To-Network into its routing table.

Who-Is is a *global* broadcast (DNET 0xFFFF): a BACnet router passes it on to
every network behind it (MS/TP trunks, gateways' virtual networks), and the
devices there answer through the router, so discovery and the driver find
routed devices as they find the others. A client registered as a foreign
device with a BBMD sends its broadcasts to the BBMD as
Distribute-Broadcast-To-Network, which the BBMD broadcasts on its own subnet
and passes to its peers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from bacpypes3.pdu import Address

from openbms.errors import DriverError

__all__ = ["DISTRIBUTE_BROADCAST", "ORIGINAL_BROADCAST", "collect_i_ams", "host_port", "send",
           "transport", "unregister_datagram", "wait_for_route", "who_is_datagram",
           "who_is_router_datagram"]

#: BVLC functions (Annex J).
ORIGINAL_BROADCAST = 0x0B
DISTRIBUTE_BROADCAST = 0x09

#: NPDU: version 1, DNET present (0xFFFF, every network), DLEN 0, hop count 255.
_GLOBAL = b"\x01\x20\xff\xff\x00\xff"
#: NPDU: version 1, a network layer message, no addressing.
_NETWORK_MESSAGE = b"\x01\x80"
_WHO_IS_ROUTER = 0x00


def _context_unsigned(tag: int, value: int) -> bytes:
    length = max(1, (value.bit_length() + 7) // 8)
    return bytes([(tag << 4) | 0x08 | length]) + value.to_bytes(length, "big")


def _bvlc(function: int, npdu: bytes) -> bytes:
    return bytes([0x81, function]) + (4 + len(npdu)).to_bytes(2, "big") + npdu


def who_is_datagram(low: int | None = None, high: int | None = None,
                    function: int = ORIGINAL_BROADCAST) -> bytes:
    """A BACnet/IP broadcast carrying a global Who-Is (with a range when given)."""
    apdu = b"\x10\x08"  # unconfirmed request, who-is
    if low is not None and high is not None:
        apdu += _context_unsigned(0, low) + _context_unsigned(1, high)
    return _bvlc(function, _GLOBAL + apdu)


def who_is_router_datagram(network: int | None = None,
                           function: int = ORIGINAL_BROADCAST) -> bytes:
    """A BACnet/IP broadcast of Who-Is-Router-To-Network (one network, or all of them)."""
    npdu = _NETWORK_MESSAGE + bytes([_WHO_IS_ROUTER])
    if network is not None:
        npdu += network.to_bytes(2, "big")
    return _bvlc(function, npdu)


def transport(app: Any) -> Any:
    """The client's UDP transport (its BACnet/IP socket)."""
    for layer in app.link_layers.values():
        server = getattr(layer, "server", None)
        if server is not None and server.local_transport is not None:
            return server.local_transport
    raise DriverError("bacnet: the client has no IPv4 socket to broadcast from")


def unregister_datagram() -> bytes:
    """Register-Foreign-Device with a time-to-live of 0: leave the BBMD's table."""
    return bytes([0x81, 0x05, 0x00, 0x06, 0x00, 0x00])


def collect_i_ams(app: Any, low: int | None, high: int | None, seconds: float) -> Any:
    """A future of the I-Ams (in the range) that arrive within ``seconds``, or of the first one
    when ``low == high``, without sending anything (bacpypes3's ``who_is`` sends a Who-Is of its
    own as well, so every device would get two)."""
    from bacpypes3.service.device import WhoIsFuture

    if not hasattr(app, "_who_is_futures"):
        app._who_is_futures = []
    collector = WhoIsFuture(app, None, low, high, seconds)
    app._who_is_futures.append(collector)
    return collector.future


def host_port(text: str) -> tuple[str, int]:
    """``ip:port`` (port 47808 when left out) as a socket address."""
    host, colon, port = text.rpartition(":")
    return (host, int(port)) if colon else (text, 47808)


def send(app: Any, make: Any, targets: Sequence[str], bbmd: str | None = None) -> None:
    """Broadcast one datagram built by ``make(function)``: to each target as an
    Original-Broadcast-NPDU, or, registered with a BBMD, once to the BBMD as a
    Distribute-Broadcast-To-Network."""
    sock = transport(app)
    if bbmd:
        sock.sendto(make(DISTRIBUTE_BROADCAST), host_port(bbmd))
        return
    datagram = make(ORIGINAL_BROADCAST)
    for target in targets:
        sock.sendto(datagram, host_port(target))


async def wait_for_route(app: Any, network: int, seconds: float) -> Address | None:
    """The router to ``network`` once bacpypes3's routing table has one (from an
    I-Am-Router-To-Network, or any message routed from that network), else None
    after ``seconds``."""
    cache = app.nsap.router_info_cache
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        for snet in list(app.nsap.adapters):
            info = await cache.get_path_info(snet, network)
            if info:
                return info[0]
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(0.02)
