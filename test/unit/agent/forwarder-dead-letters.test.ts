/**
 * The forwarder against the real buffer (a SQLite file) and a scripted sink — the sink is the
 * outer edge faked here, so each error class can be produced exactly. Invalid data is bisected
 * down to the bad points, which become dead letters, while everything else is delivered once.
 */
import * as FakeTimers from '@sinonjs/fake-timers';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../../agent/clock.js';
import { Forwarder } from '../../../agent/delivery/forwarder.js';
import { SqliteBuffer } from '../../../buffer/sqlite-buffer.js';
import type { Point } from '../../../buffer/types.js';
import { SinkError, type Sink } from '../../../sinks/types.js';
import { realisticPoint, tempDir } from '../buffer/fixtures.js';

type InstalledClock = ReturnType<typeof FakeTimers.install>;

/** Rejects any batch holding a point whose value is in `bad` (as PostgreSQL rejects a whole statement). */
class PickySink implements Sink {
  readonly name = 'pg';
  readonly received = new Map<number, number>();
  writes = 0;
  bad = new Set<number>();
  failNext: SinkError[] = [];
  maxBatch = Infinity;
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async write(batch: readonly Point[]): Promise<void> {
    this.writes += 1;
    const scripted = this.failNext.shift();
    if (scripted) throw scripted;
    if (batch.length > this.maxBatch) throw new SinkError('too large', { kind: 'too-large', status: 413 });
    const hit = batch.find((p) => this.bad.has(p.value as number));
    if (hit) throw new SinkError(`bad value ${String(hit.value)}`, { kind: 'invalid', status: 400 });
    for (const p of batch) this.received.set(p.value as number, (this.received.get(p.value as number) ?? 0) + 1);
  }
}

const point = (i: number): Point => ({ ...realisticPoint(i), value: i });

let fake: InstalledClock;
let clock: Clock;
let tmp: ReturnType<typeof tempDir>;
let buffer: SqliteBuffer;
const logger = pino({ level: 'silent' });

