"""BACnet from the network: spoofed rejects and garbage datagrams against a running driver.

Everything here is sent as real UDP datagrams on loopback: spoofed Reject
PDUs go out through the simulated device's own socket (so they carry its
address, as a spoofer's would), garbage comes from sockets bound to
127.0.0.5 and 127.0.0.6.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from openbms import logsafe
from openbms.drivers.bacnet import BACnetDriver
from openbms.drivers.bacnet import noise as bacnet_noise
from openbms.model import DriverSettings, parse_binding
from openbms.runtime.clock import ManualClock
from openbms.sim.bacnet import ObjectSpec, SimulatedBACnet, SimulatedDevice
from tests.fixtures.waiting import eventually
from tests.integration.test_bacnet import free_udp_port

SPECS = (
    ObjectSpec("analog-input", 1, "SA-T", 13.5, "degreesCelsius"),
    ObjectSpec("analog-value", 2, "SA-SP", 13.0, "degreesCelsius"),
)
BINDINGS = [parse_binding("bacnet://3001/analog-input,1"), parse_binding("bacnet://3001/analog-value,2")]

# Datagrams bacpypes3 cannot use, each making it log one record: not BACnet/IP at all,
# then BACnet/IP with a truncated NPDU, a truncated APDU, a network layer of version 255,
# an APDU without its service choice, a BVLL length that lies.
GARBAGE = (b"\x00", b"\x81\x0a\x00\x05\x01", b"\x81\x0a\x00\x08\x01\x00\x30\x01",
           b"\x81\x0b\x00\x06\xff\xff", b"\x81\x0a\x00\x07\x01\x00\x10", b"\x81\x04\x00\x0a")


def reject(invoke_id: int) -> bytes:
    """A Reject-PDU (unrecognized-service) in a BVLL original-unicast-NPDU."""
    return bytes([0x81, 0x0A, 0x00, 0x09, 0x01, 0x00, 0x60, invoke_id, 0x09])


def abort_for_size(invoke_id: int) -> bytes:
    """An Abort-PDU from the server (segmentation-not-supported): "the reply does not fit"."""
    return bytes([0x81, 0x0A, 0x00, 0x09, 0x01, 0x00, 0x71, invoke_id, 0x04])


def local_address(driver: BACnetDriver) -> tuple[str, int]:
    ip, port = driver.address.split("/")[0], driver.address.rsplit(":", 1)[1]
    return ip, int(port)


@pytest.fixture
def fresh_noise_limiter() -> Iterator[None]:
    """Each test starts with no kinds seen (the limiter is process-wide)."""
    for name in ("bacpypes3", bacnet_noise.NOISE_LOGGER):
        logsafe.unguard(name)
    yield
    for name in ("bacpypes3", bacnet_noise.NOISE_LOGGER):
        logsafe.unguard(name)


@pytest.fixture
async def device(fresh_noise_limiter) -> AsyncIterator[tuple[SimulatedDevice, BACnetDriver, ManualClock]]:
    clock = ManualClock()
    sim = SimulatedBACnet([SimulatedDevice(3001, "127.0.9.1", SPECS, port=free_udp_port())])
    sim.start()
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices=sim.address_map(), timeout=2, cov=False),
                          clock=clock)
    await driver.start()
    try:
        yield sim[3001], driver, clock
    finally:
        await driver.stop()
        sim.stop()


async def read(driver: BACnetDriver) -> tuple[int, int]:
    """Read both objects; how many RPM and RP requests that took."""
    rpm, rp = driver.rpm_requests, driver.rp_requests
    assert [(r.value, r.status) for r in await driver.read("3001", BINDINGS)] == [(13.5, "ok"),
                                                                                 (13.0, "ok")]
    return driver.rpm_requests - rpm, driver.rp_requests - rp


async def read_with_a_spoofed_reject(sim: SimulatedDevice, driver: BACnetDriver,
                                     pdu: Callable[[int], bytes] = reject) -> tuple[int, int]:
    """A read whose RPM is answered by a Reject (or ``pdu``) sent from the device's address."""
    assert driver.app is not None and sim.app is not None
    sim.set_silent(True)  # the device's own reply never comes: the spoofed one decides
    rpm, rp = driver.rpm_requests, driver.rp_requests
    task = asyncio.create_task(driver.read("3001", BINDINGS))

    def in_flight() -> list[int]:
        return [tr.invokeID for tr in driver.app.asap.clientTransactions
                if tuple(tr.pdu_address.addrTuple) == (sim.ip, sim.port)]

    await eventually(lambda: bool(in_flight()), "the RPM request in flight")
    transport = next(iter(sim.app.link_layers.values())).server.local_transport
    transport.sendto(pdu(in_flight()[0]), local_address(driver))
    sim.set_silent(False)  # before the driver sees the reject: its fallback reads are answered
    readings = await task
    assert [(r.value, r.status) for r in readings] == [(13.5, "ok"), (13.0, "ok")]
    return driver.rpm_requests - rpm, driver.rp_requests - rp


async def test_spoofed_rejects_below_the_threshold_leave_the_device_on_rpm(device):
    sim, driver, _clock = device
    assert await read(driver) == (1, 0)
    for _ in range(2):  # each rejected read is made object by object
        assert await read_with_a_spoofed_reject(sim, driver) == (1, 2)
    assert driver.rpm_rejects == 2
    assert await read(driver) == (1, 0)  # still RPM, and the count starts again
    for _ in range(2):
        assert await read_with_a_spoofed_reject(sim, driver) == (1, 2)
    assert await read(driver) == (1, 0)


