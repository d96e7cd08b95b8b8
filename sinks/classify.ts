/**
 * Error classification shared by the sinks: what counts as "could not reach the server", and how
 * to read a Retry-After header. Every sink turns each failure into a SinkError with these.
 */
import { SinkError, type SinkErrorKind } from './types.js';

/** Node socket/DNS error codes that mean the peer could not be reached or went away: retry later. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EADDRNOTAVAIL',
  'ESOCKETTIMEDOUT',
  'UND_ERR_SOCKET',
]);

/** Certificate and TLS set-up failures: an operator's fix (CA, hostname), so the data is kept. */
const TLS_CODE = /^(CERT_|ERR_TLS_|ERR_SSL_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(GET|VERIFY)_)/;

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The Node error code of a connection failure, looking through `cause` and AggregateError (Node
 * 20 tries IPv4 and IPv6 in turn and reports both failures together).
 */
export function systemErrorCode(err: unknown, depth = 0): string | undefined {
  if (err === null || typeof err !== 'object' || depth > 4) return undefined;
  const own = codeOf(err);
  if (own !== undefined && (NETWORK_CODES.has(own) || TLS_CODE.test(own))) return own;
  if (err instanceof AggregateError) {
    for (const e of err.errors) {
      const c = systemErrorCode(e, depth + 1);
      if (c !== undefined) return c;
    }
  }
  return systemErrorCode((err as { cause?: unknown }).cause, depth + 1);
}

/** A SinkError for a transport-level failure, or undefined when `err` is not one. */
export function transportError(err: unknown, what: string): SinkError | undefined {
  const code = systemErrorCode(err);
  if (code === undefined) return undefined;
  const kind: SinkErrorKind = NETWORK_CODES.has(code) ? 'network' : 'config';
  return new SinkError(`${what}: ${code} ${messageOf(err)}`.trim(), {
    kind,
    code: kind === 'network' ? 'EDGE_SINK_NETWORK' : 'EDGE_SINK_TLS',
    cause: err,
  });
}

/**
 * Retry-After in milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). Capped at an
 * hour so a confused server cannot park a sink for a day.
 */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  const s = v.trim();
  let ms: number;
  if (/^\d+$/.test(s)) ms = Number(s) * 1000;
  else {
    const at = Date.parse(s);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(0, ms), 3_600_000);
}

export function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.message === '') return err.errors.map(messageOf).join('; ');
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Keeps server-provided text short in logs and status. */
export function clip(s: string, max = 300): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
