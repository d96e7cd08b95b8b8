/**
 * Simulators whose port is taken: the demo's move (and take the devices that poll them along),
 * a user's config never does.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../agent/logger.js';
import { startSimulators } from '../../../agent/simulators.js';
import { systemClock } from '../../../agent/clock.js';
import { loadConfig } from '../../../config/index.js';
import type { WellPumpSimulator } from '../../../drivers/modbus/simulator.js';

const started: WellPumpSimulator[] = [];
let holder: net.Server | undefined;
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
  await new Promise<void>((r) => (holder === undefined ? r() : holder.close(() => r())));
  holder = undefined;
});

async function takenPort(): Promise<number> {
  holder = net.createServer();
  await new Promise<void>((r) => holder?.listen(0, '127.0.0.1', r));
  return (holder.address() as net.AddressInfo).port;
}

const config = (port: number, devicePort = port) =>
  loadConfig({
    format: 'yaml',
    env: {},
    text: `
gateway: { id: gw-sim }
simulators: [ { type: well-pump, host: 127.0.0.1, port: ${port} } ]
devices:
  - { id: here, driver: modbus, every: 1s, connection: { protocol: tcp, host: 127.0.0.1, port: ${devicePort} }, points: { a: { register: holding, address: 0, type: uint16 } } }
  - { id: elsewhere, driver: modbus, every: 1s, connection: { protocol: tcp, host: 127.0.0.1, port: 1502 }, points: { a: { register: holding, address: 0, type: uint16 } } }
`,
  });

function logs() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'info', destination: { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) } });
  return { lines, logger };
}

describe('startSimulators', () => {
  it('a user config (not movable) fails on a port in use, as it always did', async () => {
    const port = await takenPort();
    const { logger } = logs();
    await expect(startSimulators(config(port), started, { clock: systemClock, logger, movable: false })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(started).toEqual([]);
  });

  it('the demo (movable) listens on a free port and moves only the devices polling the taken one', async () => {
    const port = await takenPort();
    const { lines, logger } = logs();
    const before = config(port);
    const after = await startSimulators(before, started, { clock: systemClock, logger, movable: true });
    expect(started).toHaveLength(1);
    const moved = started[0]?.port ?? 0;
    expect(moved).toBeGreaterThan(0);
    expect(moved).not.toBe(port);
    expect(after.devices.map((d) => [d.id, (d.connection as { port: number }).port])).toEqual([
      ['here', moved],
      ['elsewhere', 1502],
    ]);
    expect((before.devices[0]?.connection as { port: number }).port).toBe(port); // the loaded config is not changed in place
    expect(lines.find((l) => l.level === 'warn')).toMatchObject({ configuredPort: port, port: moved, devices: ['here'] });
  });

  it('returns the same config when nothing moved', async () => {
    const { logger } = logs();
    const c = config(0, 1503);
    expect(await startSimulators(c, started, { clock: systemClock, logger, movable: true })).toBe(c);
  });
});
