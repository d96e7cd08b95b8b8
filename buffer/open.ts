/**
 * Opening the buffer file with an integrity check. A gateway's SD card can corrupt a file (power
 * cuts mid-write on cheap cards, worn flash). A corrupt buffer must not stop the agent: the file
 * is moved aside, kept for inspection, and a fresh one is started — reported as an error, since
 * the rows in it are no longer delivered.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BufferError } from './errors.js';

/** SQLite result codes that mean "this file is damaged or not a database". */
const CORRUPT_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_VTAB', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_CORRUPT_INDEX']);

export class CorruptFileError extends Error {
  constructor(
    message: string,
    readonly details: string[],
  ) {
    super(message);
    this.name = 'CorruptFileError';
  }
}

export function isCorruption(err: unknown): boolean {
  if (err instanceof CorruptFileError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CORRUPT_CODES.has(code);
}

export function openFile(file: string, opts: { readonly?: boolean } = {}): Database.Database {
  try {
    if (file !== ':memory:' && !opts.readonly) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    return new Database(file, opts.readonly ? { readonly: true, fileMustExist: true } : {});
  } catch (err) {
    throw new BufferError('EDGE_BUFFER_OPEN_FAILED', `cannot open buffer ${file}: ${(err as Error).message}`, err);
  }
}

/**
 * `PRAGMA quick_check`: every page and record well-formed (it skips only the index-vs-table
 * cross-check of integrity_check, which is what makes it affordable on a Pi at each start).
 * Throws CorruptFileError with SQLite's findings.
 */
export function checkIntegrity(db: Database.Database): void {
  if (db.memory) return;
  const rows = db.pragma('quick_check(20)') as Array<{ quick_check: string }>;
  const findings = rows.map((r) => r.quick_check);
  if (findings.length === 1 && findings[0] === 'ok') return;
  throw new CorruptFileError(`integrity check failed: ${findings.slice(0, 3).join('; ')}`, findings);
}

/**
 * Moves the damaged file and its -wal / -shm companions to `<file>.corrupt-<time>` so the next
 * open starts a new one. Returns the new name of the main file.
 */
export function moveAside(file: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
  let target = `${file}.corrupt-${stamp}`;
  for (let i = 1; fs.existsSync(target); i++) target = `${file}.corrupt-${stamp}-${i}`;
  fs.renameSync(file, target);
  for (const suffix of ['-wal', '-shm']) {
    if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, target + suffix);
  }
  return target;
}
