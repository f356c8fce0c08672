"""Simulated BACnet devices behind one router, in one process: ``python -m openbms.sim.bacnet_fleet``.

For the 1 000-device benchmark (``openbms bench bacnet --devices N``): several
of these processes each serve part of the devices, as the controllers of a site
sit on MS/TP trunks behind IP routers::

    BACnet/IP (loopback) ── SimulatedRouter <ip>:<port>, IP network 1
                              ├── network 10 (virtual) ── devices at MAC 1, 2, … (analog inputs 1..points)
                              └── network 11 (virtual) ── …

Each device has ``--points`` analog inputs (``AI-k``, present value ``k``) and
one commandable analog value (``SP``, 21.0) that a site may bind for its
schedules; it announces ``--max-apdu`` (480 by default) and ``--segmentation``
(none by default), as MS/TP controllers do. Instances are consecutive from
``--first``, network by network. The process prints one line,
``serving D devices on networks N1,N2 behind <ip>:<port>``, when it answers,
and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence

from openbms.sim.bacnet import ObjectSpec, SimulatedDevice, SimulatedRouter

__all__ = ["Fleet", "fleet_specs", "main"]

#: The largest MAC on a one-octet trunk (255 is the broadcast).
MAX_MAC = 254


def fleet_specs(points: int) -> tuple[ObjectSpec, ...]:
    """The objects of each device: ``points`` analog inputs and one commandable setpoint."""
    return (*(ObjectSpec("analog-input", k, f"AI-{k}", float(k), "degreesCelsius")
              for k in range(1, points + 1)),
            ObjectSpec("analog-value", 1, "SP", 21.0, "degreesCelsius"))


class Fleet:
    """A router at ``ip:port`` (IP network 1) and ``per_network`` devices on each of ``networks``."""

    def __init__(self, ip: str, port: int, networks: Sequence[int], per_network: int, points: int,
                 first: int, router_instance: int, max_apdu: int = 480,
                 segmentation: str = "no-segmentation") -> None:
        if not 1 <= per_network <= MAX_MAC:
            raise ValueError(f"--per-network {per_network}: expected 1 to {MAX_MAC} devices "
                             "(one-octet MACs on a trunk)")
        if not networks or len(set(networks)) != len(networks) or any(
                not 2 <= n <= 65534 for n in networks):
            raise ValueError(f"--networks {','.join(map(str, networks))}: expected distinct network "
                             "numbers from 2 to 65534 (1 is the IP side)")
        self.networks = tuple(networks)
        self.router = SimulatedRouter(router_instance, ip, {n: f"fleet-{n}" for n in networks},
                                      port=port)
        specs = fleet_specs(points)
        self.devices: dict[int, tuple[int, int]] = {}  # instance -> (network, mac)
        self._sims: list[SimulatedDevice] = []
        instance = first
        for network in networks:
            for mac in range(1, per_network + 1):
                self._sims.append(SimulatedDevice(instance, str(mac), specs, name=f"DEV-{instance}",
                                                  max_apdu=max_apdu, segmentation=segmentation,
                                                  vlan=f"fleet-{network}"))
                self.devices[instance] = (network, mac)
                instance += 1

    def start(self) -> None:
        """The router, then every device (call from a running event loop)."""
        self.router.start()
        for d in self._sims:
            d.start()

    def stop(self) -> None:
        """Every device, then the router."""
        for d in self._sims:
            d.stop()
        self.router.stop()


def _networks(text: str) -> list[int]:
    try:
        return [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected network numbers separated by commas, e.g. 10,11") from None


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a fleet until SIGTERM (see the module's docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m openbms.sim.bacnet_fleet",
        description="Serve simulated BACnet devices on virtual networks behind one BACnet/IP router.")
    parser.add_argument("--ip", required=True, help="the router's loopback address, e.g. 127.0.40.1")
    parser.add_argument("--port", type=int, required=True, help="the router's UDP port")
    parser.add_argument("--networks", type=_networks, required=True,
                        help="network numbers of its virtual networks, e.g. 10,11")
    parser.add_argument("--per-network", type=int, required=True, help="devices on each network")
    parser.add_argument("--points", type=int, required=True, help="analog inputs per device")
    parser.add_argument("--first", type=int, required=True, help="the first device instance")
    parser.add_argument("--router-instance", type=int, required=True,
                        help="the router's own device instance")
    parser.add_argument("--max-apdu", type=int, default=480, choices=(50, 128, 206, 480, 1024, 1476))
    parser.add_argument("--segmentation", default="no-segmentation",
                        choices=("no-segmentation", "segmented-both"))
    args = parser.parse_args(argv)
    try:
        fleet = Fleet(args.ip, args.port, args.networks, args.per_network, args.points, args.first,
                      args.router_instance, args.max_apdu, args.segmentation)
    except ValueError as err:
        parser.error(str(err))

    async def serve() -> None:
        fleet.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"serving {len(fleet.devices)} devices on networks "
              f"{','.join(map(str, fleet.networks))} behind {fleet.router.address}", flush=True)
        await stop.wait()
        fleet.stop()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
