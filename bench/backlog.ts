/**
 * Backlogs: what a buffer holds after an outage. Points are made by the agent's own transforms
 * from the bench devices' readings (10 devices × 100 points, one cycle per second, a year ago),
 * so they have the shape, tags and sizes the sinks see in the field.
 */
import fs from 'node:fs';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import type { Point } from '../buffer/types.js';
import { transformReading } from '../agent/pipeline/transform.js';
import type { ModbusDevice } from '../config/types.js';
import { readingCycles } from './layout.js';

/** Makes the points of `cycles` poll cycles of the devices, in order, calling `each` per batch. */
export function forEachBacklogBatch(devices: readonly ModbusDevice[], total: number, startTs: number, each: (batch: Point[]) => void): void {
  const variants = devices.map((d) => readingCycles(d, 16));
  let made = 0;
  for (let cycle = 0; made < total; cycle++) {
    for (let d = 0; d < devices.length && made < total; d++) {
      const device = devices[d]!;
      const readings = variants[d]![cycle % 16]!;
      const n = Math.min(readings.length, total - made);
      const batch: Point[] = new Array<Point>(n);
      const ts = startTs + cycle * 1000;
      for (let i = 0; i < n; i++) {
        const r = readings[i]!;
        batch[i] = transformReading({ ...r, ts }, device.points[i]!);
      }
      each(batch);
      made += n;
    }
  }
}

/** A buffer file at `file` holding `total` points for `sinks`. Returns the last seq. */
export function fillBuffer(file: string, sinks: readonly string[], devices: readonly ModbusDevice[], total: number, startTs: number): number {
  fs.rmSync(file, { force: true });
  const buffer = new SqliteBuffer({ path: file, sinks });
  let pending: Point[] = [];
  let last = 0;
  try {
    forEachBacklogBatch(devices, total, startTs, (batch) => {
      for (const p of batch) pending.push(p);
      if (pending.length >= 10_000) {
        last = buffer.append(pending);
        pending = [];
      }
    });
    if (pending.length > 0) last = buffer.append(pending);
  } finally {
    buffer.close();
  }
  return last;
}

/** Copies a closed buffer file (its WAL was checkpointed at close). */
export function copyBuffer(from: string, to: string): void {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(to + suffix, { force: true });
  fs.copyFileSync(from, to);
}
