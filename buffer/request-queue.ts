/**
 * A queue in the buffer file through which an operator command run beside the agent
 * (`edge-agent alerts ack`, `edge-agent write`) reaches the running agent: the command adds a
 * row, the agent takes the waiting rows in order and marks each done with its result, and the
 * command polls for that outcome. Done rows are kept a day for the command to read, then pruned.
 * The table has `id INTEGER PRIMARY KEY`, the request's own columns, `done_at` and the result
 * column (buffer/schema.ts); the table and column names are this file's callers' constants.
 */
import type Database from 'better-sqlite3';

/** How long a done request's outcome is kept for the command that asked. */
const KEEP_DONE_MS = 86_400_000;

export class RequestQueue<Row extends { id: number }, Args extends unknown[]> {
  private readonly st: {
    add: Database.Statement<Args>;
    waiting: Database.Statement<[], Row>;
    complete: Database.Statement<[number, string, number]>;
    outcome: Database.Statement<[number], { done_at: number | null; result: string | null }>;
    prune: Database.Statement<[number]>;
  };

  constructor(
    private readonly db: Database.Database,
    table: string,
    columns: readonly string[],
    resultColumn: string,
  ) {
    this.st = {
      add: db.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`),
      waiting: db.prepare(`SELECT id, ${columns.join(', ')} FROM ${table} WHERE done_at IS NULL ORDER BY id`),
      complete: db.prepare(`UPDATE ${table} SET done_at = ?, ${resultColumn} = ? WHERE id = ?`),
      outcome: db.prepare(`SELECT done_at, ${resultColumn} AS result FROM ${table} WHERE id = ?`),
      prune: db.prepare(`DELETE FROM ${table} WHERE done_at IS NOT NULL AND done_at < ?`),
    };
  }

  /** Queues a request; returns its id. */
  add(...values: Args): number {
    return Number(this.st.add.run(...values).lastInsertRowid);
  }

  /** The requests not done yet, oldest first. */
  waiting(): Row[] {
    return this.st.waiting.all();
  }

  /** Records what became of a request, and forgets outcomes older than a day. */
  complete(id: number, result: string, at: number): void {
    this.db.transaction(() => {
      this.st.complete.run(at, result, id);
      this.st.prune.run(at - KEEP_DONE_MS);
    }).immediate();
  }

  /** Undefined for an unknown (or pruned) request; doneAt and result null while it waits. */
  outcome(id: number): { doneAt: number | null; result: string | null } | undefined {
    const row = this.st.outcome.get(id);
    return row === undefined ? undefined : { doneAt: row.done_at, result: row.result };
  }
}