beforeEach(() => {
  fake = FakeTimers.install({ now: 0, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
  clock = { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
  tmp = tempDir();
  buffer = new SqliteBuffer({ path: tmp.file(), sinks: ['pg', 'influx'], now: () => Date.now() });
});
afterEach(() => {
  fake.uninstall();
  buffer.close();
  tmp.remove();
});

async function drain(f: Forwarder, ms = 100): Promise<void> {
  f.start();
  await fake.tickAsync(ms);
  const stopped = f.stop();
  await fake.tickAsync(10);
  await stopped;
}

describe('Forwarder dead letters', () => {
  it('isolates one bad point in a batch of 5000: dead-letters it alone and delivers the 4999 others once', async () => {
    buffer.append(Array.from({ length: 5000 }, (_, i) => point(i)));
    const sink = new PickySink();
    sink.bad.add(3217);
    const f = new Forwarder({ sink, outbox: buffer, clock, logger, batchSize: 5000 });
    await drain(f);
    expect(sink.received.size).toBe(4999);
    expect([...sink.received.values()].every((n) => n === 1)).toBe(true);
    expect(sink.received.has(3217)).toBe(false);
    // About 2·log2(5000) writes, not 5000.
    expect(sink.writes).toBeLessThanOrEqual(30);
    const dead = buffer.deadLetterList();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ sink: 'pg', seq: 3218, code: 'EDGE_SINK_INVALID', message: 'bad value 3217', replay: false, attempts: 1 });
    expect(dead[0]?.point).toMatchObject({ value: 3217, deviceId: point(3217).deviceId, pointId: point(3217).pointId, ts: point(3217).ts });
    expect(f.stats).toMatchObject({ sent: 4999, deadLettered: 1 });
    const s = buffer.stats();
    expect(s.sinks.pg).toMatchObject({ pending: 0, deadLetters: 1, deadLettered: 1 });
    // The other sink is untouched: it still has all 5000 to deliver.
    expect(s.sinks.influx).toMatchObject({ pending: 5000, deadLetters: 0 });
  });

  it('dead-letters several bad points, keeps order, and never blocks the queue', async () => {
    buffer.append(Array.from({ length: 300 }, (_, i) => point(i)));
    const sink = new PickySink();
    for (const v of [0, 1, 150, 299]) sink.bad.add(v);
    const f = new Forwarder({ sink, outbox: buffer, clock, logger, batchSize: 100 });
    await drain(f);
    expect(sink.received.size).toBe(296);
    expect(buffer.deadLetterList().map((d) => d.point.value)).toEqual([0, 1, 150, 299]);
    expect(buffer.pending('pg')).toBe(0);
  });

  it('keeps what was not settled when a retryable failure interrupts a bisection, and finishes it later', async () => {
    buffer.append(Array.from({ length: 64 }, (_, i) => point(i)));
    const sink = new PickySink();
    sink.bad.add(40);
    // First write: invalid (the bad point); second (left half): ok; third (right half) hits a network failure.
    const realWrite = sink.write.bind(sink);
    let n = 0;
    sink.write = async (batch) => {
      n += 1;
      if (n === 3) throw new SinkError('connection reset', { kind: 'network' });
      return realWrite(batch);
    };
    const f = new Forwarder({ sink, outbox: buffer, clock, logger, batchSize: 64, backoff: { initialMs: 1000, maxMs: 1000 }, random: () => 1 });
    f.start();
    await fake.tickAsync(10);
    expect(sink.received.size).toBe(32); // the left half, settled
    expect(buffer.pending('pg')).toBe(32);
    await fake.tickAsync(2000);
    const stopped = f.stop();
    await fake.tickAsync(10);
    await stopped;
    expect(sink.received.size).toBe(63);
    expect([...sink.received.values()].every((c) => c === 1)).toBe(true);
    expect(buffer.deadLetterList().map((d) => d.point.value)).toEqual([40]);
  });

  it('replays dead letters to their own sink only, and dead-letters them again if still rejected', async () => {
    buffer.append(Array.from({ length: 10 }, (_, i) => point(i)));
    const pg = new PickySink();
    pg.bad.add(3).add(7);
    await drain(new Forwarder({ sink: pg, outbox: buffer, clock, logger }));
    expect(buffer.deadLetterList({ sink: 'pg' })).toHaveLength(2);
    expect(buffer.replayDeadLetters({ sink: 'influx' })).toEqual({});

    // The operator fixed the cause of 3, not of 7.
    pg.bad.delete(3);
    expect(buffer.replayDeadLetters({ sink: 'pg' })).toEqual({ pg: 2 });
    expect(buffer.stats().sinks.pg).toMatchObject({ deadLetters: 2, replaying: 2 });
    expect(buffer.read('influx', 100).map((p) => p.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await drain(new Forwarder({ sink: pg, outbox: buffer, clock, logger }));
    expect(pg.received.get(3)).toBe(1);
    const left = buffer.deadLetterList();
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ seq: 8, replay: false, attempts: 2 });
    expect(left[0]?.point.value).toBe(7);
    // The other sink's queue is as it was: replay never re-sends to it.
    expect(buffer.pending('influx')).toBe(10);
    expect(buffer.stats().sinks.pg).toMatchObject({ deadLettered: 2, deadLetters: 1, replaying: 0, pending: 0 });
  });

  it('halves the batch on 413, dead-letters a single point still too large, and grows back after successes', async () => {
    buffer.append(Array.from({ length: 1500 }, (_, i) => point(i)));
    const sink = new PickySink();
    sink.maxBatch = 100;
    const f = new Forwarder({ sink, outbox: buffer, clock, logger, batchSize: 400 });
    await drain(f);
    expect(sink.received.size).toBe(1500);
    expect(buffer.deadLetterList()).toHaveLength(0);
    expect(f.stats.batchSize).toBe(100);
    sink.maxBatch = Infinity;
    buffer.append(Array.from({ length: 5000 }, (_, i) => point(10_000 + i)));
    await drain(f);
    expect(f.stats.batchSize).toBe(400); // doubled after every 20 successes, up to the configured 400
    sink.maxBatch = 0;
    buffer.append([point(99_999)]);
    await drain(f);
    expect(buffer.deadLetterList().map((d) => d.code)).toEqual(['EDGE_SINK_TOO_LARGE']);
  });
});
