/**
 * Looking into an agent's buffer file from a test, between runs or beside a running agent (WAL
 * readers do not disturb the writer): which points it holds, and the last seq ever committed.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { rng } from '../../drivers/modbus/well-pump-model.js';

export interface BufferedKey {
  seq: number;
  key: string;
}

/** `device/point@ts` for every row in the file, and the seq counter (0 if there is no file yet). */
export function readBufferFile(path: string): { rows: BufferedKey[]; lastSeq: number } {
  if (!fs.existsSync(path)) return { rows: [], lastSeq: 0 };
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare('SELECT p.seq AS seq, s.device_id AS d, s.point_id AS p, p.ts AS ts FROM points p JOIN series s ON s.id = p.series_id ORDER BY p.seq')
      .all() as Array<{ seq: number; d: string; p: string; ts: number }>;
    // The counter is saved with deletes; the newest row carries it otherwise (buffer/sqlite-buffer.ts).
    const saved = db.prepare("SELECT value FROM meta WHERE key = 'last_seq'").pluck().get() as number;
    const lastSeq = Math.max(saved, (db.prepare('SELECT max(seq) FROM points').pluck().get() as number | null) ?? 0);
    return { rows: rows.map((r) => ({ seq: r.seq, key: `${r.d}/${r.p}@${r.ts}` })), lastSeq };
  } finally {
    db.close();
  }
}

/** Every `device/point@ts` PostgreSQL holds for the gateway, with how often (more than once would be a duplicate). */
export async function pgPointKeys(pool: pg.Pool, schema: string, gateway: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    const r = await pool.query<{ k: string; n: number }>(
      `SELECT device_id || '/' || point_id || '@' || ((extract(epoch from ts) * 1000)::bigint)::text AS k, count(*)::int AS n
       FROM "${schema}".points WHERE gateway_id = $1 GROUP BY 1`,
      [gateway],
    );
    for (const row of r.rows) out.set(row.k, row.n);
  } catch (err) {
    if ((err as { code?: string }).code !== '42P01') throw err; // table not created yet
  }
  return out;
}

/** Polls `check` until it holds (real time, bounded); never asserts on how long it took. */
export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A small seeded PRNG (the simulator's mulberry32), so a failing random run can be replayed from its seed. */
export const seeded = rng;
