import { describe, expect, it } from 'vitest';
import { Pipeline } from '../../../agent/pipeline/pipeline.js';
import { PushRunner, type PushDevice, type PushDriverWithStats } from '../../../agent/pipeline/push-runner.js';
import type { Point } from '../../../buffer/types.js';
import type { MqttDevice } from '../../../config/types.js';
import type { MqttStats } from '../../../drivers/mqtt/driver.js';
import type { Reading } from '../../../drivers/types.js';
import { DeviceTimestamps } from '../../../drivers/timestamps.js';

const device: MqttDevice = {
  id: 'ward-monitors',
  driver: 'mqtt',
  qos: 0,
  tags: { gateway: 'gw', site: 's', device: 'ward-monitors' },
  points: [
    {
      id: 'hr', deviceId: 'ward-monitors', measurement: 'vitals', tags: { gateway: 'gw', site: 's', device: 'ward-monitors', point: 'hr', ward: 'static' },
      topic: 'ward/{ward}/bed/{bed}', filter: 'ward/+/bed/+', captures: [undefined, 'ward', undefined, 'bed'], type: 'number', deadband: 5,
    },
  ],
};

class FakeDriver implements PushDriverWithStats {
  readonly stats = { connected: true } as MqttStats;
  private cb: ((r: Reading[]) => void) | undefined;
  onReadings(cb: (r: Reading[]) => void): void {
    this.cb = cb;
  }
  start(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  push(readings: Reading[]): void {
    this.cb?.(readings);
  }
}

const logs: string[] = [];
const log = { debug: () => {}, info: (_: unknown, m: string) => logs.push(`info ${m}`), warn: (_: unknown, m: string) => logs.push(`warn ${m}`), error: (_: unknown, m: string) => logs.push(`error ${m}`) };
const clock = { now: () => 1000, setTimeout: () => 0, clearTimeout: () => {} };
const hr = (raw: number | null, tags: Record<string, string>, ts: number, error?: string): Reading =>
  error === undefined ? { pointId: 'hr', ts, raw, quality: 'good', tags } : { pointId: 'hr', ts, raw: null, quality: 'bad', error, tags };

function setup(append: (points: Point[]) => void = () => {}) {
  const stored: Point[] = [];
  const pipeline = new Pipeline({ append: (ps: Point[]) => { append(ps); stored.push(...ps); } });
  const driver = new FakeDriver();
  const runner = new PushRunner(device as PushDevice, driver, pipeline, clock, log as never);
  return { stored, driver, runner };
}

describe('push devices through the pipeline', () => {
  it('merges captured tags over the configured ones, and keeps a deadband per captured series', () => {
    const { stored, driver } = setup();
    driver.push([hr(70, { ward: '3', bed: '12' }, 1)]);
    driver.push([hr(60, { ward: '3', bed: '13' }, 2)]); // another bed: its own series, not within bed 12's deadband
    driver.push([hr(72, { ward: '3', bed: '12' }, 3)]); // within bed 12's deadband: suppressed
    driver.push([hr(80, { ward: '3', bed: '12' }, 4)]);
    expect(stored.map((p) => [p.tags.bed, p.value])).toEqual([['12', 70], ['13', 60], ['12', 80]]);
    expect(stored[0]?.tags).toEqual({ gateway: 'gw', site: 's', device: 'ward-monitors', point: 'hr', ward: '3', bed: '12' });
  });

  it('keeps health: failures in a row, the last error, recovery', () => {
    const { runner, driver } = setup();
    logs.length = 0;
    driver.push([hr(null, { bed: '1' }, 1, 'EDGE_PAYLOAD_NOT_JSON')]);
    driver.push([hr(null, { bed: '1' }, 2, 'EDGE_PAYLOAD_NOT_JSON')]);
    expect(runner.health).toMatchObject({ consecutiveFailures: 2, lastError: 'EDGE_PAYLOAD_NOT_JSON', lastSuccessAt: null, batches: 2, pointsFailed: 2 });
    driver.push([hr(70, { bed: '1' }, 3)]);
    expect(runner.health).toMatchObject({ consecutiveFailures: 0, lastSuccessAt: 1000, pointsRead: 1 });
    expect(logs).toEqual(['warn device sends readings that cannot be used', 'info device readings good again']);
    expect(runner.snapshot().driver).toEqual({ connected: true });
  });

  it('counts a batch the buffer refused, and carries on', () => {
    let fail = true;
    const { runner, driver, stored } = setup(() => {
      if (fail) throw new Error('disk full');
    });
    logs.length = 0;
    driver.push([hr(70, { bed: '1' }, 1)]);
    fail = false;
    driver.push([hr(71, { bed: '1' }, 2)]);
    expect(runner.health.storeErrors).toBe(1);
    expect(logs).toEqual(['error readings could not be stored']);
    // The refused value was not remembered as reported: the next one is emitted although within the deadband.
    expect(stored.map((p) => p.value)).toEqual([71]);
  });
});

describe('DeviceTimestamps', () => {
  it('keeps each reading of a device its own millisecond', () => {
    const t = new DeviceTimestamps();
    expect([t.next(100), t.next(100), t.next(100), t.next(101), t.next(500), t.next(400)]).toEqual([100, 101, 102, 103, 500, 501]);
  });

  it('takes a clock stepped back by more than a second as it is, instead of following it a millisecond at a time', () => {
    const t = new DeviceTimestamps();
    expect([t.next(10_000), t.next(9_500), t.next(5_000), t.next(5_000)]).toEqual([10_000, 10_001, 5_000, 5_001]);
  });
});
