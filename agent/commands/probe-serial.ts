// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/**
 * `edge-agent probe serial`: opens a serial port and prints every line as it arrives, with how
 * it parses — the fields a regex, key=value or CSV setting finds in it, and, for a configured
 * device, the readings its points would get. Optionally sends a command now and then, for a
 * device that only answers when asked. For commissioning: which baud rate, which delimiter,
 * does my regex match.
 */
import { lineParse, serialConnection } from '../../config/catalog.js';
import { fromZod, zodMessage } from '../../config/issues.js';
import { parseOf } from '../../config/resolve-fields.js';
import type { SerialDevice } from '../../config/types.js';
import { SerialLineDriver, type LineEvent } from '../../drivers/serial/driver.js';
import type { Reading } from '../../drivers/types.js';
import { clockTime, configuredDevice, countOption, durationOption, LISTEN_FLAGS, probeFlags, probeRequest, probeUntil, ProbeUsageError, unescape } from './probe-common.js';
import type { ProbeOutput } from './probe-common.js';

export const SERIAL_PROBE_HELP = `Usage: edge-agent probe serial (--path DEVICE | --config FILE [--device ID]) [options]

Opens a serial port and prints each line as it arrives, and how it parses: the fields found,
and with --config the readings of the device's points. Stops after --count lines, after
--duration, or on Ctrl-C. Stop the agent first: a serial port has one reader.

The port:
      --path DEVICE          e.g. /dev/ttyUSB0
      --baud-rate N          default 9600
      --data-bits N          5 to 8 (default 8)
      --parity P             none, even, odd, mark or space (default none)
      --stop-bits N          1, 1.5 or 2 (default 1)
      --delimiter S          what ends a line, escapes allowed: "\\r\\n" (default "\\n"; a trailing \\r is dropped)
How lines parse (optional; without one only the lines are shown):
      --regex RE             named groups are the fields: '^T=(?<temp>[-\\d.]+)'
      --key-value            T=21.5 H=40 (pairs split on spaces, ',' or ';')
      --csv                  comma-separated; --separator S, --columns a,b,c
Asking the device:
      --command TEXT         sent at once and then every --every (default 2s), escapes allowed: "READ\\r\\n"
From the config (port, parse, command and points of a configured serial device):
  -c, --config FILE
      --device ID            which serial device (may be left out when there is one)
When to stop:
  -n, --count N              after N lines
      --duration T           after T, e.g. 30s (default: until Ctrl-C)
  -h, --help                 this text

Exit codes: 0 lines arrived, 1 none did, 2 usage error.
Example: edge-agent probe serial --path /dev/ttyUSB0 --baud-rate 115200 --key-value -n 10`;

const OPTIONS = {
  path: { type: 'string' },
  'baud-rate': { type: 'string' },
  'data-bits': { type: 'string' },
  parity: { type: 'string' },
  'stop-bits': { type: 'string' },
  delimiter: { type: 'string' },
  regex: { type: 'string' },
  'key-value': { type: 'boolean' },
  csv: { type: 'boolean' },
  separator: { type: 'string' },
  columns: { type: 'string' },
  command: { type: 'string' },
  every: { type: 'string' },
  ...LISTEN_FLAGS,
} as const;

export interface SerialProbeRequest {
  device: SerialDevice;
  command?: string;
  everyMs: number;
  count?: number;
  durationMs?: number;
}

export function parseSerialProbe(argv: string[], env: NodeJS.ProcessEnv = process.env): SerialProbeRequest | 'help' {
  const values = probeFlags(argv, OPTIONS);
  if (values.help) return 'help';
  const count = countOption(values.count);
  const durationMs = durationOption('duration', values.duration);
  const everyGiven = durationOption('every', values.every);
  const command = values.command === undefined ? undefined : unescape(values.command);

  if (values.config !== undefined) {
    const stray = (['path', 'baud-rate', 'data-bits', 'parity', 'stop-bits', 'delimiter', 'regex', 'key-value', 'csv', 'separator', 'columns'] as const).filter((k) => values[k] !== undefined);
    if (stray.length > 0) throw new ProbeUsageError(`${stray.map((k) => `--${k}`).join(', ')} come from the config with --config`);
    const { device } = configuredDevice(values.config, values.device, 'serial', env);
    const everyMs = everyGiven ?? (device.schedule?.kind === 'every' ? device.schedule.everyMs : 2000);
    const cmd = command ?? device.command;
    // The probe reads as a streaming device, and sends the command itself.
    const { command: _ignored, schedule: _none, ...streaming } = device;
    return { device: streaming, ...(cmd === undefined ? {} : { command: cmd }), everyMs, ...(count === undefined ? {} : { count }), ...(durationMs === undefined ? {} : { durationMs }) };
  }
  if (values.device !== undefined) throw new ProbeUsageError('--device goes with --config');
  if (values.path === undefined) throw new ProbeUsageError('missing --path DEVICE (or --config FILE)');
  const int = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new ProbeUsageError(`--${name} takes a number (got ${v})`);
    return n;
  };
  const connection = serialConnection.safeParse(
    Object.fromEntries(
      Object.entries({
        path: values.path,
        baudRate: int('baud-rate', values['baud-rate']),
        dataBits: int('data-bits', values['data-bits']),
        parity: values.parity,
        stopBits: int('stop-bits', values['stop-bits']),
        delimiter: values.delimiter === undefined ? undefined : unescape(values.delimiter),
      }).filter(([, v]) => v !== undefined),
    ),
    { error: zodMessage },
  );
  if (!connection.success) throw new ProbeUsageError(fromZod(connection.error).map((i) => `--${flag(i.path)}: ${i.message}`).join('; '));
  const kinds = [values.regex !== undefined, values['key-value'] === true, values.csv === true].filter(Boolean).length;
  if (kinds > 1) throw new ProbeUsageError('give only one of --regex, --key-value or --csv');
  if ((values.separator !== undefined || values.columns !== undefined) && values.csv !== true) throw new ProbeUsageError('--separator and --columns go with --csv');
  const parseSettings = values.regex !== undefined
    ? { regex: values.regex }
    : values['key-value'] === true
      ? { keyValue: {} }
      : values.csv === true
        ? { csv: { ...(values.separator === undefined ? {} : { separator: unescape(values.separator) }), ...(values.columns === undefined ? {} : { columns: values.columns.split(',').map((c) => c.trim()) }) } }
        : undefined;
  let parse: SerialDevice['parse'] = { kind: 'regex', regex: '^(?<line>.*)$' };
  if (parseSettings !== undefined) {
    const parsed = lineParse.safeParse(parseSettings, { error: zodMessage });
    if (!parsed.success) throw new ProbeUsageError(fromZod(parsed.error).map((i) => `${i.path}: ${i.message}`).join('; '));
    parse = parseOf(parsed.data);
  }
  const device: SerialDevice = { id: 'probe', driver: 'serial', connection: connection.data, parse, tags: {}, points: [] };
  return { device, ...(command === undefined ? {} : { command }), everyMs: everyGiven ?? 2000, ...(count === undefined ? {} : { count }), ...(durationMs === undefined ? {} : { durationMs }) };
}

