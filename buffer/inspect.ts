/**
 * The buffer file seen from another process (`edge-agent buffer …`), possibly while the agent
 * runs: WAL lets readers work beside the writer. Reading never changes the file; `replay` is the
 * one write (a flag on dead letters; an ack request for an alert), waiting for the agent's transactions via busy_timeout.
 * Unlike opening a SqliteBuffer, nothing is migrated, evicted, checked or moved aside here.
 */
import fs from 'node:fs';
import type Database from 'better-sqlite3';
import { CommandStore } from './commands.js';
import { AlertStateStore } from './alert-state.js';
import { DeadLetterStore, type DeadLetterQuery } from './dead-letters.js';
import { BufferError } from './errors.js';
import { openFile } from './open.js';
import { SCHEMA_VERSION, schemaTooNew } from './schema.js';
import { SeriesCache } from './series.js';
import { collectStats } from './stats.js';
import type { BufferStats, DeadLetter } from './types.js';

export class BufferInspector {
  private readonly deadLetters: DeadLetterStore;
  /** The alerts the agent holds active, and its ack queue (`edge-agent alerts`); writing needs `write: true`. */
  readonly alertState: AlertStateStore;
  /** The write audit and the write queue (`edge-agent write`, `edge-agent commands`). */
  readonly commands: CommandStore;

  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {
    this.deadLetters = new DeadLetterStore(db, new SeriesCache(db));
    this.alertState = new AlertStateStore(db);
    this.commands = new CommandStore(db);
  }

  static open(path: string, opts: { write?: boolean; busyTimeoutMs?: number } = {}): BufferInspector {
    if (!fs.existsSync(path)) throw new BufferError('EDGE_BUFFER_OPEN_FAILED', `no buffer file at ${path} (has the agent run with this config?)`);
    const db = openFile(path, { readonly: opts.write !== true });
    try {
      db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw schemaTooNew(path, version);
      }
      if (version < SCHEMA_VERSION) {
        throw new BufferError('EDGE_BUFFER_OPEN_FAILED', `${path} is from an older agent (schema ${version}); start the agent once to upgrade it`);
      }
      return new BufferInspector(db, path);
    } catch (err) {
      db.close();
      if (err instanceof BufferError) throw err;
      throw new BufferError('EDGE_BUFFER_OPEN_FAILED', `cannot read buffer ${path}: ${(err as Error).message}`, err);
    }
  }

  /** Figures per sink; `enabled` are the sinks the config turns on (others are listed, marked off). */
  stats(enabled: ReadonlySet<string>): BufferStats & { fileBytes: number; walBytes: number } {
    const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
    return { ...collectStats(this.db, enabled), fileBytes: size(this.path), walBytes: size(`${this.path}-wal`) };
  }

  deadLetterList(q: DeadLetterQuery = {}): DeadLetter[] {
    return this.deadLetters.list(q);
  }

  replay(q: DeadLetterQuery = {}): Record<string, number> {
    return this.db.transaction(() => this.deadLetters.replay(q)).immediate();
  }

  close(): void {
    this.db.close();
  }
}
