/**
 * One agent process per buffer file. The buffer counts `seq` in memory (sqlite-buffer.ts), so a
 * second process appending to the same file (a manual `edge-agent run` beside the service, two
 * `npm start` in one folder) collides on it: "UNIQUE constraint failed: points.seq", readings lost.
 * The lock is a SQLite file next to the buffer (`<buffer>.lock`) held in exclusive locking mode:
 * SQLite's POSIX locks are released by the kernel when the process dies, so a power cut or a
 * SIGKILL never leaves a stale lock behind, and no pid is ever guessed at. Readers of the buffer
 * (`edge-agent buffer stats`, `alerts list`) do not take it.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BufferError } from './errors.js';

export interface BufferLock {
  readonly file: string;
  release(): void;
}

/** The lock of `bufferPath`, or undefined when another process holds it. Throws EDGE_BUFFER_OPEN_FAILED when the lock file cannot be made. */
export function lockBuffer(bufferPath: string): BufferLock | undefined {
  const file = `${path.resolve(bufferPath)}.lock`;
  let db: Database.Database;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    db = new Database(file, { timeout: 0 });
  } catch (err) {
    throw new BufferError('EDGE_BUFFER_OPEN_FAILED', `cannot make the buffer's lock file ${file}: ${(err as Error).message}`, err);
  }
  try {
    // The first write takes the exclusive lock; in this mode it is kept until the connection closes.
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL)');
    db.prepare('DELETE FROM holder').run();
    db.prepare('INSERT INTO holder (pid) VALUES (?)').run(process.pid);
  } catch (err) {
    db.close();
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') return undefined;
    throw new BufferError('EDGE_BUFFER_OPEN_FAILED', `cannot take the buffer's lock ${file}: ${(err as Error).message}`, err);
  }
  let held = true;
  return {
    file,
    release() {
      if (!held) return;
      held = false;
      db.close();
    },
  };
}
