/**
 * Figure 4: requests per poll of a 100-point device against the minimal plan, and the RTU poll
 * cycle at 9600 and 19200 baud against the wire time of the requests it sent. The agent's own
 * driver (createDriver, the bus, its silences and timeouts) polls a slave in another process
 * that keeps the line's timing (rtu-slave.ts) over a socat pseudo-terminal pair; requests are
 * counted where they arrive, at the slave.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createDriver } from '../agent/drivers.js';
import { systemClock } from '../agent/clock.js';
import { createLogger } from '../agent/logger.js';
import { ModbusBusRegistry } from '../drivers/modbus/bus-registry.js';
import { pointWidth } from '../drivers/modbus/plan.js';
import { openPtyPair } from '../test/helpers/pty.js';
import { median } from './figures.js';
import { benchConfig, MAX_GAP, modbusDevices } from './layout.js';
import { minimalRequests, wireTimeMs, type WireRequest } from './wire.js';

export interface RtuResult {
  baud: number;
  cycle_ms: number;
  wire_ms: number;
  requests_per_cycle: number;
  minimal_requests: number;
  cycles: number;
  bad_readings: number;
}

interface SlaveMessage {
  ready?: boolean;
  seen?: WireRequest[];
}

function ask(child: ChildProcess, cmd: string): Promise<SlaveMessage> {
  return new Promise((resolve) => {
    child.once('message', (m: SlaveMessage) => resolve(m));
    child.send({ cmd });
  });
}

export async function benchRtu(baud: number, cycles: number): Promise<RtuResult> {
  const pty = await openPtyPair();
  const script = fileURLToPath(new URL('./rtu-slave.js', import.meta.url));
  const child = fork(script, [pty.slave, String(baud)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const logger = createLogger({ level: 'silent' });
  const buses = new ModbusBusRegistry({ clock: systemClock, logger });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`rtu slave exited with ${code}`)));
    });
    const { config } = benchConfig({
      bufferPath: ':memory:',
      devices: [{ id: 'meter-rtu', connection: { protocol: 'rtu', path: pty.master, baudRate: baud, parity: 'none', unitId: 1, timeout: '500ms' } }],
      everyMs: 1000,
    });
    const device = modbusDevices(config)[0]!;
    const driver = await createDriver(device, { clock: systemClock, logger, buses });
    await driver.start();
    const signal = new AbortController().signal;
    // Warm up (link open, JIT), then count from a clean slate.
    for (let i = 0; i < 2; i++) await driver.read(device.points, signal);
    await ask(child, 'reset');
    const times: number[] = [];
    let bad = 0;
    for (let i = 0; i < cycles; i++) {
      const t = performance.now();
      const readings = await driver.read(device.points, signal);
      times.push(performance.now() - t);
      bad += readings.filter((r) => r.quality === 'bad').length;
    }
    const seen = (await ask(child, 'seen')).seen ?? [];
    await driver.stop();
    const perCycle = seen.length / cycles;
    const oneCycle = seen.slice(0, Math.round(perCycle));
    const minimal = minimalRequests(
      device.points.map((p) => ({ register: p.register, address: p.address, width: pointWidth(p) })),
      device.maxGap ?? MAX_GAP,
    );
    return {
      baud,
      cycle_ms: median(times),
      wire_ms: wireTimeMs(oneCycle, { baudRate: baud, bitsPerChar: 10 }),
      requests_per_cycle: perCycle,
      minimal_requests: minimal.length,
      cycles,
      bad_readings: bad,
    };
  } finally {
    if (child.connected) child.send({ cmd: 'close' });
    await new Promise((r) => setTimeout(r, 100));
    if (child.exitCode === null) child.kill('SIGTERM');
    await pty.close();
  }
}
