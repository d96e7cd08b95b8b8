/**
 * Every statement of the PostgreSQL sink runs inside a transaction of its own that carries the
 * statement timeout with `SET LOCAL`. Nothing is left on the session between transactions (no
 * named prepared statement, no `SET`, no session lock), and nothing travels as a startup
 * parameter but user, database and application_name: so a pooler in transaction mode (PgBouncer
 * `pool_mode = transaction`), which hands each transaction a different server connection and
 * refuses startup parameters it does not know, works without any setting on its side.
 */
import type pg from 'pg';

/** `BEGIN` and the timeout in one simple-protocol round trip (no parameters, so two statements are allowed). */
function beginSql(statementTimeoutMs: number): string {
  const ms = Math.max(0, Math.floor(statementTimeoutMs));
  return `BEGIN; SET LOCAL statement_timeout = ${ms}`;
}

/**
 * Runs `fn` on one checked-out connection between BEGIN and COMMIT. On any failure the connection
 * is destroyed rather than returned to the pool, since it may sit in an aborted transaction.
 */
export async function inTransaction<T>(pool: pg.Pool, statementTimeoutMs: number, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out client has no pool error listener: a connection lost between two statements
  // would be an uncaught 'error' and kill the agent. The failing statement reports it instead.
  const ignore = () => {};
  client.on('error', ignore);
  try {
    await client.query(beginSql(statementTimeoutMs));
    const result = await fn(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (err) {
    client.release(err instanceof Error ? err : true);
    throw err;
  } finally {
    client.removeListener('error', ignore);
  }
}
