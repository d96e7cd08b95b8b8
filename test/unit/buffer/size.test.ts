/**
 * Disk cost per buffered point (target ≤ 200 bytes). Page counts are deterministic for a given
 * input, so this is a real assertion, unlike timings, which only benchmarks print.
 */
import fs from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { SqliteBuffer } from '../../../buffer/sqlite-buffer.js';
import { points, tempDir } from './fixtures.js';

const tmp = tempDir();
afterEach(() => tmp.remove());

it('stores a realistic point in at most 200 bytes of disk', () => {
  const N = 20_000;
  const file = tmp.file();
  const b = new SqliteBuffer({ path: file, sinks: ['influx', 'postgres'] });
  // One append per poll cycle of 200 points, as the pipeline does.
  for (let i = 0; i < N; i += 200) b.append(points(200, i));
  const { bytes, rows } = b.stats();
  b.close();
  // After close the WAL is checkpointed into the main file and removed: this is the real footprint.
  const onDisk = fs.statSync(file).size + (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);
  expect(rows).toBe(N);
  const perPoint = { pages: bytes / N, file: onDisk / N };
  console.log(`buffer disk use: ${perPoint.pages.toFixed(1)} bytes/point (pages), ${perPoint.file.toFixed(1)} bytes/point (files)`);
  expect(perPoint.pages).toBeLessThanOrEqual(200);
  expect(perPoint.file).toBeLessThanOrEqual(200);
});
