/**
 * `edge-agent fleet status` against real agent processes on a private Mosquitto: two online (one
 * with a PostgreSQL sink that is down, so it lags), one stopped (its retained state says offline).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { GatewayRow } from '../../agent/commands/fleet.js';
import { collect, runCli, startCli } from '../helpers/cli.js';
import { OpsClient } from '../helpers/central.js';
import { closedPort, RegisterImage, startImageServer } from '../helpers/modbus-server.js';
import { Mosquitto, mosquittoAvailable } from '../helpers/mosquitto.js';
import { missing } from '../helpers/peers.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe.skipIf(missing('mosquitto', mosquittoAvailable(), 'Debian package mosquitto'))('edge-agent fleet status', () => {
  it('lists every gateway with state, version, rev and sink lag', { timeout: 60_000 }, async () => {
    const broker = await Mosquitto.start();
    cleanup.push(() => broker.remove());
    const slave = await startImageServer(new RegisterImage().setValue('holding', 0, 7, 'uint16'));
    cleanup.push(() => slave.close());
    const dir = mkdtempSync(join(tmpdir(), 'edge-fleet-status-'));
    const prefix = `fs${process.pid}`;
    const pgDown = `postgres://edge@127.0.0.1:${await closedPort()}/telemetry`;
    const start = (id: string, sinks: string, alerts = '') => {
      const file = join(dir, `${id}.yaml`);
      writeFileSync(
        file,
        `gateway: { id: ${id} }
buffer: { path: ${join(dir, `${id}.db`)} }
http: { port: 0 }
log: { level: warn }
${sinks}
central: { url: "${broker.url}", prefix: ${prefix}, allowUnsigned: true, stateDir: ${join(dir, `${id}-central`)}, healthEvery: 1s }
devices:
  - { id: d1, driver: modbus, every: 200ms, connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, timeout: 500ms }, points: { v: { register: holding, address: 0, type: uint16${alerts} } } }
`,
      );
      const child = startCli(['run', '--config', file]);
      const done = collect(child, 55_000);
      cleanup.push(async () => {
        child.kill('SIGTERM');
        await done.catch(() => undefined);
      });
      return { child, done };
    };
    const ops = await OpsClient.connect(broker.url, `${prefix}/+/state`);
    cleanup.push(() => ops.end());
    start('gw-s1', `sinks:\n  postgres: { url: "${pgDown}" }`);
    // The value is 7: both rules fire, the worst is critical.
    start('gw-s2', '', ', alerts: [ { above: 5, severity: warning }, { above: 6, severity: critical } ]');
    const s3 = start('gw-s3', '');
    await Promise.all(['gw-s1', 'gw-s2', 'gw-s3'].map((g) => ops.wait(`${prefix}/${g}/state`, (p) => p === 'online', 45_000)));
    s3.child.kill('SIGTERM');
    expect((await s3.done).code).toBe(0);
    await ops.wait(`${prefix}/gw-s3/state`, (p) => p === 'offline');
    const health = await OpsClient.connect(broker.url, `${prefix}/gw-s2/health`);
    cleanup.push(() => health.end());
    await health.wait(`${prefix}/gw-s2/health`, (p) => (JSON.parse(p) as { alerts: unknown[] }).alerts.length === 2);

    const r = await runCli(['fleet', 'status', '--central', broker.url, '--prefix', prefix, '--wait', '2s', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { gateways } = JSON.parse(r.stdout) as { gateways: GatewayRow[] };
    expect(gateways.map((g) => [g.gateway, g.state])).toEqual([
      ['gw-s1', 'online'],
      ['gw-s2', 'online'],
      ['gw-s3', 'offline'],
    ]);
    for (const g of gateways) {
      expect(g.version, g.gateway).toMatch(/\d+\.\d+/);
      expect(g.rev, g.gateway).toBe(0);
    }
    expect(gateways[0]?.sinks?.postgres?.lagRows).toBeGreaterThan(0);
    expect(gateways[1]?.sinks).toEqual({});
    expect(gateways[2]?.sinks).toBeNull(); // offline: nobody to ask
    // Active alerts from the retained health: none on gw-s1, two on gw-s2 (worst critical).
    expect(gateways[0]?.alerts).toMatchObject({ active: 0, worst: null });
    expect(gateways[1]?.alerts).toMatchObject({ active: 2, worst: 'critical', at: expect.any(Number) });

    const text = await runCli(['fleet', 'status', '--central', broker.url, '--prefix', prefix, '--wait', '1s']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^gw-s1\tonline\t\S+\t0\t.*postgres \d+/m);
    expect(text.stdout).toMatch(/^gw-s2\tonline\t.*\t2 \(critical\)$/m);
    expect(text.stdout).toMatch(/3 gateways: 2 online, 1 offline or unknown/);
    expect((await runCli(['fleet', 'status'])).stderr).toMatch(/missing --central URL/);
  });
});
