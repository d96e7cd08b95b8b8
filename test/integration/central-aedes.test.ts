/**
 * The ops link against aedes in-process: the agent boots and runs while the central broker is
 * not there, then connects (capped back-off) once it appears, and says `online`; a broker that
 * goes away and comes back gets `online` and `info` again.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import type { Point } from '../../buffer/types.js';
import { loadBootConfig } from '../../config/config-state.js';
import { OpsClient } from '../helpers/central.js';
import { freePort } from '../helpers/victoria.js';
import { RegisterImage, startImageServer } from '../helpers/modbus-server.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

class InProcessBroker {
  private constructor(
    private readonly aedes: Aedes,
    private readonly server: net.Server,
  ) {}

  static async start(port: number): Promise<InProcessBroker> {
    const aedes = await Aedes.createBroker();
    const server = net.createServer(aedes.handle);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    return new InProcessBroker(aedes, server);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe('central ops link (aedes in-process)', () => {
  it('boots and polls with the central broker down, then connects when it appears', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-central-aedes-'));
    const port = await freePort();
    const slave = await startImageServer(new RegisterImage().setValue('holding', 0, 5, 'uint16'));
    cleanup.push(() => slave.close());
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      `gateway: { id: gw-aedes }
buffer: { path: ${join(dir, 'b.db')} }
central: { url: "mqtt://127.0.0.1:${port}", prefix: aedes-${process.pid}, allowUnsigned: true, stateDir: ${join(dir, 'state')} }
devices:
  - { id: p1, driver: modbus, connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, timeout: 300ms }, every: 200ms, points: { v: { register: holding, address: 0, type: uint16 } } }
`,
    );
    const boot = loadBootConfig({ file, env: {} });
    const agent = new Agent({ config: boot.config, logger, sinks: [], central: { boot, env: {}, backoff: { initialMs: 100, maxMs: 300 } } });
    const points: Point[] = [];
    agent.pipeline.onPoints((ps) => points.push(...ps));
    await agent.start();
    cleanup.push(() => agent.stop());
    // No broker: the agent runs and stores points all the same.
    await until(() => points.length >= 2);
    expect(agent.centralLink?.connected).toBe(false);

    const broker = await InProcessBroker.start(port);
    const base = `aedes-${process.pid}/gw-aedes`;
    const ops = await OpsClient.connect(`mqtt://127.0.0.1:${port}`, `${base}/#`);
    await ops.wait(`${base}/state`, (p) => p === 'online');
    expect(JSON.parse((await ops.wait(`${base}/info`)).payload)).toMatchObject({ gateway: 'gw-aedes', rev: 0 });
    // Unsigned pushes are allowed here (allowUnsigned); a wrong gateway id is still refused at its path.
    const wrong = await ops.request(base, 'config/set', { rev: 1, config: { gateway: { id: 'gw-other' } } });
    expect(wrong).toMatchObject({ status: 'error', code: 'EDGE_CONFIG_WRONG_GATEWAY', data: { issues: [{ path: 'gateway.id' }] } });
    await ops.end();

    // The broker goes away and comes back (aedes keeps nothing): online and info are published again.
    await broker.stop();
    await until(() => agent.centralLink?.connected === false);
    const again = await InProcessBroker.start(port);
    cleanup.push(() => again.stop());
    const ops2 = await OpsClient.connect(`mqtt://127.0.0.1:${port}`, `${base}/#`);
    cleanup.push(() => ops2.end());
    await ops2.wait(`${base}/state`, (p) => p === 'online', 20_000);
    await ops2.wait(`${base}/info`, () => true, 20_000);
  });
});

async function until(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
