"""Modbus TCP devices at full speed, for ``openbms bench modbus``: many registers each.

``python -m openbms.sim.modbus_load --devices 10 --registers 500``::

    one pymodbus TCP server a device, each on a free loopback port, unit 1,
    holding registers 0..REGISTERS-1 (register a holds a)
        ─▶ print "ready PORT PORT …" ─▶ serve until stdin closes (or a line "stop")

Each device is a server of its own (its own port and connection, as ten
meters on ten addresses are), all in this one process, so openbms and the
devices share the machine's cores as they would with a real plant's gateways
in another box. pymodbus serves them all on one event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

__all__ = ["main", "serve"]


def _device(registers: int) -> SimDevice:
    block = SimData(0, values=[a % 65536 for a in range(registers)], datatype=DataType.REGISTERS)
    filler = SimData(65000, values=[0], datatype=DataType.REGISTERS)
    bits = SimData(0, values=[0], datatype=DataType.BITS)
    return SimDevice(1, simdata=([bits], [bits], [block], [filler]))


async def serve(devices: int, registers: int, host: str = "127.0.0.1") -> None:
    """Start the servers, print their ports, and serve until stdin says stop (or closes)."""
    servers = [ModbusTcpServer([_device(registers)], address=(host, 0)) for _ in range(devices)]
    tasks = [asyncio.create_task(s.serve_forever()) for s in servers]
    ports: list[int] = []
    for server in servers:
        for _ in range(500):  # until it listens (serve_forever binds in its task)
            sockets = getattr(server.transport, "sockets", None)
            if sockets:
                ports.append(int(sockets[0].getsockname()[1]))
                break
            await asyncio.sleep(0.01)
        else:
            raise SystemExit("a pymodbus server did not start listening")
    print("ready", *ports, flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "stop":
            break
    for server in servers:
        await server.shutdown()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    """Serve as the module docstring says."""
    p = argparse.ArgumentParser(prog="python -m openbms.sim.modbus_load")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--devices", type=int, default=10)
    p.add_argument("--registers", type=int, default=500)
    args = p.parse_args(argv)
    asyncio.run(serve(args.devices, args.registers, args.host))
    return 0


if __name__ == "__main__":
    sys.exit(main())
