/** PostgresSink against the real PostgreSQL server, in a schema of its own. */
import crypto from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Point } from '../../buffer/types.js';
import { PostgresSink, type PostgresSinkOptions } from '../../sinks/postgres.js';
import type { SinkCatalog } from '../../sinks/types.js';
import { createTestSchema, refusedUrl, type TestSchema } from '../helpers/postgres.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { freePort } from '../helpers/victoria.js';
import { rejection } from '../helpers/sink-error.js';

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0, 123);

function point(i: number, value: Point['value'], extra: Partial<Point> = {}): Point {
  return {
    deviceId: 'pump-1',
    pointId: 'flow',
    measurement: 'flow',
    tags: { gateway: 'gw-a', site: 'pozo-17', device: 'pump-1', point: 'flow', region: 'maule' },
    value,
    ts: T0 + i,
    quality: 'good',
    unit: 'm3/h',
    ...extra,
  };
}


let db: TestSchema;
const sinks: PostgresSink[] = [];
function sink(extra: Partial<PostgresSinkOptions> = {}): PostgresSink {
  const s = new PostgresSink({ url: db.url, schema: db.schema, gatewayId: 'gw-a', connectTimeoutMs: 2000, ...extra });
  sinks.push(s);
  return s;
}
async function started(extra: Partial<PostgresSinkOptions> = {}): Promise<PostgresSink> {
  const s = sink(extra);
  await s.start();
  return s;
}
const q = <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => db.pool.query<R>(sql.replaceAll('S.', `"${db.schema}".`), params);

beforeAll(async () => {
  db = await createTestSchema();
});
afterAll(async () => {
  await db?.drop();
});
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.stop()));
});

