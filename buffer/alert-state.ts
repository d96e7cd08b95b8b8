/**
 * Where the agent's alert engine keeps the alerts active now, so a restart neither loses nor
 * re-raises one, and the queue through which `edge-agent alerts ack` reaches a running agent.
 *
 * Why here: the state must change in the same transaction as the alert event is appended to the
 * outbox (a crash between the two would either re-raise an alert central already has, or lose
 * the event central needs), and only the buffer's connection can do both at once. The records are
 * opaque JSON to the buffer: what an alert is stays with agent/alerts.
 */
import type Database from 'better-sqlite3';
import { RequestQueue } from './request-queue.js';

export interface AlertStateRow {
  /** device/point/rule. */
  key: string;
  /** The agent's JSON; null deletes the row (the alert is over). */
  record: string | null;
}

export interface AlertAckRequest {
  id: number;
  /** The alert id, or device/point/rule, as the operator gave it. */
  alert: string;
  by: string;
  at: number;
}

export interface AlertAckOutcome {
  doneAt: number | null;
  /** 'ok' or an error code; null while waiting. */
  result: string | null;
}

export class AlertStateStore {
  private readonly st: {
    all: Database.Statement<[], { key: string; record: string }>;
    upsert: Database.Statement<[string, string, number]>;
    remove: Database.Statement<[string]>;
  };
  private readonly acks: RequestQueue<AlertAckRequest, [alert: string, by: string, at: number]>;

  constructor(db: Database.Database) {
    this.st = {
      all: db.prepare('SELECT key, record FROM alert_state ORDER BY key'),
      upsert: db.prepare('INSERT INTO alert_state (key, record, at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET record = excluded.record, at = excluded.at'),
      remove: db.prepare('DELETE FROM alert_state WHERE key = ?'),
    };
    this.acks = new RequestQueue(db, 'alert_acks', ['alert', 'by', 'at'], 'result');
  }

  /** The stored records, by key. */
  all(): Array<{ key: string; record: string }> {
    return this.st.all.all();
  }

  /** Must run inside a write transaction when it goes with an append (SqliteBuffer.append does that). */
  write(rows: readonly AlertStateRow[], at: number): void {
    for (const r of rows) {
      if (r.record === null) this.st.remove.run(r.key);
      else this.st.upsert.run(r.key, r.record, at);
    }
  }

  /** Queues an acknowledgement for the running agent; returns its request id. */
  requestAck(alert: string, by: string, at: number): number {
    return this.acks.add(alert, by, at);
  }

  waitingAcks(): AlertAckRequest[] {
    return this.acks.waiting();
  }

  /** Records what became of a request, and forgets outcomes older than a day. */
  completeAck(id: number, result: string, at: number): void {
    this.acks.complete(id, result, at);
  }

  ackOutcome(id: number): AlertAckOutcome | undefined {
    return this.acks.outcome(id);
  }
}
