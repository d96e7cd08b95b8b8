import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, prettyLogs, redactUrl } from '../../../agent/logger.js';

function capture(): { lines: () => Array<Record<string, unknown>>; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, lines: () => chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logger', () => {
  it('writes JSON lines with level names, and child loggers carry their component', () => {
    const out = capture();
    const log = createLogger({ level: 'info', destination: out.stream, base: { gateway: 'gw-1' } });
    log.child({ component: 'device', device: 'pump-1' }).warn({ code: 'EDGE_DEVICE_TIMEOUT' }, 'device not answering');
    log.debug('hidden');
    const [line, ...rest] = out.lines();
    expect(rest).toHaveLength(0);
    expect(line).toMatchObject({ level: 'warn', gateway: 'gw-1', component: 'device', device: 'pump-1', code: 'EDGE_DEVICE_TIMEOUT', msg: 'device not answering' });
  });

  it('redacts secrets wherever they travel', () => {
    const out = capture();
    const log = createLogger({ level: 'info', destination: out.stream });
    log.info({ token: 't0k3n', influx: { token: 't0k3n', url: 'http://x' }, sinks: { influx: { token: 't0k3n' } }, password: 'pw' }, 'settings');
    const text = JSON.stringify(out.lines());
    expect(text).not.toContain('t0k3n');
    expect(text).not.toContain('"pw"');
    expect(text).toContain('[redacted]');
    expect(text).toContain('http://x');
  });

  it('hides passwords and token parameters in URLs', () => {
    expect(redactUrl('postgres://edge:s3cret@db.example/telemetry')).toBe('postgres://edge:***@db.example/telemetry');
    expect(redactUrl('http://influx:8086/?token=abc&org=ops')).toBe('http://influx:8086/?token=***&org=ops');
    expect(redactUrl('http://influx:8086/')).toBe('http://influx:8086/');
  });

  it('is readable on a terminal only when log.format is auto, always with pretty, never with json', () => {
    expect(prettyLogs('auto', { isTTY: true })).toBe(true);
    expect(prettyLogs('auto', { isTTY: false })).toBe(false);
    expect(prettyLogs('auto', {})).toBe(false);
    expect(prettyLogs('pretty', {})).toBe(true);
    expect(prettyLogs('json', { isTTY: true })).toBe(false);
  });
});
