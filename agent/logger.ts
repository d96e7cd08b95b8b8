/**
 * pino, JSON on stdout (journald picks it up), a child logger per component, secrets redacted.
 * Redaction covers the keys secrets travel under and credentials inside URLs. On a terminal
 * (`npm start`, a technician running the agent by hand) the same events are written as one
 * readable line each through pino-pretty, loaded only then; journald, Docker and pipes get JSON.
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

/** Readable lines or JSON: `log.format`, where `auto` means readable exactly when the log goes to a terminal. */
export function prettyLogs(format: 'auto' | 'json' | 'pretty', out: { isTTY?: boolean }): boolean {
  return format === 'pretty' || (format === 'auto' && out.isTTY === true);
}

/**
 * A pino-pretty stream on `fd`, in this thread (no worker: a Pi has little memory to spare): one
 * line per event — time, level, message, then the event's fields as compact JSON.
 */
export async function prettyDestination(fd: 1 | 2, colorize: boolean): Promise<pino.DestinationStream> {
  const { default: pretty } = await import('pino-pretty');
  return pretty({
    destination: fd,
    sync: true,
    colorize,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    // the same gateway on every line, and pino's own noise; `err` is shown after the message
    ignore: 'pid,hostname,gateway,err',
    // pino-pretty would print an error as an indented block (with its stack) below the line: here it
    // ends the line instead, by its message (`log.format: json` keeps the stack)
    messageFormat: (log, messageKey) => {
      const msg = String(log[messageKey] ?? '');
      const err = log.err as { message?: unknown } | string | undefined;
      if (err === undefined) return msg;
      return `${msg}: ${typeof err === 'string' ? err : String(err.message ?? JSON.stringify(err))}`;
    },
  });
}
