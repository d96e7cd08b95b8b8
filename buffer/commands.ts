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
import { RequestQueue } from './request-queue.js';
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
  };
  private readonly requests: RequestQueue<WriteRequestRow, [device: string, point: string, value: string, by: string, at: number]>;

  constructor(db: Database.Database) {
    this.st = {
      upsert: db.prepare(
        `INSERT INTO commands (id, device, point, outcome, requested_at, done_at, record) VALUES (@id, @device, @point, @outcome, @requestedAt, @doneAt, @record)
         ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome, done_at = excluded.done_at, record = excluded.record`,
      ),
      pending: db.prepare("SELECT record FROM commands WHERE outcome = 'pending' ORDER BY requested_at"),
      recent: db.prepare('SELECT record FROM commands ORDER BY requested_at DESC, rowid DESC LIMIT ?'),
      get: db.prepare('SELECT record FROM commands WHERE id = ?'),
    };
    this.requests = new RequestQueue(db, 'write_requests', ['device', 'point', 'value', 'by', 'at'], 'command_id');
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
    return this.requests.add(device, point, JSON.stringify(value), by, at);
  }

  waitingRequests(): WriteRequestRow[] {
    return this.requests.waiting();
  }

  /** Marks a request taken (its attempt has `commandId`), and forgets requests older than a day. */
  completeRequest(id: number, commandId: string, at: number): void {
    this.requests.complete(id, commandId, at);
  }

  requestOutcome(id: number): { doneAt: number | null; commandId: string | null } | undefined {
    const o = this.requests.outcome(id);
    return o === undefined ? undefined : { doneAt: o.doneAt, commandId: o.result };
  }
}
