/**
 * Configuration-class failures of the PostgreSQL sink, provoked on the real PostgreSQL and a real
 * PgBouncer (and InfluxDB's refused token, which shares the auth code): each has its own code and
 * says what to fix; an agent logs it as ERROR, keeps the data, retries with its capped back-off,
 * shows it on /status — and delivers once ops fix the central side.
 */
import crypto from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Point } from '../../buffer/types.js';
import { PostgresSink } from '../../sinks/postgres.js';
import { pgPointKeys, until } from '../helpers/buffer-file.js';
import { startHttpAgent, type HttpAgent } from '../helpers/http-agent.js';
import { RegisterImage, startImageServer } from '../helpers/modbus-server.js';
import { missing } from '../helpers/peers.js';
import { PgBouncer, pgbouncerAvailable } from '../helpers/pgbouncer.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { rejection } from '../helpers/sink-error.js';

const skip = missing('pgbouncer', pgbouncerAvailable(), 'Debian package pgbouncer');
let bouncer: PgBouncer | undefined;
let db: TestSchema;
const sinks: PostgresSink[] = [];

beforeAll(async () => {
  db = await createTestSchema('cfgerr');
  if (!skip) bouncer = await PgBouncer.start({ authType: 'plain', users: { edge: 'right' } });
});
afterAll(async () => {
  await bouncer?.remove();
  await db?.drop();
});
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.stop()));
});

const point: Point = { deviceId: 'd', pointId: 'p', measurement: 'm', tags: {}, value: 1, ts: Date.UTC(2024, 0, 1), quality: 'good' };

async function writeError(url: string, schema = db.schema) {
  const s = new PostgresSink({ url, schema, gatewayId: 'gw-cfg', connectTimeoutMs: 3000 });
  sinks.push(s);
  await s.start();
  return rejection(s.write([point]));
}

/** An agent (HTTP on a free port) polling a local Modbus slave into the one sink given as YAML; `check` runs while it is up. */
async function withAgent(gateway: string, sinkYaml: string, check: (a: HttpAgent) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-cfgerr-'));
  const slave = await startImageServer(new RegisterImage().setValue('holding', 0, 42, 'uint16'));
  const yaml = `
gateway: { id: ${gateway} }
buffer: { path: ${join(dir, 'b.db')} }
sinks:
  ${sinkYaml}
http: { port: 0 }
devices:
  - { id: d1, driver: modbus, every: 300ms, connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, timeout: 1s }, points: { v: { register: holding, address: 0, type: uint16 } } }
`;
  try {
    const a = await startHttpAgent(yaml);
    try {
      await check(a);
    } finally {
      await a.stop();
    }
  } finally {
    await slave.close();
  }
}

/** After two failed attempts: /status shows the sink unreachable with the code and its fix, and an ERROR log line names the fix. */
async function expectRefused(a: HttpAgent, want: { sink: string; code: string; fix: RegExp; msg: RegExp }): Promise<void> {
  await until('two failed attempts', async () => {
    const s = (await (await fetch(`${a.url}/status`)).json()) as { sinks: Array<{ consecutiveFailures: number }> };
    return (s.sinks[0]?.consecutiveFailures ?? 0) >= 2;
  });
  const status = (await (await fetch(`${a.url}/status`)).json()) as { sinks: Array<{ name: string; reachable: boolean; lastError: { code: string; fix?: string } }> };
  expect(status.sinks[0]).toMatchObject({ name: want.sink, reachable: false, lastError: { code: want.code } });
  expect(status.sinks[0]?.lastError.fix).toMatch(want.fix);
  const errors = a.logs.filter((l) => l.level === 'error' && l.code === want.code);
  expect(errors.length).toBeGreaterThan(0);
  expect(String(errors[0]?.msg)).toMatch(want.msg);
}

