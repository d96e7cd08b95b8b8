/**
 * Figure 2: draining a backlog to one sink — the agent's Forwarder reading the SQLite buffer,
 * the sink writing, the buffer settling and deleting — against the ceiling of the same rows
 * written raw in the same batch size, only the write timed: for PostgreSQL the sink's own
 * statement (the fastest we have: one unnest, each series once per batch) with its parameters
 * built beforehand, into an identical table; for InfluxDB the client writing pre-built points. The ceiling runs half before and half after the drain, so the noise of the
 * machine and the growth of the target table weigh on both sides alike.
 */
import path from 'node:path';
import pg from 'pg';
import { InfluxDB, Point as LinePoint } from '@influxdata/influxdb-client';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import type { Point } from '../buffer/types.js';
import { Forwarder } from '../agent/delivery/forwarder.js';
import { createLogger } from '../agent/logger.js';
import { systemClock } from '../agent/clock.js';
import { InfluxSink } from '../sinks/influx.js';
import { PostgresSink } from '../sinks/postgres.js';
import { ddl, insertPoints, quoteIdent } from '../sinks/postgres-sql.js';
import { pointColumns } from '../sinks/postgres-rows.js';
import type { Sink } from '../sinks/types.js';
import type { ModbusDevice } from '../config/types.js';
import { forEachBacklogBatch } from './backlog.js';
import { perSecond } from './figures.js';

/** The forwarder's default batch, used on both sides. */
export const DRAIN_BATCH = 5000;

export interface DrainResult {
  points_per_s: number;
  ceiling_per_s: number;
  backlog: number;
  drain_ms: number;
}

/** Drains the whole buffer at `file` (enabled for `sink` only) through a Forwarder; resolves with the time it took. */
export async function drainThrough(sink: Sink, file: string, lastSeq: number): Promise<number> {
  const logger = createLogger({ level: 'silent' });
  const buffer = new SqliteBuffer({ path: file, sinks: [sink.name] });
  await sink.start();
  const forwarder = new Forwarder({ sink, outbox: buffer, clock: systemClock, logger, batchSize: DRAIN_BATCH });
  const start = performance.now();
  forwarder.start();
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, 10));
      if ((buffer.stats().sinks[sink.name]?.cursor ?? 0) >= lastSeq) break;
      const err = forwarder.stats.lastError;
      if (forwarder.stats.consecutiveFailures > 2 && err !== null) throw new Error(`drain to ${sink.name} failing: ${err.code} ${err.message}`);
    }
    return performance.now() - start;
  } finally {
    await forwarder.stop(1000);
    await sink.stop();
    buffer.close();
  }
}

/** Calls `each` with the backlog's points in batches of DRAIN_BATCH, from point `from` for `count` points. */
function batchesOf(devices: readonly ModbusDevice[], startTs: number, from: number, count: number, each: (batch: Point[]) => Promise<void>): Promise<void> {
  const all: Point[][] = [];
  let current: Point[] = [];
  let seen = 0;
  forEachBacklogBatch(devices, from + count, startTs, (batch) => {
    for (const p of batch) {
      if (seen++ < from) continue;
      current.push(p);
      if (current.length === DRAIN_BATCH) {
        all.push(current);
        current = [];
      }
    }
  });
  if (current.length > 0) all.push(current);
  return all.reduce((p, b) => p.then(() => each(b)), Promise.resolve());
}

export async function benchPostgres(o: { url: string; dir: string; file: string; lastSeq: number; devices: readonly ModbusDevice[]; startTs: number }): Promise<DrainResult> {
  const suffix = Math.random().toString(16).slice(2, 10);
  const sinkSchema = `bench_${suffix}`;
  const ceilingSchema = `bench_${suffix}_ceiling`;
  const pool = new pg.Pool({ connectionString: o.url, max: 1 });
  pool.on('error', () => {});
  try {
    await pool.query(ddl(quoteIdent(ceilingSchema)));
    const client = await pool.connect();
    let ceilingMs = 0;
    const ceiling = (from: number, count: number) =>
      batchesOf(o.devices, o.startTs, from, count, async (batch) => {
        const values = ['gw-bench', ...pointColumns(batch)];
        const t = performance.now();
        await client.query({ name: 'ceiling_insert', text: insertPoints(quoteIdent(ceilingSchema)), values });
        ceilingMs += performance.now() - t;
      });
    const half = Math.floor(o.lastSeq / 2);
    try {
      await ceiling(0, half);
      const sink = new PostgresSink({ url: o.url, schema: sinkSchema, gatewayId: 'gw-bench' });
      const drainMs = await drainThrough(sink, o.file, o.lastSeq);
      await ceiling(half, o.lastSeq - half);
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(sinkSchema)}.points`);
      if (Number(rows[0]?.n) !== o.lastSeq) throw new Error(`postgres holds ${rows[0]?.n} rows after the drain, expected ${o.lastSeq}`);
      return { points_per_s: perSecond(o.lastSeq, drainMs), ceiling_per_s: perSecond(o.lastSeq, ceilingMs), backlog: o.lastSeq, drain_ms: drainMs };
    } finally {
      client.release();
    }
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(sinkSchema)} CASCADE`).catch(() => {});
    await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(ceilingSchema)} CASCADE`).catch(() => {});
    await pool.end();
  }
}

/** Line protocol points as the sink makes them, under another measurement so the two sides never share series. */
function linePoints(batch: readonly Point[], measurementSuffix: string): LinePoint[] {
  const out: LinePoint[] = [];
  for (const p of batch) {
    const v = p.value;
    if (v === null || (typeof v === 'number' && !Number.isFinite(v))) continue;
    const line = new LinePoint(p.measurement + measurementSuffix);
    for (const k in p.tags) line.tag(k, p.tags[k] as string);
    if (typeof v === 'number') line.floatField('value', v);
    else if (typeof v === 'boolean') line.booleanField('value', v);
    else line.stringField('value', v);
    out.push(line.timestamp(p.ts));
  }
  return out;
}

export async function benchInflux(o: { url: string; file: string; lastSeq: number; devices: readonly ModbusDevice[]; startTs: number }): Promise<DrainResult> {
  const influx = new InfluxDB({ url: o.url, token: '', timeout: 30_000 });
  let ceilingMs = 0;
  const ceiling = (from: number, count: number) =>
    batchesOf(o.devices, o.startTs, from, count, async (batch) => {
      const lines = linePoints(batch, '_ceiling');
      const writeApi = influx.getWriteApi('bench', 'bench', 'ms', {
        batchSize: lines.length + 1,
        maxBatchBytes: Number.MAX_SAFE_INTEGER,
        flushInterval: 0,
        maxRetries: 0,
        maxBufferLines: lines.length + 1,
        gzipThreshold: 1000,
        writeFailed: (error: Error) => Promise.reject(error),
      });
      const t = performance.now();
      writeApi.writePoints(lines);
      await writeApi.flush();
      ceilingMs += performance.now() - t;
      writeApi.dispose();
    });
  const half = Math.floor(o.lastSeq / 2);
  await ceiling(0, half);
  const sink = new InfluxSink({ url: o.url, token: '', org: 'bench', bucket: 'bench', timeoutMs: 30_000 });
  const drainMs = await drainThrough(sink, o.file, o.lastSeq);
  await ceiling(half, o.lastSeq - half);
  return { points_per_s: perSecond(o.lastSeq, drainMs), ceiling_per_s: perSecond(o.lastSeq, ceilingMs), backlog: o.lastSeq, drain_ms: drainMs };
}

export function backlogFile(dir: string, name: string): string {
  return path.join(dir, `${name}.db`);
}
