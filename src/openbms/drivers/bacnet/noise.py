"""Protocol noise from the network, logged at a bounded rate.

Anyone who can reach the BACnet/IP port can send it datagrams, and bacpypes3
logs each one it cannot parse at error level with a full traceback (8 165
garbage datagrams once made 6.5 MB of log). :func:`install` puts the
``bacpypes3`` logger tree and the driver's own noise logger behind an
:class:`openbms.logsafe.NoiseLimiter`: the first record of each kind as it
came, then one summary a minute naming the senders::

    ERROR bacpypes3.ipv4.IPv4DatagramServer: 1234 malformed datagrams from 127.0.0.5
          in the last 60 s (last: error processing incoming PDU: DecodingError('invalid length'))

:func:`attribute_senders` tells the limiter who sent the datagram being processed.
"""

from __future__ import annotations

from typing import Any

from openbms import logsafe

__all__ = ["LABELS", "NOISE_LOGGER", "attribute_senders", "install"]

#: The driver's own messages about what devices (or anyone spoofing them) send.
NOISE_LOGGER = "openbms.drivers.bacnet.noise"

#: (logger, message template) → what a summary calls those records.
LABELS: dict[tuple[str, str], str] = {
    ("bacpypes3.ipv4.IPv4DatagramServer", "error processing incoming PDU: %r"):
        "malformed datagrams",
    ("bacpypes3.ipv4.service.UDPMultiplexer", "unsupported message"):
        "datagrams that are not BACnet/IP",
    ("bacpypes3.ipv4.service.BIPNormal", "invalid pdu type: %s"):
        "BACnet/IP messages of a kind this client does not take",
    ("bacpypes3.ipv4.service.BTR", "not a peer: %r"): "messages from unknown routers",
    ("bacpypes3.app.Application", "exception: %r"): "requests bacpypes3 failed to serve",
    (NOISE_LOGGER, "bacnet device %s rejected ReadPropertyMultiple (%s): %d of %d "
                   "in a row before reading object by object"):
        "ReadPropertyMultiple rejects",
    (NOISE_LOGGER, "bacnet device %s still rejects ReadPropertyMultiple (%s): trying "
                   "again in %.0f s"):
        "refused ReadPropertyMultiple probes",
    (NOISE_LOGGER, "bacnet device %s: its ReadPropertyMultiple replies still need the generic "
                   "decoder (%s); trying ours again in %.0f s"):
        "replies the lean codec could not read",
    (NOISE_LOGGER, "bacnet device %s: a reply for %d objects is too big; asking for %d at a time"):
        "aborts for size",
}


def install() -> logsafe.NoiseLimiter:
    """Rate-limit bacpypes3's logs and the driver's noise (idempotent); the limiter in place."""
    limiter = logsafe.guard("bacpypes3")
    limiter.labels.update(LABELS)
    logsafe.guard(NOISE_LOGGER, limiter)
    return limiter


def attribute_senders(app: Any) -> None:
    """Let the limiter know the sender (IP address) of each datagram bacpypes3 processes."""
    for layer in app.link_layers.values():
        server: Any = getattr(layer, "server", None)
        received = getattr(server, "confirmation", None)
        if server is None or received is None or getattr(received, "_openbms_attributed", False):
            continue

        async def confirmation(pdu: Any, received: Any = received) -> None:
            source = getattr(pdu.pduSource, "addrTuple", None)
            token = logsafe.SOURCE.set(str(source[0]) if source else str(pdu.pduSource))
            try:
                await received(pdu)
            finally:
                logsafe.SOURCE.reset(token)

        confirmation._openbms_attributed = True  # type: ignore[attr-defined]
        server.confirmation = confirmation
