/**
 * PostgreSQL failures → SinkError. SQLSTATE classes decide for server errors (Appendix A of the
 * PostgreSQL manual); node-postgres' own errors (connect timeouts, dropped connections) have no
 * SQLSTATE and are recognised by their Node error code or message.
 */
import { clip, messageOf, transportError } from './classify.js';
import { SINK_AUTH_FAILED, SinkError, type SinkErrorKind } from './types.js';

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

/**
 * Configuration-class failures, each with its own code and the fix. PostgreSQL says which by
 * SQLSTATE; PgBouncer answers every refusal with 08P01 (protocol violation) and says which in the
 * message, so both are matched here — before class 08 would call it a network failure.
 */
const CONFIG_CLASS: Array<{ code: string; kind: SinkErrorKind; sqlState?: RegExp; message?: RegExp; fix: string }> = [
  {
    code: SINK_AUTH_FAILED,
    kind: 'auth',
    sqlState: /^28/,
    message: /password authentication failed|empty password|no such user|SASL authentication failed|not allowed to connect/i,
    fix: 'check the user and password in sinks.postgres.url against the server (pg_hba.conf) or the pooler (PgBouncer auth_file)',
  },
  {
    code: 'EDGE_SINK_DB_MISSING',
    kind: 'config',
    sqlState: /^3D000$/,
    message: /no such database|database "[^"]*" does not exist/i,
    fix: 'create the database, or correct its name in sinks.postgres.url (behind PgBouncer: list it under [databases])',
  },
  {
    code: 'EDGE_SINK_UNSUPPORTED_PARAMETER',
    kind: 'config',
    message: /unsupported startup parameter/i,
    fix: 'remove that parameter (e.g. options=) from sinks.postgres.url: the pooler refuses startup parameters it does not know',
  },
  {
    code: 'EDGE_SINK_PRIVILEGE',
    kind: 'config',
    sqlState: /^42501$/,
    fix: "grant the sink's user USAGE on the schema and SELECT, INSERT, UPDATE on its tables (or CREATE on the database, to let the agent make them)",
  },
];

function configClass(sqlState: string | undefined, msg: string): (typeof CONFIG_CLASS)[number] | undefined {
  return CONFIG_CLASS.find((c) => (sqlState !== undefined && c.sqlState?.test(sqlState)) || c.message?.test(msg));
}

function isSqlState(code: unknown): code is string {
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

export function classifyPgError(err: unknown, what: string): SinkError {
  if (err instanceof SinkError) return err;
  const e = (err ?? {}) as PgLikeError;
  if (isSqlState(e.code) && typeof e.severity === 'string') {
    const sqlState = e.code;
    const detail = typeof e.detail === 'string' ? ` (${e.detail})` : '';
    const cfg = configClass(sqlState, messageOf(err));
    if (cfg !== undefined) {
      return new SinkError(clip(`${what}: SQLSTATE ${sqlState} ${messageOf(err)}${detail}`), { kind: cfg.kind, code: cfg.code, fix: cfg.fix, cause: err });
    }
    // 57014 is a statement_timeout cancel: the server is slow, not gone.
    const kind: SinkErrorKind = sqlState === '57014' ? 'timeout' : (BY_CLASS[sqlState.slice(0, 2)] ?? 'server');
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
  if (/password|SASL|authentication/i.test(msg)) {
    const auth = CONFIG_CLASS[0] as (typeof CONFIG_CLASS)[number];
    return new SinkError(`${what}: ${msg}`, { kind: 'auth', code: auth.code, fix: auth.fix, cause: err });
  }
  if (/SSL|certificate/i.test(msg)) return new SinkError(`${what}: ${msg}`, { kind: 'config', code: 'EDGE_SINK_TLS', cause: err });
  return new SinkError(`${what}: ${msg}`, { kind: 'server', cause: err });
}

/** Errors after which our tables may be gone (dropped, or a new database): run the DDL again. */
export function needsSchema(err: unknown): boolean {
  const code = (err as PgLikeError | null)?.code;
  return code === '42P01' || code === '3F000';
}