describe('PostgresSink points', () => {
  it('writes rows with the right columns, types and tags, ts exact to the millisecond', async () => {
    const s = await started();
    const batch: Point[] = [
      point(0, 12.5, { raw: 125 }),
      point(1, 'RUNNING', { pointId: 'state', raw: 'R', unit: undefined }),
      point(2, true, { pointId: 'on', raw: 1 }),
      point(3, null, { quality: 'bad', error: 'EDGE_DEVICE_TIMEOUT', raw: null }),
      point(4, Number.POSITIVE_INFINITY),
    ];
    await s.write(batch);
    const { rows } = await q<Record<string, unknown>>('SELECT * FROM S.points ORDER BY ts');
    expect(rows).toHaveLength(5);
    expect(rows[0]).toEqual({
      gateway_id: 'gw-a',
      device_id: 'pump-1',
      point_id: 'flow',
      ts: new Date(T0),
      measurement: 'flow',
      value: 12.5,
      value_text: null,
      value_bool: null,
      raw: 125,
      quality: 'good',
      error: null,
      unit: 'm3/h',
      tags: { gateway: 'gw-a', site: 'pozo-17', device: 'pump-1', point: 'flow', region: 'maule' },
    });
    expect(rows[1]).toMatchObject({ point_id: 'state', value: null, value_text: 'RUNNING', value_bool: null, raw: 'R', unit: null });
    expect(rows[2]).toMatchObject({ point_id: 'on', value: null, value_text: null, value_bool: true, raw: 1 });
    expect(rows[3]).toMatchObject({ value: null, quality: 'bad', error: 'EDGE_DEVICE_TIMEOUT', raw: null });
    expect(rows[4]).toMatchObject({ value: Number.POSITIVE_INFINITY });
    const ms = await q<{ ms: string }>("SELECT (extract(epoch FROM ts) * 1000)::bigint::text AS ms FROM S.points ORDER BY ts");
    expect(ms.rows.map((r) => Number(r.ms))).toEqual(batch.map((p) => p.ts));
  });

  it('adds nothing when the same batch is written again (at-least-once delivery)', async () => {
    const s = await started();
    const batch = Array.from({ length: 1000 }, (_, i) => point(10_000 + i, i));
    await s.write(batch);
    await s.write(batch);
    const { rows } = await q<{ n: number }>('SELECT count(*)::int AS n FROM S.points WHERE ts >= $1', [new Date(T0 + 10_000)]);
    expect(rows[0]?.n).toBe(1000);
    expect(s.stats).toMatchObject({ sent: 2000, inserted: 1000, requests: 2 });
  });

  it('replaces NUL characters, which PostgreSQL text cannot hold, instead of failing the batch', async () => {
    const s = await started();
    await s.write([point(20_000, 'A\u0000B', { pointId: 'serial', tags: { device: 'x\u0000y' }, raw: 'r\u0000' })]);
    const { rows } = await q<{ value_text: string; tags: Record<string, string>; raw: string }>("SELECT value_text, tags, raw FROM S.points WHERE point_id = 'serial'");
    expect(rows[0]).toEqual({ value_text: 'A\uFFFDB', tags: { device: 'x\uFFFDy' }, raw: 'r\uFFFD' });
  });

  it('classifies data the server rejects as non-retryable invalid', async () => {
    const s = await started();
    // A device clock in microseconds read as milliseconds: the year is about 56 000.
    const err = await rejection(s.write([point(0, 1, { ts: Date.now() * 1000 })]));
    expect(err).toMatchObject({ kind: 'invalid', retryable: false, code: 'EDGE_SINK_INVALID' });
    expect(err.message).toMatch(/SQLSTATE 22/);
    // A timestamp that is no time at all never leaves the agent.
    expect(await rejection(s.write([point(0, 1, { ts: Number.NaN })]))).toMatchObject({ kind: 'invalid', retryable: false });
  });

  it('recreates its tables when they disappear', async () => {
    const s = await started();
    await s.write([point(30_000, 1)]);
    await q('DROP TABLE S.points');
    expect(await rejection(s.write([point(30_001, 2)]))).toMatchObject({ kind: 'config', retryable: true });
    await s.write([point(30_001, 2)]);
    const { rows } = await q<{ n: number }>('SELECT count(*)::int AS n FROM S.points');
    expect(rows[0]?.n).toBe(1);
  });

  it('lets two gateways create the same schema at once', async () => {
    const schema = `t_${crypto.randomBytes(4).toString('hex')}`;
    try {
      const a = await started({ schema, gatewayId: 'gw-a' });
      const b = await started({ schema, gatewayId: 'gw-b' });
      await Promise.all([a.write([point(0, 1)]), b.write([point(0, 2)])]);
      const { rows } = await db.pool.query<{ gateway_id: string }>(`SELECT gateway_id FROM "${schema}".points ORDER BY 1`);
      expect(rows.map((r) => r.gateway_id)).toEqual(['gw-a', 'gw-b']);
    } finally {
      await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  });
});

describe('PostgresSink outages and errors', () => {
  it('starts with the database unreachable and fails each call as retryable network', async () => {
    const s = sink({ url: refusedUrl(await freePort()) });
    await s.start(); // never throws: a gateway boots offline
    expect(await rejection(s.write([point(0, 1)]))).toMatchObject({ kind: 'network', retryable: true, code: 'EDGE_SINK_NETWORK' });
    expect(await rejection(s.syncCatalog({ gateway: { id: 'gw-a', site: 's', tags: {} }, devices: [] }))).toMatchObject({ kind: 'network' });
  });

  it('gives up on a server that accepts but never answers, as retryable network', async () => {
    const held: net.Socket[] = [];
    const blackHole = net.createServer((sock) => held.push(sock));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    try {
      const s = await started({ url: refusedUrl((blackHole.address() as net.AddressInfo).port), connectTimeoutMs: 300 });
      const t0 = Date.now();
      expect(await rejection(s.write([point(0, 1)]))).toMatchObject({ kind: 'network', retryable: true });
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      for (const sock of held) sock.destroy();
      await new Promise<void>((resolve) => blackHole.close(() => resolve()));
    }
  });

  it('survives the link dropping under open connections and delivers once it is back', async () => {
    const u = new URL(db.url);
    const proxy = new TcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    await proxy.up();
    try {
      const url = new URL(db.url);
      url.host = proxy.url;
      const s = await started({ url: url.toString() });
      await s.write([point(40_000, 1)]);
      await proxy.down(); // cuts the idle pooled connection
      // Let the pool notice while the connection is idle: its 'error' event must not crash us.
      await new Promise((r) => setTimeout(r, 200));
      const err = await rejection(s.write([point(40_001, 2)]));
      expect(err).toMatchObject({ kind: 'network', retryable: true });
      await proxy.up();
      await s.write([point(40_001, 2)]);
      const { rows } = await q<{ n: number }>('SELECT count(*)::int AS n FROM S.points WHERE ts >= $1', [new Date(T0 + 40_000)]);
      expect(rows[0]?.n).toBe(2);
    } finally {
      await proxy.down();
    }
  });

  it('reports a missing privilege as config (kept and retried, an operator must act)', async () => {
    const role = `edge_ro_${crypto.randomBytes(3).toString('hex')}`;
    await db.pool.query(`CREATE ROLE ${role} LOGIN`);
    await db.pool.query(`REVOKE CREATE ON DATABASE test FROM ${role}`);
    try {
      const url = new URL(db.url);
      url.username = role;
      const s = await started({ url: url.toString(), schema: `${db.schema}_ro` });
      const err = await rejection(s.write([point(0, 1)]));
      expect(err).toMatchObject({ kind: 'config', retryable: true });
      expect(err.message).toMatch(/SQLSTATE 42501/);
      await s.stop();
    } finally {
      await db.pool.query(`DROP ROLE IF EXISTS ${role}`);
    }
  });

  it('cancels a statement that runs past queryTimeoutMs on the server (SET LOCAL, not a startup parameter)', async () => {
    const s = await started({ queryTimeoutMs: 300 });
    await s.write([point(50_000, 1)]); // tables exist
    const locker = await db.pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "${db.schema}".points IN ACCESS EXCLUSIVE MODE`);
      const err = await rejection(s.write([point(50_001, 2)]));
      expect(err).toMatchObject({ kind: 'timeout', retryable: true });
      expect(err.message).toMatch(/SQLSTATE 57014/);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    await s.write([point(50_001, 2)]); // the cancelled transaction left nothing behind
  });

  it('rejects an unusable schema name at construction', () => {
    expect(() => sink({ schema: '' })).toThrow(expect.objectContaining({ kind: 'config' }));
    expect(() => sink({ schema: 'x'.repeat(64) })).toThrow(expect.objectContaining({ kind: 'config' }));
  });
});

describe('PostgresSink catalog', () => {
  const catalog = (): SinkCatalog => ({
    gateway: { id: 'gw-a', site: 'pozo-17', tags: { region: 'maule' } },
    devices: [
      {
        id: 'pump-1',
        driver: 'modbus',
        tags: { well: 'W-17' },
        points: [
          { id: 'flow', measurement: 'flow', unit: 'm3/h', tags: { gateway: 'gw-a', device: 'pump-1', point: 'flow', well: 'W-17' } },
          { id: 'total', measurement: 'flow', unit: 'm3', tags: { gateway: 'gw-a', device: 'pump-1', point: 'total' } },
        ],
      },
      { id: 'tank-1', driver: 'serial', tags: {}, points: [{ id: 'level', measurement: 'level', tags: { point: 'level' } }] },
    ],
  });

  const bindings = async (gw = 'gw-a') =>
    (
      await q<{ device_id: string; point_id: string; measurement: string; unit: string | null; active: boolean }>(
        'SELECT device_id, point_id, measurement, unit, active FROM S.timeseries_binding WHERE gateway_id = $1 ORDER BY 1, 2',
        [gw],
      )
    ).rows;
  const tags = async (gw = 'gw-a') =>
    (
      await q<{ k: string }>(
        "SELECT device_id || '/' || point_id || ':' || tag_key || '=' || tag_value AS k FROM S.timeseries_binding_tag WHERE gateway_id = $1 ORDER BY 1",
        [gw],
      )
    ).rows.map((r) => r.k);

  it('adds, updates and retires devices, points and tags of its own gateway only', async () => {
    // Another gateway's catalog in the same schema must survive untouched.
    const other = await started({ gatewayId: 'gw-b' });
    await other.syncCatalog({ ...catalog(), gateway: { id: 'gw-b', site: 'other', tags: {} } });

    const s = await started();
    await s.syncCatalog(catalog());
    expect(await bindings()).toEqual([
      { device_id: 'pump-1', point_id: 'flow', measurement: 'flow', unit: 'm3/h', active: true },
      { device_id: 'pump-1', point_id: 'total', measurement: 'flow', unit: 'm3', active: true },
      { device_id: 'tank-1', point_id: 'level', measurement: 'level', unit: null, active: true },
    ]);
    expect(await tags()).toContain('pump-1/flow:well=W-17');
    const gw = await q<{ site: string; tags: unknown }>("SELECT site, tags FROM S.gateways WHERE gateway_id = 'gw-a'");
    expect(gw.rows).toEqual([{ site: 'pozo-17', tags: { region: 'maule' } }]);

    // Second config: tank-1 gone, total gone, flow's unit and tags changed, a new point.
    const next = catalog();
    next.devices = [
      {
        id: 'pump-1',
        driver: 'modbus',
        tags: { well: 'W-18' },
        points: [
          { id: 'flow', measurement: 'flow', unit: 'l/s', tags: { gateway: 'gw-a', device: 'pump-1', point: 'flow', well: 'W-18' } },
          { id: 'pressure', measurement: 'pressure', unit: 'bar', tags: { point: 'pressure' } },
        ],
      },
    ];
    await s.syncCatalog(next);
    expect(await bindings()).toEqual([
      { device_id: 'pump-1', point_id: 'flow', measurement: 'flow', unit: 'l/s', active: true },
      { device_id: 'pump-1', point_id: 'pressure', measurement: 'pressure', unit: 'bar', active: true },
      { device_id: 'pump-1', point_id: 'total', measurement: 'flow', unit: 'm3', active: false },
      { device_id: 'tank-1', point_id: 'level', measurement: 'level', unit: null, active: false },
    ]);
    const t = await tags();
    expect(t).toContain('pump-1/flow:well=W-18');
    expect(t).not.toContain('pump-1/flow:well=W-17');
    expect(t).toContain('pump-1/pressure:point=pressure');
    expect(t).toContain('pump-1/total:point=total'); // a retired point keeps its last tags
    const devices = await q<{ device_id: string; active: boolean; tags: unknown }>("SELECT device_id, active, tags FROM S.devices WHERE gateway_id = 'gw-a' ORDER BY 1");
    expect(devices.rows).toEqual([
      { device_id: 'pump-1', active: true, tags: { well: 'W-18' } },
      { device_id: 'tank-1', active: false, tags: {} },
    ]);

    // The first config again: retired rows come back to life.
    await s.syncCatalog(catalog());
    expect((await bindings()).filter((b) => !b.active).map((b) => b.point_id)).toEqual(['pressure']);

    // gw-b untouched throughout.
    expect((await bindings('gw-b')).every((b) => b.active)).toBe(true);
    expect(await tags('gw-b')).toHaveLength(8);
  });

  it('does not bump updated_at when nothing changed', async () => {
    const s = await started({ gatewayId: 'gw-c' });
    const c = { ...catalog(), gateway: { id: 'gw-c', site: 'c', tags: {} } };
    await s.syncCatalog(c);
    const before = await q<{ u: Date }>("SELECT max(updated_at) AS u FROM S.timeseries_binding WHERE gateway_id = 'gw-c'");
    await new Promise((r) => setTimeout(r, 20));
    await s.syncCatalog(c);
    const after = await q<{ u: Date }>("SELECT max(updated_at) AS u FROM S.timeseries_binding WHERE gateway_id = 'gw-c'");
    expect(after.rows[0]?.u).toEqual(before.rows[0]?.u);
  });
});