function flag(path: string): string {
  return ({ baudRate: 'baud-rate', dataBits: 'data-bits', stopBits: 'stop-bits' } as Record<string, string>)[path] ?? path;
}

/** One line as the probe prints it: the text, then its fields, then the points' readings. */
export function formatLine(e: LineEvent, device: Pick<SerialDevice, 'points' | 'parse'>, parsing: boolean): string {
  const out = [`${clockTime(e.ts)}  ${JSON.stringify(e.line)}`];
  if (!parsing) return out.join('\n');
  const pad = ' '.repeat(14);
  if (e.fields === undefined) {
    out.push(`${pad}does not parse (${describeParse(device.parse)})`);
    return out.join('\n');
  }
  const named = [...e.fields.entries()].filter(([k]) => device.parse.kind !== 'regex' || typeof k === 'string' || !hasNames(device.parse));
  out.push(`${pad}fields: ${named.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('  ') || '(none)'}`);
  if (device.points.length > 0) {
    out.push(e.readings === undefined ? `${pad}none of the points' fields (${device.points.map((p) => p.field).join(', ')}): garbage` : `${pad}${e.readings.map(formatReading).join('  ')}`);
  }
  return out.join('\n');
}

function formatReading(r: Reading): string {
  return r.quality === 'good' ? `${r.pointId}=${JSON.stringify(r.raw)}` : `${r.pointId}: ${r.error ?? 'bad'}${r.detail === undefined ? '' : ` (${r.detail})`}`;
}

function hasNames(parse: SerialDevice['parse']): boolean {
  return parse.kind === 'regex' && /\(\?<[A-Za-z_$]/.test(parse.regex);
}

function describeParse(parse: SerialDevice['parse']): string {
  switch (parse.kind) {
    case 'regex':
      return `regex ${parse.regex}`;
    case 'keyValue':
      return `no key${parse.valueSeparator}value pairs`;
    case 'csv':
      return `csv with ${parse.columns?.length ?? 'any number of'} columns`;
  }
}

export async function probeSerial(argv: string[], out: ProbeOutput = console, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const req = probeRequest('serial', SERIAL_PROBE_HELP, () => parseSerialProbe(argv, env), out);
  if (typeof req === 'number') return req;
  const { device } = req;
  const c = device.connection;
  const parsing = device.id !== 'probe' || !(device.parse.kind === 'regex' && device.parse.regex === '^(?<line>.*)$');
  const driver = new SerialLineDriver({ device, reopen: { initialMs: 1000, maxMs: 5000 } });
  const until = probeUntil({ count: req.count, durationMs: req.durationMs });
  let lines = 0;
  let unparsed = 0;
  driver.onLine((e) => {
    lines += 1;
    if (e.fields === undefined || (device.points.length > 0 && e.readings === undefined)) unparsed += 1;
    out.log(formatLine(e, device, parsing));
    until.seen();
  });
  out.log(`listening on ${c.path} (${c.baudRate} baud, ${c.dataBits}${c.parity[0]?.toUpperCase() ?? 'N'}${c.stopBits}, lines end with ${JSON.stringify(c.delimiter)})${req.command === undefined ? '' : `, sending ${JSON.stringify(req.command)} every ${req.everyMs} ms`}`);
  await driver.start();
  if (!driver.stats.open) out.error(`cannot open ${c.path} yet (${driver.stats.lastError ?? 'unknown error'}); retrying — is the agent still running, or the path wrong?`);
  let timer: NodeJS.Timeout | undefined;
  if (req.command !== undefined) {
    const command = req.command;
    const send = () => void driver.write(command);
    send();
    timer = setInterval(send, req.everyMs);
  }
  const why = await until.done;
  clearInterval(timer);
  await driver.stop();
  out.log(`${lines} line${lines === 1 ? '' : 's'}${parsing ? `, ${unparsed} not understood` : ''}${why === 'time' ? ' (time up)' : ''}`);
  return lines > 0 ? 0 : 1;
}
