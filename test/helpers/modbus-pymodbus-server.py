#!/usr/bin/python3
"""An independent Modbus slave (Debian's python3-pymodbus 3.0) for the driver's tests: Modbus TCP,
RTU over TCP (`"framer": "rtu"`), or RTU on a serial port (`"serial": {"port": "/dev/pts/7"}`).

Usage: modbus-pymodbus-server.py '<json spec>'
  spec = {"host": "127.0.0.1", "units": {"1": {"hr": {"0": [17142, 59769]}, "ir": {...},
          "co": {"0": [1, 0]}, "di": {...}}}, "framer": "socket" | "rtu",
          "serial": {"port": "/dev/pts/7", "baudrate": 9600, "parity": "N", "stopbits": 1}}
Addresses are 0-based protocol addresses (zero_mode). Per unit, "frozen": [holding addresses whose
writes are acknowledged and ignored] and "refuse": [function codes answered with exception 2]. Unmapped addresses answer exception 2;
an unknown unit id gets no answer at all (pymodbus' framer drops it), so the client times out.

Prints "LISTENING <port>" once the socket listens (port 0 picks a free one; 0 for a serial
port once it is open), and exits when
stdin closes or on SIGTERM, so a test runner that dies never leaves it behind.
"""
import asyncio
import json
import logging
import signal
import sys

from pymodbus.datastore import ModbusServerContext, ModbusSlaveContext, ModbusSparseDataBlock
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.framer.socket_framer import ModbusSocketFramer
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer


def block(table, frozen=()):
    return FrozenBlock({int(addr): values for addr, values in (table or {}).items()}, frozen)


class FrozenBlock(ModbusSparseDataBlock):
    """Writes to `frozen` addresses are acknowledged and ignored: a device that keeps its old value."""

    def __init__(self, values, frozen=()):
        super().__init__(values)
        self.frozen = set(int(a) for a in frozen)

    def setValues(self, address, values, use_as_default=False):
        values = values if isinstance(values, list) else [values]
        kept = [self.getValues(address + i, 1)[0] if (address + i) in self.frozen else v for i, v in enumerate(values)]
        super().setValues(address, kept, use_as_default)


class Slave(ModbusSlaveContext):
    """`refuse`: function codes answered with exception 2 (e.g. [6]: a device that takes only FC16)."""

    def __init__(self, refuse=(), **kwargs):
        super().__init__(**kwargs)
        self.refuse = set(refuse)

    def validate(self, fc_as_hex, address, count=1):
        if fc_as_hex in self.refuse:
            return False
        return super().validate(fc_as_hex, address, count)


async def main(spec):
    slaves = {
        int(unit): Slave(
            refuse=tables.get("refuse", []),
            hr=block(tables.get("hr"), tables.get("frozen", [])),
            ir=block(tables.get("ir")),
            co=block(tables.get("co")),
            di=block(tables.get("di")),
            zero_mode=True,
        )
        for unit, tables in spec["units"].items()
    }
    context = ModbusServerContext(slaves=slaves, single=False)
    framer = ModbusRtuFramer if spec.get("framer") == "rtu" else ModbusSocketFramer
    serial = spec.get("serial")
    if serial is not None:
        # An unknown unit id gets no answer on a bus: that is what a dead slave looks like.
        server = ModbusSerialServer(context, framer=ModbusRtuFramer, port=serial["port"], baudrate=serial.get("baudrate", 9600),
                                    parity=serial.get("parity", "N"), stopbits=serial.get("stopbits", 1), bytesize=8,
                                    ignore_missing_slaves=True)
        await server.start()
        task = None
        port = 0
    else:
        server = ModbusTcpServer(context, framer=framer, address=(spec.get("host", "127.0.0.1"), int(spec.get("port", 0))),
                                 allow_reuse_address=True, ignore_missing_slaves=True)
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
    if task is not None:
        task.cancel()


if __name__ == "__main__":
    # pymodbus logs every cancelled client handler at ERROR; the tests read stdout only.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL + 1)
    asyncio.run(main(json.loads(sys.argv[1])))
