/**
 * A fleet behind PgBouncer in transaction pooling, with nothing set on PgBouncer's side for us
 * (no ignore_startup_parameters, no max_prepared_statements): 20 real agent processes share
 * `default_pool_size = 2` server connections, all create the same schema at once and sync their
 * catalogs, and every point each one committed arrives in PostgreSQL exactly once.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import { pgPointKeys, readBufferFile, until } from '../helpers/buffer-file.js';
import { collect, startCli, type CliResult } from '../helpers/cli.js';
import { RegisterImage, startImageServer } from '../helpers/modbus-server.js';
import { missing } from '../helpers/peers.js';
import { PgBouncer, pgbouncerAvailable } from '../helpers/pgbouncer.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';

const AGENTS = 20;
const POINTS = 10;

let bouncer: PgBouncer | undefined;
let db: TestSchema | undefined;
let slave: RunningModbusServer | undefined;

const skip = missing('pgbouncer', pgbouncerAvailable(), 'Debian package pgbouncer');

beforeAll(async () => {
  if (skip) return;
  const image = new RegisterImage();
  for (let a = 0; a < POINTS; a++) image.setValue('holding', a, 100 + a, 'uint16');
  [bouncer, db, slave] = await Promise.all([PgBouncer.start({ poolSize: 2 }), createTestSchema('pgb'), startImageServer(image)]);
});

afterAll(async () => {
  await bouncer?.remove();
  await slave?.close();
  await db?.drop();
});

function config(gateway: string, bufferPath: string): string {
  const points = Array.from({ length: POINTS }, (_, a) => `      p${a}: { register: holding, address: ${a}, type: uint16 }`).join('\n');
  return `
gateway: { id: ${gateway}, site: fleet }
buffer: { path: ${bufferPath} }
sinks:
  postgres: { url: "${bouncer?.url()}", schema: ${db?.schema} }
http: { port: 0 }
log: { level: warn }
templates:
  t:
    measurement: fleet
    points:
${points}
devices:
  - { id: d1, driver: modbus, template: t, every: 200ms, connection: { protocol: tcp, host: 127.0.0.1, port: ${slave?.port}, timeout: 1s } }
`;
}

interface Gateway {
  id: string;
  buffer: string;
  child: ChildProcess;
  result: Promise<CliResult>;
}

describe.skipIf(skip)('PostgreSQL sink through PgBouncer (pool_mode = transaction)', () => {
  it(`${AGENTS} agents share 2 server connections and deliver every point once`, { timeout: 120_000 }, async () => {
    const b = bouncer as PgBouncer;
    const d = db as TestSchema;
    const dir = mkdtempSync(join(tmpdir(), 'edge-fleet-pgb-'));
    const gateways: Gateway[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const id = `gw-${String(i).padStart(2, '0')}`;
      const buffer = join(dir, `${id}.db`);
      const file = join(dir, `${id}.yaml`);
      writeFileSync(file, config(id, buffer));
      const child = startCli(['run', '--config', file]);
      gateways.push({ id, buffer, child, result: collect(child, 110_000) });
    }
    let maxServers = 0;
    let maxClients = 0;
    const sample = async () => {
      const pools = await b.show<{ database: string; cl_active: string; cl_waiting: string; sv_active: string; sv_idle: string; sv_used: string; sv_tested: string; sv_login: string }>('POOLS');
      for (const p of pools.filter((x) => x.database === 'test')) {
        maxServers = Math.max(maxServers, Number(p.sv_active) + Number(p.sv_idle) + Number(p.sv_used) + Number(p.sv_tested) + Number(p.sv_login));
        maxClients = Math.max(maxClients, Number(p.cl_active) + Number(p.cl_waiting));
      }
    };
    try {
      await until(
        'every gateway delivering through PgBouncer',
        async () => {
          await sample();
          const { rows } = await d.pool.query<{ g: string; n: number }>(`SELECT gateway_id AS g, count(*)::int AS n FROM "${d.schema}".points GROUP BY 1`).catch(() => ({ rows: [] }));
          return rows.filter((r) => r.n >= 5 * POINTS).length === AGENTS;
        },
        90_000,
      );
      // Every agent has connected at once, more of them than the pool has server connections.
      expect(maxClients).toBeGreaterThan(2);
    } finally {
      for (const g of gateways) g.child.kill('SIGTERM');
    }
    const results = await Promise.all(gateways.map((g) => g.result));
    await sample();
    expect(maxServers).toBeGreaterThan(0);
    expect(maxServers).toBeLessThanOrEqual(2);
    for (const [i, r] of results.entries()) {
      const g = gateways[i] as Gateway;
      // The failures transaction pooling causes for a session-minded client.
      expect(`${r.stdout}${r.stderr}`, g.id).not.toMatch(/42P05|26000|prepared statement|unsupported startup parameter/);
      expect(r.code, `${g.id}: ${r.stderr}`).toBe(0);
    }
    let total = 0;
    for (const g of gateways) {
      // The stop drained the buffer: nothing left for the sink, and the seq counter says how many were committed.
      const file = readBufferFile(g.buffer);
      expect(file.rows, g.id).toHaveLength(0);
      const keys = await pgPointKeys(d.pool, d.schema, g.id);
      expect([...keys.values()].filter((n) => n !== 1), g.id).toEqual([]);
      expect(keys.size, g.id).toBe(file.lastSeq);
      total += keys.size;
    }
    // Catalog synced for every gateway, through the same pool.
    const { rows } = await d.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${d.schema}".timeseries_binding WHERE active`);
    expect(rows[0]?.n).toBe(AGENTS * POINTS);
    console.log(`fleet through PgBouncer: ${AGENTS} agents, ${total} points, each once; at most ${maxServers} server connections, ${maxClients} clients`);
  });
});