async def test_rpm_comes_back_by_a_probe_after_three_spoofed_rejects_in_a_row(device):
    sim, driver, clock = device
    assert await read(driver) == (1, 0)
    for _ in range(3):
        assert await read_with_a_spoofed_reject(sim, driver) == (1, 2)
    assert await read(driver) == (0, 2)  # three in a row: object by object for now
    await clock.advance(600)  # the default back-off
    assert await read(driver) == (1, 0)  # the probe is accepted: RPM again
    assert await read(driver) == (1, 0)


async def test_a_spoofed_abort_for_size_shrinks_requests_only_until_the_back_off(device):
    sim, driver, clock = device
    assert await read(driver) == (1, 0)
    # The read goes on in two requests of one object: the abort said two do not fit.
    assert await read_with_a_spoofed_reject(sim, driver, abort_for_size) == (3, 0)
    assert await read(driver) == (2, 0)
    await clock.advance(599)
    assert await read(driver) == (2, 0)
    await clock.advance(1)
    assert await read(driver) == (1, 0)  # the announced size (52 objects) again
    assert await read(driver) == (1, 0)
    # An hour later, another spoofed Abort: one base back-off again, not a doubled one for good.
    await clock.advance(3600)
    assert await read_with_a_spoofed_reject(sim, driver, abort_for_size) == (3, 0)
    await clock.advance(600)
    assert await read(driver) == (1, 0)


def driver_limiter() -> logsafe.NoiseLimiter:
    limiter = logsafe.limiter("bacpypes3")
    assert limiter is not None, "a started driver rate-limits bacpypes3's logs"
    return limiter


async def test_a_flood_of_garbage_logs_one_line_per_kind_then_a_summary_per_window(device, caplog):
    _sim, driver, _clock = device
    now = [1000.0]
    limiter = driver_limiter()
    limiter.clock = lambda: now[0]
    senders = []
    try:
        for ip in ("127.0.0.5", "127.0.0.6"):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((ip, 0))
            senders.append(s)
        target = local_address(driver)
        sent = 0
        by_sender = {"127.0.0.5": 0, "127.0.0.6": 0}
        for _ in range(12):  # in bursts that fit the socket's buffer: none is dropped uncounted
            for i in range(100):
                sender = senders[i % 2]
                sender.sendto(GARBAGE[(sent // 2) % len(GARBAGE)], target)
                if GARBAGE[(sent // 2) % len(GARBAGE)] != b"\x00":
                    by_sender[sender.getsockname()[0]] += 1
                sent += 1
            await eventually(lambda n=sent: limiter.seen == n, "bacpypes3 to see every datagram")
        assert await read(driver) == (1, 0)  # the driver reads on
        logged = [r for r in caplog.records if r.name.startswith("bacpypes3")]
        # The first of each kind, one traceback in all: not 1 200 lines and 1 000 tracebacks.
        assert sorted(r.getMessage().split(":")[0] for r in logged) == [
            "error processing incoming PDU", "unsupported message"]
        assert sum(1 for r in logged if r.exc_info) == 1

        now[0] += 61  # a window later, the next malformed datagram brings the summary
        senders[0].sendto(GARBAGE[1], target)
        by_sender["127.0.0.5"] += 1
        await eventually(lambda: limiter.seen == sent + 1, "bacpypes3 to see the last datagram")
    finally:
        for s in senders:
            s.close()
    summary = [r for r in caplog.records if r.name.startswith("bacpypes3")][-1]
    # Counted: every malformed datagram but the first (the third sent, from 127.0.0.5),
    # which was logged whole.
    by_sender["127.0.0.5"] -= 1
    total = by_sender["127.0.0.5"] + by_sender["127.0.0.6"]
    top = sorted(by_sender.items(), key=lambda item: (-item[1], item[0]))
    assert summary.getMessage() == (
        f"{total} malformed datagrams from {top[0][0]} ({top[0][1]}), {top[1][0]} ({top[1][1]}) "
        "in the last 61 s (last: error processing incoming PDU: DecodingError('invalid length'))")
    assert summary.levelno == logging.ERROR and summary.exc_info is None


async def test_garbage_from_ever_new_senders_keeps_the_limiter_small(device, caplog):
    _sim, driver, _clock = device
    limiter = driver_limiter()
    limiter.clock = lambda: 0.0  # one window throughout, however slow the machine
    target = local_address(driver)
    sent = 0
    for host in range(2, 202):  # 200 senders, as an attacker varying addresses would
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((f"127.0.10.{host}", 0))
            s.sendto(GARBAGE[2], target)
            sent += 1
        if sent % 50 == 0:
            await eventually(lambda n=sent: limiter.seen == n, "bacpypes3 to see every datagram")
    assert len([r for r in caplog.records if r.name.startswith("bacpypes3")]) == 1
    kind = next(iter(limiter._kinds.values()))
    assert len(kind.sources) == limiter.max_sources
    assert kind.count == 199 and kind.others == 199 - limiter.max_sources
    assert await read(driver) == (1, 0)