describe('PostgreSQL configuration errors, each with its code and fix', () => {
  it('a missing database (PostgreSQL itself): EDGE_SINK_DB_MISSING', async () => {
    const u = new URL(db.url);
    u.pathname = '/no_such_db_edge';
    const err = await writeError(u.toString());
    expect(err).toMatchObject({ code: 'EDGE_SINK_DB_MISSING', kind: 'config', retryable: true });
    expect(err.fix).toMatch(/create the database/);
  });

  it('a missing privilege (PostgreSQL itself): EDGE_SINK_PRIVILEGE', async () => {
    const role = `edge_np_${crypto.randomBytes(3).toString('hex')}`;
    const schema = `${db.schema}_np`;
    await db.pool.query(`CREATE ROLE ${role} LOGIN`);
    try {
      // The tables exist (a DBA made them) but the role may not write into them.
      const owner = new PostgresSink({ url: db.url, schema, gatewayId: 'gw-cfg' });
      sinks.push(owner);
      await owner.start();
      await owner.write([point]);
      await db.pool.query(`GRANT USAGE ON SCHEMA "${schema}" TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA "${schema}" TO ${role}`);
      const u = new URL(db.url);
      u.username = role;
      const err = await writeError(u.toString(), schema);
      expect(err).toMatchObject({ code: 'EDGE_SINK_PRIVILEGE', kind: 'config', retryable: true });
      expect(err.message).toMatch(/SQLSTATE 42501/);
      expect(err.fix).toMatch(/grant/i);
    } finally {
      await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await db.pool.query(`DROP OWNED BY ${role}; DROP ROLE IF EXISTS ${role}`);
    }
  });

  it.skipIf(skip)('through PgBouncer: a wrong password, an unknown database, an unsupported startup parameter', async () => {
    const b = bouncer as PgBouncer;
    const auth = await writeError(b.url({ user: 'edge', password: 'wrong' }));
    expect(auth).toMatchObject({ code: 'EDGE_SINK_AUTH_FAILED', kind: 'auth', retryable: true });
    expect(auth.fix).toMatch(/password/);
    const nodb = await writeError(b.url({ user: 'edge', password: 'right', database: 'nowhere' }));
    expect(nodb).toMatchObject({ code: 'EDGE_SINK_DB_MISSING', kind: 'config' });
    const param = await writeError(b.url({ user: 'edge', password: 'right', params: { options: '-c search_path=x' } }));
    expect(param).toMatchObject({ code: 'EDGE_SINK_UNSUPPORTED_PARAMETER', kind: 'config' });
    expect(param.message).toMatch(/unsupported startup parameter: options/);
    expect(param.fix).toMatch(/remove that parameter/);
  });

  it.skipIf(skip)('an agent logs ERROR with the fix, shows it on /status, retries, and delivers once ops fix the password', { timeout: 60_000 }, async () => {
    const b = bouncer as PgBouncer;
    // Points kept while the sink refuses, delivered once it takes them.
    const sink = `postgres: { url: "${b.url({ user: 'late', password: 'will-be-right' })}", schema: ${db.schema} }`;
    await withAgent('gw-cfg-agent', sink, async (a) => {
      await expectRefused(a, { sink: 'postgres', code: 'EDGE_SINK_AUTH_FAILED', fix: /password/, msg: /fix: check the user and password/ });
      expect(a.logs.filter((l) => l.code === 'EDGE_SINK_NETWORK')).toEqual([]);
      // Ops add the user on the pooler and reload it: the kept point is delivered.
      await b.setUsers({ edge: 'right', late: 'will-be-right' });
      await until('delivered after the fix', async () => (await pgPointKeys(db.pool, db.schema, 'gw-cfg-agent')).size >= 1, 30_000);
    });
  });
});

describe('InfluxDB refusing the token: the same code as PostgreSQL refusing the password', () => {
  it('EDGE_SINK_AUTH_FAILED: ERROR with the fix, on /status, retried, delivered once ops accept the token', { timeout: 60_000 }, async () => {
    let accepts = 'right';
    let accepted = 0;
    const influx = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const ok = req.headers.authorization === `Token ${accepts}`;
        if (ok) accepted++;
        res.writeHead(ok ? 204 : 401, { 'content-type': 'application/json' });
        res.end(ok ? '' : JSON.stringify({ code: 'unauthorized', message: 'unauthorized access' }));
      });
    });
    await new Promise<void>((r) => influx.listen(0, '127.0.0.1', r));
    const port = (influx.address() as net.AddressInfo).port;
    try {
      await withAgent('gw-cfg-influx', `influx: { url: "http://127.0.0.1:${port}", token: wrong, org: ops, bucket: telemetry }`, async (a) => {
        await expectRefused(a, { sink: 'influx', code: 'EDGE_SINK_AUTH_FAILED', fix: /sinks\.influx\.token/, msg: /fix: check sinks\.influx\.token/ });
        expect(a.logs.filter((l) => l.code === 'EDGE_SINK_AUTH')).toEqual([]);
        // Ops give the token write access: the kept points are delivered.
        accepts = 'wrong';
        await until('delivered after the fix', async () => accepted >= 1, 30_000);
      });
    } finally {
      influx.closeAllConnections();
      await new Promise<void>((r) => influx.close(() => r()));
    }
  });
});
