/** Shared test data for the buffer tests: temp files and realistic points. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Point } from '../../../buffer/types.js';

export function tempDir(): { dir: string; file: (name?: string) => string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-buffer-'));
  return {
    dir,
    file: (name = 'buffer.db') => path.join(dir, name),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** A point as the pipeline makes it: inherited tags, a scaled value and the register it came from. */
export function realisticPoint(i: number, opts: { devices?: number; pointsPerDevice?: number; t0?: number } = {}): Point {
  const devices = opts.devices ?? 20;
  const perDevice = opts.pointsPerDevice ?? 10;
  const d = i % devices;
  const p = Math.floor(i / devices) % perDevice;
  const raw = (i * 7919) % 65536;
  return {
    deviceId: `pump-${d}`,
    pointId: `point-${p}`,
    measurement: 'flow',
    tags: { gateway: 'gw-pozo-17', site: 'pozo-17', device: `pump-${d}`, point: `point-${p}`, region: 'maule', well: `W-${d}` },
    value: raw * 0.1 + 0.05,
    raw,
    unit: 'm3/h',
    ts: (opts.t0 ?? 1_700_000_000_000) + Math.floor(i / (devices * perDevice)) * 10_000,
    quality: 'good',
  };
}

export function points(n: number, from = 0): Point[] {
  return Array.from({ length: n }, (_, k) => realisticPoint(from + k));
}
