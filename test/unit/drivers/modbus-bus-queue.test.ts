import { describe, expect, it } from 'vitest';
import { BusQueue, QueueAbortedError, QueueClosedError, QueueFullError } from '../../../drivers/bus/queue.js';

/** A job the test finishes by hand, recording when it started. */
function gate(log: string[], name: string) {
  let finish!: (v: string) => void;
  let fail!: (e: Error) => void;
  const job = () => {
    log.push(`start ${name}`);
    return new Promise<string>((resolve, reject) => {
      finish = (v) => {
        log.push(`end ${name}`);
        resolve(v);
      };
      fail = reject;
    });
  };
  return { job, finish: (v = name) => finish(v), fail: (e: Error) => fail(e) };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('BusQueue', () => {
  it('runs one job at a time, in order', async () => {
    const q = new BusQueue(10);
    const log: string[] = [];
    const [a, b, c] = [gate(log, 'a'), gate(log, 'b'), gate(log, 'c')];
    const results = [q.run(a.job), q.run(b.job), q.run(c.job)];
    await tick();
    expect(log).toEqual(['start a']);
    expect(q.pending).toBe(2);
    a.finish();
    await tick();
    b.finish();
    await tick();
    c.finish();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('refuses rather than grows: beyond maxWaiting a job is rejected at once', async () => {
    const q = new BusQueue(2);
    const log: string[] = [];
    const jobs = [gate(log, 'a'), gate(log, 'b'), gate(log, 'c'), gate(log, 'd')];
    const runs = jobs.map((j) => q.run(j.job));
    await expect(runs[3]).rejects.toBeInstanceOf(QueueFullError);
    expect(q.pending).toBe(2);
    expect(q.stats.refused).toBe(1);
    for (const j of jobs.slice(0, 3)) {
      await tick();
      j.finish();
    }
    expect(await Promise.all(runs.slice(0, 3))).toEqual(['a', 'b', 'c']);
    expect(log).not.toContain('start d');
  });

  it('low priority goes only when no normal job waits', async () => {
    const q = new BusQueue(10);
    const log: string[] = [];
    const first = gate(log, 'first');
    const probe = gate(log, 'probe');
    const [h1, h2] = [gate(log, 'h1'), gate(log, 'h2')];
    const runs = [q.run(first.job), q.run(probe.job, { priority: 'low' }), q.run(h1.job), q.run(h2.job)];
    for (const j of [first, h1, h2, probe]) {
      await tick();
      j.finish();
    }
    await Promise.all(runs);
    expect(log.filter((l) => l.startsWith('start'))).toEqual(['start first', 'start h1', 'start h2', 'start probe']);
  });

  it('a job aborted while waiting leaves the queue and never runs', async () => {
    const q = new BusQueue(10);
    const log: string[] = [];
    const [a, b, c] = [gate(log, 'a'), gate(log, 'b'), gate(log, 'c')];
    const ac = new AbortController();
    const ra = q.run(a.job);
    const rb = q.run(b.job, { signal: ac.signal });
    const rc = q.run(c.job);
    ac.abort();
    await expect(rb).rejects.toBeInstanceOf(QueueAbortedError);
    expect(q.pending).toBe(1);
    a.finish();
    await tick();
    c.finish();
    expect([await ra, await rc]).toEqual(['a', 'c']);
    expect(log).not.toContain('start b');
    const aborted = new AbortController();
    aborted.abort();
    await expect(q.run(a.job, { signal: aborted.signal })).rejects.toBeInstanceOf(QueueAbortedError);
  });

  it('a failing job does not stop the queue', async () => {
    const q = new BusQueue(10);
    const log: string[] = [];
    const [a, b] = [gate(log, 'a'), gate(log, 'b')];
    const ra = q.run(a.job);
    const rb = q.run(b.job);
    const thrower = q.run(() => {
      throw new Error('sync throw');
    });
    await tick();
    a.fail(new Error('boom'));
    await expect(ra).rejects.toThrow('boom');
    await tick();
    b.finish();
    expect(await rb).toBe('b');
    await expect(thrower).rejects.toThrow('sync throw');
  });

  it('close() fails the waiting jobs and refuses new ones; the running one finishes', async () => {
    const q = new BusQueue(10);
    const log: string[] = [];
    const [a, b] = [gate(log, 'a'), gate(log, 'b')];
    const ra = q.run(a.job);
    const rb = q.run(b.job);
    await tick();
    q.close();
    await expect(rb).rejects.toBeInstanceOf(QueueClosedError);
    await expect(q.run(b.job)).rejects.toBeInstanceOf(QueueClosedError);
    a.finish();
    expect(await ra).toBe('a');
    expect(log).toEqual(['start a', 'end a']);
  });
});
