/**
 * pino, JSON on stdout (journald picks it up), a child logger per component, secrets redacted.
 * Redaction covers the keys secrets travel under and credentials inside URLs.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'token',
  'password',
  'secret',
  '*.token',
  '*.password',
  '*.secret',
  'sinks.influx.token',
  'settings.sinks.influx.token',
  'headers.authorization',
  '*.headers.authorization',
];

export function createLogger(opts: { level: LevelWithSilent; destination?: pino.DestinationStream; base?: Record<string, unknown> }): Logger {
  return pino(
    {
      level: opts.level,
      base: opts.base ?? {},
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    opts.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** `postgres://edge:s3cret@db/telemetry` → `postgres://edge:***@db/telemetry`, for logs and status. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    for (const key of [...u.searchParams.keys()]) {
      if (/token|password|secret|key/i.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
  }
}
