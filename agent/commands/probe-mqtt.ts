// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/**
 * `edge-agent probe mqtt`: subscribes to a topic and prints every message as it arrives: the
 * topic, the segments a `{name}` pattern captures, the payload, and — with --path, or for a
 * configured device — the readings its points would get. For commissioning: what does this
 * sensor publish, and does my topic pattern and JSON path fit.
 */
import { brokerPort } from '../../config/broker.js';
import { mqttConnection, JSON_PATH, VALUE_TYPES } from '../../config/catalog.js';
import { fromZod, zodMessage } from '../../config/issues.js';
import { compileTopicPattern, topicPatternProblem } from '../../config/topic-pattern.js';
import type { MqttDevice, MqttPoint, ValueType } from '../../config/types.js';
import { MqttDriver, type MessageEvent } from '../../drivers/mqtt/driver.js';
import type { DriverLogger } from '../../drivers/modbus/deps.js';
import type { Reading } from '../../drivers/types.js';
import { clockTime, configuredDevice, countOption, durationOption, LISTEN_FLAGS, probeFlags, probeRequest, probeUntil, ProbeUsageError } from './probe-common.js';
import type { ProbeOutput } from './probe-common.js';

export const MQTT_PROBE_HELP = `Usage: edge-agent probe mqtt (--url URL | --config FILE [--device ID]) [options]

Subscribes and prints each message as it arrives: topic, captured segments, payload, and how
points would read it. Stops after --count messages, after --duration, or on Ctrl-C.

The broker:
      --url URL              mqtt://host:1883, mqtts://host:8883, ws://…, wss://…
  -u, --username NAME
      --password PW          or the environment variable EDGE_MQTT_PASSWORD (kept out of 'ps')
      --ca FILE              CA certificate for mqtts:// (PEM)
      --insecure             do not check the broker's certificate
What to show:
  -t, --topic PATTERN        MQTT filter, {name} captures a segment: 'ward/{ward}/bed/{bed}/#' (default #)
      --path P               read this JSON path from each payload: vitals.hr, list[0].v
      --type T               number, string or bool (default number with --path)
From the config (topic, points and broker of a configured MQTT device; for one on the embedded
broker, the probe connects to broker.host:broker.port with --username/--password):
  -c, --config FILE
      --device ID            which MQTT device (may be left out when there is one)
When to stop:
  -n, --count N              after N messages
      --duration T           after T, e.g. 30s (default: until Ctrl-C)
  -h, --help                 this text

Exit codes: 0 messages arrived, 1 none did, 2 usage error.
Example: edge-agent probe mqtt --url mqtt://127.0.0.1:1883 -u ops -t 'ward/{ward}/bed/{bed}/vitals' --path hr -n 5`;

