/**
 * The buffer's figures, read from the file itself: the running agent's status API and the
 * `edge-agent buffer stats` command (another process, read-only, while the agent runs) see the
 * same numbers, because every counter they need is committed with the rows it describes.
 */
import type Database from 'better-sqlite3';
import type { BufferStats, SinkBacklog } from './types.js';

export function collectStats(db: Database.Database, enabled: ReadonlySet<string>): BufferStats {
  const one = <T>(sql: string): T => db.prepare(sql).pluck().get() as T;
  const first = one<number | undefined>('SELECT seq FROM points ORDER BY seq LIMIT 1') ?? null;
  const lastSeq = Math.max(one<number>("SELECT value FROM meta WHERE key = 'last_seq'"), one<number | null>('SELECT max(seq) FROM points') ?? 0);
  const rows = first === null ? 0 : lastSeq - first + 1;
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const pageCount = db.pragma('page_count', { simple: true }) as number;
  const freePages = db.pragma('freelist_count', { simple: true }) as number;

  const cursors = new Map((db.prepare('SELECT sink, seq FROM cursors').all() as Array<{ sink: string; seq: number }>).map((r) => [r.sink, r.seq]));
  const counters = new Map(
    (db.prepare('SELECT sink, dropped, dead_lettered FROM sink_counters').all() as Array<{ sink: string; dropped: number; dead_lettered: number }>).map((r) => [r.sink, r]),
  );
  const dead = new Map(
    (db.prepare('SELECT sink, count(*) AS n, coalesce(sum(replay), 0) AS r FROM dead_letters GROUP BY sink').all() as Array<{ sink: string; n: number; r: number }>).map(
      (r) => [r.sink, r],
    ),
  );
  const heldRows = (db.prepare('SELECT first_seq AS f, last_seq AS l FROM holds').all() as Array<{ f: number; l: number }>).reduce(
    (n, h) => n + Math.max(0, h.l - Math.max(h.f, first ?? Infinity) + 1),
    0,
  );
  const oldestAfter = db.prepare<[number], number>('SELECT ts FROM points WHERE seq > ? ORDER BY seq LIMIT 1').pluck();

  const names = new Set([...enabled, ...cursors.keys(), ...dead.keys()]);
  const sinks: Record<string, SinkBacklog> = {};
  for (const name of [...names].sort()) {
    const isEnabled = enabled.has(name);
    const cursor = cursors.get(name) ?? (first === null ? lastSeq : first - 1);
    const pending = first === null || !isEnabled ? 0 : Math.max(0, lastSeq - Math.max(cursor, first - 1));
    const d = dead.get(name);
    sinks[name] = {
      cursor,
      pending,
      oldestTs: pending > 0 ? (oldestAfter.get(cursor) ?? null) : null,
      dropped: counters.get(name)?.dropped ?? 0,
      deadLettered: counters.get(name)?.dead_lettered ?? 0,
      deadLetters: d?.n ?? 0,
      replaying: d?.r ?? 0,
      enabled: isEnabled,
    };
  }
  return {
    rows,
    bytes: pageCount * pageSize,
    usedBytes: (pageCount - freePages) * pageSize,
    lastSeq,
    held: heldRows,
    dropped: one<number | null>("SELECT value FROM meta WHERE key = 'dropped'") ?? 0,
    sinks,
  };
}
