/**
 * The audit of writes to field devices (issue 15), kept in the buffer file: one row per attempt,
 * refused ones too, and the queue through which `edge-agent write` reaches a running agent.
 *
 * A row is stored as `pending` before anything is sent, and its outcome is written in the same
 * transaction as the event that carries it to the sinks (SqliteBuffer.append), so a crash
 * between the frame and the outcome leaves a pending row: the agent records it as `interrupted`
 * at its next start and never sends it again. Values are JSON text: what a write is stays with
 * agent/commands.
 */
import type Database from 'better-sqlite3';
import type { CommandRecord } from './types.js';

export interface WriteRequestRow {
  id: number;
  device: string;
  point: string;
  /** JSON of the requested value. */
  value: string;
  by: string;
  at: number;
}

export class CommandStore {
  private readonly st: {
    upsert: Database.Statement<Record<string, unknown>>;
    pending: Database.Statement<[], { record: string }>;
    recent: Database.Statement<[number], { record: string }>;
    get: Database.Statement<[string], { record: string }>;
    request: Database.Statement<[string, string, string, string, number]>;
    waiting: Database.Statement<[], WriteRequestRow>;
    complete: Database.Statement<[number, string, number]>;
    requestOutcome: Database.Statement<[number], { done_at: number | null; command_id: string | null }>;
    prune: Database.Statement<[number]>;
  };

  constructor(private readonly db: Database.Database) {
    this.st = {
      upsert: db.prepare(
        `INSERT INTO commands (id, device, point, outcome, requested_at, done_at, record) VALUES (@id, @device, @point, @outcome, @requestedAt, @doneAt, @record)
         ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome, done_at = excluded.done_at, record = excluded.record`,
      ),
      pending: db.prepare("SELECT record FROM commands WHERE outcome = 'pending' ORDER BY requested_at"),
      recent: db.prepare('SELECT record FROM commands ORDER BY requested_at DESC, rowid DESC LIMIT ?'),
      get: db.prepare('SELECT record FROM commands WHERE id = ?'),
      request: db.prepare('INSERT INTO write_requests (device, point, value, by, at) VALUES (?, ?, ?, ?, ?)'),
      waiting: db.prepare('SELECT id, device, point, value, by, at FROM write_requests WHERE done_at IS NULL ORDER BY id'),
      complete: db.prepare('UPDATE write_requests SET done_at = ?, command_id = ? WHERE id = ?'),
      requestOutcome: db.prepare('SELECT done_at, command_id FROM write_requests WHERE id = ?'),
      prune: db.prepare('DELETE FROM write_requests WHERE done_at IS NOT NULL AND done_at < ?'),
    };
  }

  /** Stores (or moves forward) one attempt. Inside a write transaction when it goes with an append. */
  write(records: readonly CommandRecord[]): void {
    for (const r of records) {
      this.st.upsert.run({ id: r.id, device: r.device, point: r.point, outcome: r.outcome, requestedAt: r.requestedAt, doneAt: r.doneAt, record: JSON.stringify(r) });
    }
  }

  /** The attempts stored as pending: after a restart, those a crash interrupted. */
  pending(): CommandRecord[] {
    return this.st.pending.all().map((r) => JSON.parse(r.record) as CommandRecord);
  }

  /** The newest attempts first. */
  recent(limit: number): CommandRecord[] {
    return this.st.recent.all(limit).map((r) => JSON.parse(r.record) as CommandRecord);
  }

  get(id: string): CommandRecord | undefined {
    const row = this.st.get.get(id);
    return row === undefined ? undefined : (JSON.parse(row.record) as CommandRecord);
  }

  /** Queues a write for the running agent (`edge-agent write`); returns the request id. */
  requestWrite(device: string, point: string, value: unknown, by: string, at: number): number {
    return Number(this.st.request.run(device, point, JSON.stringify(value), by, at).lastInsertRowid);
  }

  waitingRequests(): WriteRequestRow[] {
    return this.st.waiting.all();
  }

  /** Marks a request taken (its attempt has `commandId`), and forgets requests older than a day. */
  completeRequest(id: number, commandId: string, at: number): void {
    this.db.transaction(() => {
      this.st.complete.run(at, commandId, id);
      this.st.prune.run(at - 86_400_000);
    }).immediate();
  }

  requestOutcome(id: number): { doneAt: number | null; commandId: string | null } | undefined {
    const row = this.st.requestOutcome.get(id);
    return row === undefined ? undefined : { doneAt: row.done_at, commandId: row.command_id };
  }
}
