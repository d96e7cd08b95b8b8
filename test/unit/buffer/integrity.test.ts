/** A corrupt buffer file is moved aside (kept), replaced, and reported; the agent goes on. */
import fs from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { SqliteBuffer } from '../../../buffer/sqlite-buffer.js';
import { points, tempDir } from './fixtures.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.remove());

const errors: Array<Record<string, unknown>> = [];
const logger = { info() {}, warn() {}, error: (obj: object) => errors.push(obj as Record<string, unknown>) };

/** Scribbles over the middle of the file, where the points table's pages are: a worn SD card. */
function damage(file: string): void {
  const fd = fs.openSync(file, 'r+');
  const size = fs.fstatSync(fd).size;
  const junk = Buffer.alloc(3 * 4096, 0xa5);
  fs.writeSync(fd, junk, 0, junk.length, Math.floor(size / 2 / 4096) * 4096);
  fs.closeSync(fd);
}

it('moves a file that fails the integrity check aside, starts a new one, and reports it', () => {
  const file = tmp.file();
  const b1 = new SqliteBuffer({ path: file, sinks: ['s'] });
  b1.append(points(20_000));
  b1.close();
  damage(file);
  errors.length = 0;
  const b2 = new SqliteBuffer({ path: file, sinks: ['s'], recoverCorrupt: true, logger, now: () => Date.UTC(2026, 10, 23, 8, 0, 0) });
  expect(b2.recovered?.movedTo).toBe(`${file}.corrupt-2026-11-23T08-00-00-000Z`);
  expect(fs.existsSync(b2.recovered?.movedTo ?? '')).toBe(true); // kept for inspection
  expect(errors).toEqual([expect.objectContaining({ code: 'EDGE_BUFFER_CORRUPT', movedTo: b2.recovered?.movedTo })]);
  // The new buffer works.
  expect(b2.stats().rows).toBe(0);
  expect(b2.append(points(3))).toBe(3);
  b2.close();
});

it('treats a file that is not a database at all the same way', () => {
  const file = tmp.file();
  fs.writeFileSync(file, 'not a database '.repeat(1000));
  const b = new SqliteBuffer({ path: file, sinks: ['s'], recoverCorrupt: true, logger });
  expect(b.recovered?.reason).toMatch(/not a database/);
  expect(fs.readFileSync(b.recovered?.movedTo ?? '', 'utf8')).toMatch(/^not a database/);
  b.close();
});

it('refuses a damaged file, leaving it untouched, when not asked to recover', () => {
  const file = tmp.file();
  const b1 = new SqliteBuffer({ path: file, sinks: ['s'] });
  b1.append(points(20_000));
  b1.close();
  damage(file);
  const before = fs.readFileSync(file);
  expect(() => new SqliteBuffer({ path: file, sinks: ['s'] })).toThrow(expect.objectContaining({ code: 'EDGE_BUFFER_CORRUPT' }));
  expect(fs.readFileSync(file).equals(before)).toBe(true);
});
