import { HttpError, RequestTimedOutError } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import { parseRetryAfter, systemErrorCode } from '../../../sinks/classify.js';
import { classifyInfluxError } from '../../../sinks/influx.js';
import { classifyPgError } from '../../../sinks/postgres-errors.js';
import { SinkError } from '../../../sinks/types.js';

/** The shape node-postgres gives a server error (pg.DatabaseError). */
function pgError(code: string, message = 'boom'): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' });
}

function sysError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code, syscall: 'connect' });
}

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, capped at an hour', () => {
    const now = Date.parse('2024-05-01T12:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter(['0'], now)).toBe(0);
    expect(parseRetryAfter('Wed, 01 May 2024 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('86400', now)).toBe(3_600_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('systemErrorCode', () => {
  it('finds the code through cause and AggregateError (Node tries IPv4 and IPv6)', () => {
    expect(systemErrorCode(sysError('ECONNREFUSED'))).toBe('ECONNREFUSED');
    expect(systemErrorCode(new AggregateError([new Error('x'), sysError('ECONNREFUSED')]))).toBe('ECONNREFUSED');
    expect(systemErrorCode(new Error('wrapped', { cause: sysError('EHOSTUNREACH') }))).toBe('EHOSTUNREACH');
    expect(systemErrorCode(new Error('plain'))).toBeUndefined();
  });
});

describe('classifyPgError', () => {
  it.each([
    ['22008', 'invalid', false],
    ['22P02', 'invalid', false],
    ['23502', 'invalid', false],
    ['42501', 'config', true],
    ['42P01', 'config', true],
    ['3D000', 'config', true],
    ['28P01', 'auth', true],
    ['53100', 'server', true],
    ['53300', 'server', true],
    ['54000', 'too-large', false],
    ['57P01', 'server', true],
    ['57014', 'timeout', true],
    ['08006', 'network', true],
    ['40001', 'server', true],
    ['XX000', 'server', true],
  ] as const)('SQLSTATE %s → %s', (code, kind, retryable) => {
    const e = classifyPgError(pgError(code), 'write');
    expect(e).toMatchObject({ kind, retryable });
    expect(e.message).toContain(`SQLSTATE ${code}`);
  });

  it.each([
    [sysError('ECONNREFUSED'), 'network'],
    [sysError('ENOTFOUND'), 'network'],
    [new Error('timeout exceeded when trying to connect'), 'network'],
    [new Error('Connection terminated due to connection timeout'), 'network'],
    [new Error('Connection terminated unexpectedly'), 'network'],
    [new Error('Query read timeout'), 'timeout'],
    [new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'), 'auth'],
    [new Error('The server does not support SSL connections'), 'config'],
    [new Error('something else'), 'server'],
  ] as const)('%s → %s', (err, kind) => {
    expect(classifyPgError(err, 'write')).toMatchObject({ kind, retryable: true });
  });

  it('passes a SinkError through', () => {
    const e = new SinkError('x', { kind: 'invalid' });
    expect(classifyPgError(e, 'write')).toBe(e);
  });
});

describe('classifyInfluxError', () => {
  it('maps HTTP errors with the status and Retry-After (seconds, as the header is)', () => {
    const e = classifyInfluxError(new HttpError(429, 'Too Many Requests', '{}', '3', 'application/json', undefined, { 'retry-after': '3' }));
    expect(e).toMatchObject({ kind: 'throttled', status: 429, retryAfterMs: 3000, retryable: true });
    expect(classifyInfluxError(new HttpError(400, 'Bad Request', 'unable to parse'))).toMatchObject({ kind: 'invalid', retryable: false });
    expect(classifyInfluxError(new HttpError(413, 'Too Large'))).toMatchObject({ kind: 'too-large', retryable: false });
  });

  it('maps timeouts, refused connections, TLS trouble and unknowns', () => {
    expect(classifyInfluxError(new RequestTimedOutError())).toMatchObject({ kind: 'timeout' });
    expect(classifyInfluxError(sysError('ECONNRESET'))).toMatchObject({ kind: 'network', code: 'EDGE_SINK_NETWORK' });
    expect(classifyInfluxError(sysError('CERT_HAS_EXPIRED'))).toMatchObject({ kind: 'config', code: 'EDGE_SINK_TLS', retryable: true });
    expect(classifyInfluxError(new Error('socket hang up'))).toMatchObject({ kind: 'network', retryable: true });
  });
});
