/**
 * PostgreSQL failures → SinkError. SQLSTATE classes decide for server errors (Appendix A of the
 * PostgreSQL manual); node-postgres' own errors (connect timeouts, dropped connections) have no
 * SQLSTATE and are recognised by their Node error code or message.
 */
import { clip, messageOf, transportError } from './classify.js';
import { SinkError, type SinkErrorKind } from './types.js';

interface PgLikeError {
  code?: unknown;
  severity?: unknown;
  detail?: unknown;
}

/** SQLSTATE class → kind. Unlisted classes are 'server' (retry): we would rather keep data than drop it. */
const BY_CLASS: Record<string, SinkErrorKind> = {
  '08': 'network', // connection exception
  '22': 'invalid', // data exception: out-of-range timestamp, bad number, NUL in text…
  '23': 'invalid', // integrity constraint violation
  '28': 'auth', // invalid authorization specification (wrong password, no pg_hba entry)
  '3D': 'config', // database does not exist
  '3F': 'config', // schema does not exist
  '42': 'config', // syntax / access rule: missing privilege, table dropped under us
  '53': 'server', // insufficient resources: disk full, too many connections
  '54': 'too-large', // program limit exceeded: splitting the batch is the first remedy
  '57': 'server', // operator intervention: shutdown, cannot connect now
  '40': 'server', // serialization failure / deadlock: retry
};

function isSqlState(code: unknown): code is string {
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

export function classifyPgError(err: unknown, what: string): SinkError {
  if (err instanceof SinkError) return err;
  const e = (err ?? {}) as PgLikeError;
  if (isSqlState(e.code) && typeof e.severity === 'string') {
    const sqlState = e.code;
    // 57014 is a statement_timeout cancel: the server is slow, not gone.
    const kind: SinkErrorKind = sqlState === '57014' ? 'timeout' : (BY_CLASS[sqlState.slice(0, 2)] ?? 'server');
    const detail = typeof e.detail === 'string' ? ` (${e.detail})` : '';
    return new SinkError(clip(`${what}: SQLSTATE ${sqlState} ${messageOf(err)}${detail}`), { kind, cause: err });
  }
  const transport = transportError(err, `${what}: postgres unreachable`);
  if (transport !== undefined) return transport;
  const msg = messageOf(err);
  if (/Query read timeout/i.test(msg)) return new SinkError(`${what}: query timed out`, { kind: 'timeout', cause: err });
  if (/timeout|terminated|connection error|not queryable|ECONNREFUSED/i.test(msg)) {
    // pg's "timeout exceeded when trying to connect", "Connection terminated unexpectedly", …
    return new SinkError(`${what}: postgres unreachable: ${msg}`, { kind: 'network', cause: err });
  }
  if (/password|SASL|authentication/i.test(msg)) return new SinkError(`${what}: ${msg}`, { kind: 'auth', cause: err });
  if (/SSL|certificate/i.test(msg)) return new SinkError(`${what}: ${msg}`, { kind: 'config', code: 'EDGE_SINK_TLS', cause: err });
  return new SinkError(`${what}: ${msg}`, { kind: 'server', cause: err });
}

/** Errors after which our tables may be gone (dropped, or a new database): run the DDL again. */
export function needsSchema(err: unknown): boolean {
  const code = (err as PgLikeError | null)?.code;
  return code === '42P01' || code === '3F000';
}
