#!/usr/bin/python3
"""An independent Modbus TCP slave (Debian's python3-pymodbus 3.0) for the driver's tests.

Usage: modbus-pymodbus-server.py '<json spec>'
  spec = {"host": "127.0.0.1", "units": {"1": {"hr": {"0": [17142, 59769]}, "ir": {...},
          "co": {"0": [1, 0]}, "di": {...}}}}
Addresses are 0-based protocol addresses (zero_mode). Unmapped addresses answer exception 2;
an unknown unit id gets no answer at all (pymodbus' framer drops it), so the client times out.

Prints "LISTENING <port>" once the socket listens (port 0 picks a free one), and exits when
stdin closes or on SIGTERM, so a test runner that dies never leaves it behind.
"""
import asyncio
import json
import logging
import signal
import sys

from pymodbus.datastore import ModbusServerContext, ModbusSlaveContext, ModbusSparseDataBlock
from pymodbus.server.async_io import ModbusTcpServer


def block(table):
    return ModbusSparseDataBlock({int(addr): values for addr, values in (table or {}).items()})


async def main(spec):
    slaves = {
        int(unit): ModbusSlaveContext(
            hr=block(tables.get("hr")),
            ir=block(tables.get("ir")),
            co=block(tables.get("co")),
            di=block(tables.get("di")),
            zero_mode=True,
        )
        for unit, tables in spec["units"].items()
    }
    context = ModbusServerContext(slaves=slaves, single=False)
    server = ModbusTcpServer(context, address=(spec.get("host", "127.0.0.1"), int(spec.get("port", 0))), allow_reuse_address=True)
    task = asyncio.create_task(server.serve_forever())
    await server.serving
    port = server.server.sockets[0].getsockname()[1]
    print(f"LISTENING {port}", flush=True)

    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_reader(sys.stdin.fileno(), lambda: done.set() if not sys.stdin.buffer.read1(4096) else None)
    await done.wait()
    await server.shutdown()
    task.cancel()


if __name__ == "__main__":
    # pymodbus logs every cancelled client handler at ERROR; the tests read stdout only.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL + 1)
    asyncio.run(main(json.loads(sys.argv[1])))