const OPTIONS = {
  url: { type: 'string' },
  username: { type: 'string', short: 'u' },
  password: { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  topic: { type: 'string', short: 't' },
  path: { type: 'string' },
  type: { type: 'string' },
  ...LISTEN_FLAGS,
} as const;

export interface MqttProbeRequest {
  device: MqttDevice;
  /** Show readings (a path or a configured device), not only the payload. */
  readings: boolean;
  count?: number;
  durationMs?: number;
}

export function parseMqttProbe(argv: string[], env: NodeJS.ProcessEnv = process.env): MqttProbeRequest | 'help' {
  const values = probeFlags(argv, OPTIONS);
  if (values.help) return 'help';
  const count = countOption(values.count);
  const durationMs = durationOption('duration', values.duration);
  const password = values.password ?? env.EDGE_MQTT_PASSWORD;
  const stop = { ...(count === undefined ? {} : { count }), ...(durationMs === undefined ? {} : { durationMs }) };
  const credentials = { ...(values.username === undefined ? {} : { username: values.username }), ...(password === undefined ? {} : { password }) };

  if (values.config !== undefined) {
    const stray = (['topic', 'path', 'type'] as const).filter((k) => values[k] !== undefined);
    if (stray.length > 0) throw new ProbeUsageError(`${stray.map((k) => `--${k}`).join(', ')} come from the config with --config`);
    const { config, device } = configuredDevice(values.config, values.device, 'mqtt', env);
    let connection = device.connection;
    if (values.url !== undefined) connection = checkedConnection({ url: values.url, ...credentials, ...tlsOptions(values) });
    else if (connection === undefined) {
      const b = config.broker;
      if (b === undefined || !b.enabled) throw new ProbeUsageError(`device ${device.id} uses the embedded broker, but it is off: give --url`);
      const host = b.host === '0.0.0.0' || b.host === '::' ? '127.0.0.1' : b.host;
      const port = brokerPort(b);
      if (port === 0) throw new ProbeUsageError('the embedded broker listens on a random port (port: 0): give --url');
      connection = checkedConnection({
        url: `${b.tls === undefined ? 'mqtt' : 'mqtts'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
        ...credentials,
        ...tlsOptions({ ...values, ca: values.ca ?? b.tls?.ca ?? b.tls?.cert }),
      });
    } else if (values.username !== undefined || password !== undefined) {
      connection = { ...connection, ...credentials };
    }
    return { device: { ...device, connection }, readings: true, ...stop };
  }
  if (values.device !== undefined) throw new ProbeUsageError('--device goes with --config');
  if (values.url === undefined) throw new ProbeUsageError('missing --url URL (or --config FILE)');
  const connection = checkedConnection({ url: values.url, ...credentials, ...tlsOptions(values) });
  const topic = values.topic ?? '#';
  const problem = topicPatternProblem(topic);
  if (problem !== undefined) throw new ProbeUsageError(`--topic ${topic}: ${problem}`);
  if (values.path !== undefined && !JSON_PATH.test(values.path)) throw new ProbeUsageError(`--path ${values.path}: must be a JSON path like a.b[0].c`);
  if (values.type !== undefined && !(VALUE_TYPES as readonly string[]).includes(values.type)) throw new ProbeUsageError(`--type must be one of ${VALUE_TYPES.join(', ')}`);
  const { filter, captures } = compileTopicPattern(topic);
  const point: MqttPoint = {
    id: values.path ?? 'payload',
    deviceId: 'probe',
    measurement: 'probe',
    tags: {},
    topic,
    filter,
    captures,
    ...(values.path === undefined ? {} : { path: values.path }),
    type: (values.type as ValueType | undefined) ?? (values.path === undefined ? 'string' : 'number'),
  };
  const device: MqttDevice = { id: 'probe', driver: 'mqtt', qos: 0, connection, tags: {}, points: [point] };
  return { device, readings: values.path !== undefined || values.type !== undefined, ...stop };
}

function tlsOptions(values: { ca?: string | undefined; insecure?: boolean | undefined }): Record<string, unknown> {
  return { ...(values.ca === undefined ? {} : { ca: values.ca }), ...(values.insecure === true ? { rejectUnauthorized: false } : {}) };
}

function checkedConnection(given: Record<string, unknown>): NonNullable<MqttDevice['connection']> {
  const parsed = mqttConnection.safeParse(given, { error: zodMessage });
  if (!parsed.success) throw new ProbeUsageError(fromZod(parsed.error).map((i) => `--${i.path}: ${i.message}`).join('; '));
  return parsed.data;
}

/** One message as the probe prints it. */
export function formatMessage(e: MessageEvent, showReadings: boolean): string {
  const pad = ' '.repeat(14);
  const out = [`${clockTime(e.ts)}  ${e.topic}  ${showPayload(e.payload)}`];
  const tags = e.readings[0]?.tags;
  if (tags !== undefined) out.push(`${pad}captured: ${Object.entries(tags).map(([k, v]) => `${k}=${v}`).join('  ')}`);
  if (showReadings) out.push(`${pad}${e.readings.map(formatReading).join('  ')}`);
  return out.join('\n');
}

function formatReading(r: Reading): string {
  return r.quality === 'good' ? `${r.pointId}=${JSON.stringify(r.raw)}` : `${r.pointId}: ${r.error ?? 'bad'}${r.detail === undefined ? '' : ` (${r.detail})`}`;
}

function showPayload(payload: Buffer): string {
  const text = payload.toString('utf8');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text)) return `(binary, ${payload.length} bytes) ${payload.subarray(0, 32).toString('hex')}${payload.length > 32 ? '…' : ''}`;
  return text.length > 300 ? `${text.slice(0, 300)}… (${payload.length} bytes)` : text;
}

/** The driver's log lines, for a person at a terminal. */
function terminalLogger(out: ProbeOutput): DriverLogger {
  const line = (obj: Record<string, unknown>, msg: string) => {
    const detail = typeof obj.detail === 'string' ? `: ${obj.detail}` : '';
    return `${msg}${detail}`;
  };
  return {
    debug: () => {},
    info: (obj, msg) => out.log(line(obj, msg) + (Array.isArray(obj.filters) ? ` (subscribed to ${obj.filters.join(', ')})` : '')),
    warn: (obj, msg) => out.error(line(obj, msg)),
    error: (obj, msg) => out.error(line(obj, msg)),
  };
}

export async function probeMqtt(argv: string[], out: ProbeOutput = console, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const req = probeRequest('mqtt', MQTT_PROBE_HELP, () => parseMqttProbe(argv, env), out);
  if (typeof req === 'number') return req;
  const { device, readings } = req;
  const driver = new MqttDriver({ device, logger: terminalLogger(out), reconnect: { initialMs: 1000, maxMs: 10_000 } });
  const until = probeUntil({ count: req.count, durationMs: req.durationMs });
  let messages = 0;
  driver.onMessage((e) => {
    messages += 1;
    out.log(formatMessage(e, readings));
    until.seen();
  });
  await driver.start();
  const why = await until.done;
  await driver.stop();
  out.log(`${messages} message${messages === 1 ? '' : 's'}${why === 'time' ? ' (time up)' : ''}`);
  return messages > 0 ? 0 : 1;
}
