/** Device configs for the RTU drivers' tests, in the shape resolve.ts produces. */
import type { ModbusPoint } from '../../config/types.js';
import type { ModbusRtuDevice } from '../../drivers/modbus/rtu-driver.js';

interface Common {
  id?: string;
  unitId?: number;
  timeout?: number;
  points?: ModbusPoint[];
  maxGap?: number;
  coalesce?: boolean;
  everyMs?: number;
}

function base(o: Common) {
  const id = o.id ?? 'rtu-1';
  return {
    id,
    driver: 'modbus' as const,
    schedule: { kind: 'every' as const, everyMs: o.everyMs ?? 1000 },
    tags: { device: id },
    points: (o.points ?? []).map((p) => ({ ...p, deviceId: id })),
    ...(o.maxGap === undefined ? {} : { maxGap: o.maxGap }),
    ...(o.coalesce === undefined ? {} : { coalesce: o.coalesce }),
  };
}

export function rtuDevice(path: string, o: Common & { baudRate?: number } = {}): ModbusRtuDevice {
  return {
    ...base(o),
    connection: { protocol: 'rtu', path, baudRate: o.baudRate ?? 19200, parity: 'none', dataBits: 8, stopBits: 1, unitId: o.unitId ?? 1, timeout: o.timeout ?? 300 },
  };
}

export function rtuOverTcpDevice(port: number, o: Common = {}): ModbusRtuDevice {
  return { ...base(o), connection: { protocol: 'rtu-over-tcp', host: '127.0.0.1', port, unitId: o.unitId ?? 1, timeout: o.timeout ?? 300 } };
}
