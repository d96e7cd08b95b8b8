import * as FakeTimers from '@sinonjs/fake-timers';

type InstalledClock = ReturnType<typeof FakeTimers.install>;
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Backoff } from '../../../agent/delivery/backoff.js';
import type { Clock } from '../../../agent/clock.js';
import { Forwarder, type Outbox } from '../../../agent/delivery/forwarder.js';
import type { BufferedPoint, Point } from '../../../buffer/types.js';
import { SinkError, type Sink } from '../../../sinks/types.js';

/** An in-memory outbox with the buffer's read/ack semantics. */
class MemoryOutbox implements Outbox {
  rows: BufferedPoint[] = [];
  cursor = 0;
  private seq = 0;
  add(n: number): void {
    for (let i = 0; i < n; i++) {
      this.seq += 1;
      this.rows.push({ seq: this.seq, deviceId: 'd', pointId: `p${this.seq}`, measurement: 'm', tags: {}, value: this.seq, ts: this.seq, quality: 'good' });
    }
  }
  read(_sink: string, limit: number): BufferedPoint[] {
    return this.rows.filter((r) => r.seq > this.cursor).slice(0, limit);
  }
  settle(_sink: string, delivered: readonly BufferedPoint[]): void {
    for (const p of delivered) this.cursor = Math.max(this.cursor, p.seq);
  }
}

/** A sink scripted to fail: the outer edge, faked so retry timing can be checked exactly. */
class ScriptedSink implements Sink {
  readonly name = 'scripted';
  received: number[] = [];
  calls: Array<{ at: number; size: number }> = [];
  failures: Array<SinkError | null> = [];
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async write(batch: readonly Point[]): Promise<void> {
    this.calls.push({ at: Date.now(), size: batch.length });
    const f = this.failures.shift();
    if (f) throw f;
    for (const p of batch) this.received.push(p.value as number);
  }
}

let fake: InstalledClock;
let clock: Clock;
const logger = pino({ level: 'silent' });

beforeEach(() => {
  fake = FakeTimers.install({ now: 0, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
  clock = { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
});
afterEach(() => fake.uninstall());

describe('Backoff', () => {
  it('grows exponentially to the cap with jitter in the upper half', () => {
    const lo = new Backoff({ initialMs: 1000, maxMs: 8000, random: () => 0 });
    expect([lo.next(), lo.next(), lo.next(), lo.next(), lo.next()]).toEqual([500, 1000, 2000, 4000, 4000]);
    const hi = new Backoff({ initialMs: 1000, maxMs: 8000, random: () => 1 });
    expect([hi.next(), hi.next(), hi.next(), hi.next(), hi.next()]).toEqual([1000, 2000, 4000, 8000, 8000]);
    hi.reset();
    expect(hi.next()).toBe(1000);
  });
});

describe('Forwarder', () => {
  it('delivers every row once, in order, in batches, and acknowledges them', async () => {
    const outbox = new MemoryOutbox();
    outbox.add(25);
    const sink = new ScriptedSink();
    const f = new Forwarder({ sink, outbox, clock, logger, batchSize: 10, idleMs: 1000 });
    f.start();
    await fake.tickAsync(10);
    expect(sink.calls.map((c) => c.size)).toEqual([10, 10, 5]);
    expect(sink.received).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(outbox.cursor).toBe(25);
    expect(f.stats.sent).toBe(25);
    const stopped = f.stop();
    await fake.tickAsync(10);
    await stopped;
  });

  it('keeps the batch and backs off after a retryable failure, honouring Retry-After', async () => {
    const outbox = new MemoryOutbox();
    outbox.add(3);
    const sink = new ScriptedSink();
    sink.failures = [
      new SinkError('connection refused', { kind: 'network' }),
      new SinkError('slow down', { kind: 'throttled', retryAfterMs: 30_000, status: 429 }),
    ];
    const f = new Forwarder({ sink, outbox, clock, logger, idleMs: 1000, backoff: { initialMs: 1000, maxMs: 60_000 }, random: () => 1 });
    f.start();
    await fake.tickAsync(60_000);
    expect(sink.calls.map((c) => c.at)).toEqual([0, 1000, 31_000]);
    expect(sink.received).toEqual([1, 2, 3]);
    expect(f.stats.failed).toBe(6);
    expect(f.stats.consecutiveFailures).toBe(0);
    const stopped = f.stop();
    await fake.tickAsync(10);
    await stopped;
  });

  it('halves the batch when the sink says it is too large, losing nothing', async () => {
    const outbox = new MemoryOutbox();
    outbox.add(8);
    const sink = new ScriptedSink();
    sink.failures = [new SinkError('too large', { kind: 'too-large', status: 413 }), new SinkError('too large', { kind: 'too-large', status: 413 })];
    const f = new Forwarder({ sink, outbox, clock, logger, batchSize: 8 });
    f.start();
    await fake.tickAsync(10);
    expect(sink.calls.map((c) => c.size)).toEqual([8, 4, 2, 2, 2, 2]);
    expect(sink.received).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const stopped = f.stop();
    await fake.tickAsync(10);
    await stopped;
  });

  it('wakes from idle when rows arrive', async () => {
    const outbox = new MemoryOutbox();
    const sink = new ScriptedSink();
    const f = new Forwarder({ sink, outbox, clock, logger, idleMs: 60_000 });
    f.start();
    await fake.tickAsync(5);
    outbox.add(2);
    f.wake();
    await fake.tickAsync(5);
    expect(sink.received).toEqual([1, 2]);
    const stopped = f.stop();
    await fake.tickAsync(10);
    await stopped;
  });
});

describe('Forwarder shutdown', () => {
  it('drains rows committed while its last batch was being written (the final poll of a stop)', async () => {
    const outbox = new MemoryOutbox();
    outbox.add(3);
    // A sink whose write takes 50 ms: the last poll commits 30 rows in the middle of it.
    class SlowSink extends ScriptedSink {
      override async write(batch: readonly Point[]): Promise<void> {
        await new Promise((r) => setTimeout(r, 50));
        await super.write(batch);
      }
    }
    const sink = new SlowSink();
    const f = new Forwarder({ sink, outbox, clock, logger, batchSize: 100, idleMs: 60_000 });
    f.start();
    await fake.tickAsync(10); // the first batch (3 rows) is being written
    outbox.add(30);
    const stopped = f.stop(5000);
    await fake.tickAsync(500);
    await stopped;
    expect(sink.received).toEqual(Array.from({ length: 33 }, (_, i) => i + 1));
    expect(sink.calls.map((c) => c.size)).toEqual([3, 30]);
  });
});
