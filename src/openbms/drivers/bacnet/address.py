"""This machine's BACnet/IP address: its form, and whether it can be bound, checked up front."""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
from typing import Any

from openbms.errors import DriverError

__all__ = ["ADDRESS_FORM", "DEVICE_FORM", "check_address", "device_address", "local_ipv4"]

#: What an address looks like, for messages.
ADDRESS_FORM = "ip/prefix:port, e.g. 192.168.1.20/24:47808"
#: What a device's address looks like.
DEVICE_FORM = ("ip:port (192.168.1.31:47808), or network:mac for a device behind a router "
               "(2:5 or 2:0x1a on an MS/TP trunk, 3:10.0.0.5:47808 on a routed BACnet/IP network)")


def device_address(text: str, where: str = "bacnet device address") -> Any:
    """A device's BACnet address (a bacpypes3 ``Address``) from ``ip:port`` or ``net:mac``;
    :class:`DriverError` naming ``where`` and the forms for anything else."""
    from bacpypes3.pdu import Address

    try:
        addr = Address(text.strip())
        local = (addr.addrType == Address.localStationAddr and len(addr.addrAddr or b"") == 6
                 and addr.addrAddr[:4] not in (b"\xff\xff\xff\xff", b"\x00\x00\x00\x00"))
        remote = (addr.addrType == Address.remoteStationAddr and addr.addrNet is not None
                  and 1 <= addr.addrNet <= 65_534 and bool(addr.addrAddr))
    except Exception:  # bacpypes3 raises ValueError, TypeError, KeyError, OSError …
        local = remote = False
    if not (local or remote):
        raise DriverError(f"{where} {text!r} is not a BACnet device address: expected "
                          f"{DEVICE_FORM}")
    return addr


def local_ipv4() -> dict[str, str]:
    """This machine's IPv4 addresses → interface name (Linux; empty where it cannot tell)."""
    found: dict[str, str] = {}
    try:
        import fcntl  # not on Windows: no names to give there
    except ImportError:
        return found
    try:
        names = [name for _i, name in socket.if_nameindex()]
    except OSError:
        return found
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for name in names:
            try:
                raw = fcntl.ioctl(s.fileno(), 0x8915,  # SIOCGIFADDR
                                  struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # no IPv4 address on this interface
            found[socket.inet_ntoa(raw[20:24])] = name
    return found


def check_address(address: str, where: str = "bacnet address", bind: bool = True) -> None:
    """Raise :class:`DriverError` unless ``address`` is an IPv4 ``ip[/prefix][:port]`` of this
    machine whose UDP port can be bound (with ``bind=False``: any IPv4 ``ip[:port]``, such as
    another machine's); ``where`` names the setting in the message.

    bacpypes3 prints a traceback for a malformed address, and 50 lines of
    asyncio ending in an empty reason for one it cannot bind: this says in one
    line what is wrong.
    """
    where = f"{where} {address!r}"
    form = ADDRESS_FORM if bind else "ip:port, e.g. 192.168.1.2:47808"
    host, colon, port_text = address.rpartition(":")
    if not colon:
        host, port_text = address, "47808"
    ip_text, _slash, prefix = host.partition("/")
    try:
        ip = ipaddress.IPv4Address(ip_text)
        port = int(port_text)
        if not 0 < port < 65536 or (prefix and not 0 <= int(prefix) <= 32) or (_slash and not bind):
            raise ValueError(address)
    except ValueError:
        raise DriverError(f"{where} is not a BACnet/IP address: expected {form}") from None
    if not bind:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((str(ip), port))
        except OSError as err:
            if err.errno == errno.EADDRNOTAVAIL:
                mine = ", ".join(f"{a} ({n})" for a, n in local_ipv4().items()) or "unknown"
                raise DriverError(f"{where}: {ip} is not an address of this machine (its IPv4 "
                                  f"addresses: {mine})") from None
            if err.errno == errno.EADDRINUSE:
                raise DriverError(f"{where}: UDP port {port} on {ip} is in use by another "
                                  "program (openbms run?): choose another port") from None
            raise DriverError(f"{where}: cannot bind UDP {ip}:{port}: "
                              f"{err.strerror or err}") from None
