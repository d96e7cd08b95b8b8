/**
 * What the bench meters answer over Modbus TCP: plausible, slowly changing values at the
 * addresses of the layout (layout.ts), so every point passes its transforms as `good`. Values
 * follow the wall clock, like a real process, and every unit id gets the same meter.
 */
import { startModbusTcpServer, type RunningModbusServer } from '../drivers/modbus/server.js';
import type { BitTable, RegisterSource, WordTable } from '../drivers/modbus/register-image.js';

function word(table: WordTable, a: number, t: number): number {
  if (table === 'input') return (200 + ((t + a) % 50)) & 0xffff;
  if (a < 100) {
    // float32 pairs, big-endian words (ABCD): 10 … 120 m3/h.
    const view = new DataView(new ArrayBuffer(4));
    view.setFloat32(0, 10 + (a >> 1) + ((t * 7 + a) % 100) / 10);
    return a % 2 === 0 ? view.getUint16(0) : view.getUint16(2);
  }
  if (a < 200) return 400 + ((t + a) % 60);
  // int32 counters: high word then low word.
  const counter = 1_000_000 + t + a;
  return a % 2 === 0 ? (counter >>> 16) & 0xffff : counter & 0xffff;
}

export const meterSource: RegisterSource = {
  registers(table: WordTable, address: number, count: number): number[] {
    const t = Math.floor(Date.now() / 1000);
    const out = new Array<number>(count);
    for (let i = 0; i < count; i++) out[i] = word(table, address + i, t);
    return out;
  },
  bit(_table: BitTable, address: number): boolean {
    return (Math.floor(Date.now() / 1000) + address) % 5 === 0;
  },
};

export function startMeterServer(): Promise<RunningModbusServer> {
  return startModbusTcpServer(meterSource, { port: 0 });
}
