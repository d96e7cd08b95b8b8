/**
 * PostgreSQL for integration tests: the shared server, a schema of its own per test file so files
 * can run in parallel, dropped afterwards.
 */
import crypto from 'node:crypto';
import pg from 'pg';

export const PGURL = process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestSchema {
  url: string;
  /** Unquoted name, e.g. t_3f9a1c2b. */
  schema: string;
  /** A pool for the test's own checks (not the one under test). */
  pool: pg.Pool;
  /** Drops the schema and closes the pool. */
  drop(): Promise<void>;
}

export async function createTestSchema(prefix = 't'): Promise<TestSchema> {
  const schema = `${prefix}_${crypto.randomBytes(4).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: PGURL, max: 2 });
  pool.on('error', () => {});
  return {
    url: PGURL,
    schema,
    pool,
    async drop() {
      try {
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await pool.end();
      }
    },
  };
}

/** A URL to a loopback port where nothing listens: connections are refused at once. */
export function refusedUrl(port: number): string {
  const u = new URL(PGURL);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}
