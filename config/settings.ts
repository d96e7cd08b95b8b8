/**
 * Agent settings through convict: defaults < file < environment. Only the bootstrap keys — what
 * a box needs before it can reach central ops — are bound to environment variables, because a
 * key pinned by the environment cannot be changed by a config push (see envPinnedSettings).
 */
import convict from 'convict';
import { parseByteSize } from './byte-size.js';
import { parseDuration } from './duration.js';
import { ID_PATTERN } from './catalog.js';
import { ROOT, childPath, describeValue, unknownKey } from './issues.js';
import { reservedTagIssues } from './tags.js';
import type { ConfigIssue, Env, Settings } from './types.js';

/** A JSON Schema fragment (draft-07), as config/json-schema.ts writes it. */
export type JsonSchema = Record<string, unknown>;

export const SETTINGS_KEYS = ['gateway', 'buffer', 'sinks', 'http', 'log', 'central'] as const;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = Settings['log']['level'];
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = Settings['log']['format'];

/** The bootstrap keys and their environment variables. Nothing else reads the environment. */
export const SETTINGS_ENV = {
  'gateway.id': 'EDGE_GATEWAY_ID',
  'buffer.path': 'EDGE_BUFFER_PATH',
  'log.level': 'EDGE_LOG_LEVEL',
  'http.host': 'EDGE_HTTP_HOST',
  'http.port': 'EDGE_HTTP_PORT',
} as const;
export type BootstrapKey = keyof typeof SETTINGS_ENV;

const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * The settings keys the environment pins, in schema order. An empty variable counts as unset
 * (systemd's `Environment=EDGE_GATEWAY_ID=` should not blank the file's value).
 */
export function envPinnedSettings(env: Env): BootstrapKey[] {
  return (Object.keys(SETTINGS_ENV) as BootstrapKey[]).filter((key) => nonEmpty(env[SETTINGS_ENV[key]]));
}

export interface SettingsResult {
  /** Always filled (defaults where the input was unusable), so later checks can still run. */
  settings: Settings;
  issues: ConfigIssue[];
}

/** Validates the settings part of a document (`gateway`, `buffer`, `sinks`, `http`, `log`). */
export function loadSettings(input: Readonly<Record<string, unknown>>, env: Env): SettingsResult {
  const issues: ConfigIssue[] = [];
  const def = settingsSchema();
  const bootstrap = bootstrapEnv(env, issues);
  const config = convict<Settings>(def, { env: bootstrap, args: [] });
  try {
    config.load(usableSections(input, def as unknown as SchemaNode, ROOT, issues));
    config.validate({ allowed: 'strict' });
  } catch (err) {
    for (const issue of convictIssues((err as Error).message, def as unknown as SchemaNode)) {
      // Say where a bad value came from when it was not the file.
      const variable = SETTINGS_ENV[issue.path as BootstrapKey] as string | undefined;
      if (variable !== undefined && nonEmpty(bootstrap[variable])) issue.message += ` (set by ${variable})`;
      issues.push(issue);
    }
  }
  const settings = config.getProperties();
  settings.buffer.maxBytes = bytesOrDefault(settings.buffer.maxBytes);
  settings.buffer.commitInterval = msOr(settings.buffer.commitInterval, 250);
  const h = settings.buffer.history;
  h.step = msOr(h.step, 10_000);
  h.keep = msOr(h.keep, 86_400_000);
  h.longStep = msOr(h.longStep, 60_000);
  h.longKeep = msOr(h.longKeep, 7 * 86_400_000);
  settings.http.headersTimeout = msOr(settings.http.headersTimeout, 10_000);
  settings.http.requestTimeout = msOr(settings.http.requestTimeout, 30_000);
  settings.central.healthEvery = msOr(settings.central.healthEvery, 60_000);
  settings.central.applyTimeout = msOr(settings.central.applyTimeout, 30_000);
  settings.central.commandMaxExpiry = msOr(settings.central.commandMaxExpiry, 900_000);
  issues.push(...crossChecks(settings));
  settings.gateway.tags = gatewayTags(settings.gateway.tags, issues);
  if (settings.gateway.site === '') settings.gateway.site = settings.gateway.id;
  return { settings, issues };
}

export function settingsSchema(): convict.Schema<Settings> {
  return {
    gateway: {
      id: { doc: 'unique id of this gateway in the fleet', default: '', format: gatewayId, env: SETTINGS_ENV['gateway.id'] },
      site: { doc: 'site name; defaults to the gateway id', default: '', format: text },
      // 'Object' makes convict take the map as one value (checked entry by entry in gatewayTags)
      tags: { doc: 'tags on every point of this gateway', default: {}, format: 'Object' },
    },
    buffer: {
      path: { doc: 'SQLite store-and-forward file', default: './data/buffer.db', format: required, env: SETTINGS_ENV['buffer.path'] },
      maxRows: { doc: 'most points kept in the buffer', default: 5_000_000, format: positiveInteger },
      // bytes, or a size such as 1GiB / 512MB, normalised to bytes in loadSettings (a numeric
      // default would make convict coerce '512MB' to 512)
      maxBytes: { doc: 'most bytes of buffer file', default: '1GiB' as unknown as number, format: byteSize },
      whenFull: { doc: 'at the bound: dropOldest or rejectNew', default: 'dropOldest', format: oneOf(['dropOldest', 'rejectNew']) },
      synchronous: { doc: 'SQLite synchronous mode', default: 'normal', format: oneOf(['normal', 'full']) },
      untrustedClock: { doc: 'points read before the clock is trusted: restamp or flag', default: 'restamp', format: oneOf(['restamp', 'flag']) },
      commitInterval: {
        doc: 'readings are committed together at most this long after they were read (0: one commit per poll cycle); fewer, larger commits wear an SD card less',
        default: '250ms' as unknown as number,
        format: commitInterval,
      },
      // The local history (status page trends, GET /history): durations normalised to ms in loadSettings.
      history: {
        enabled: { doc: 'keep a local min/avg/max history of every numeric point in the buffer file', default: true, format: trueOrFalse },
        step: { doc: 'bucket width of the fine history', default: '10s' as unknown as number, format: historyDuration },
        keep: { doc: 'how long fine buckets are kept', default: '24h' as unknown as number, format: historyDuration },
        longStep: { doc: 'bucket width of the long history (a multiple of step)', default: '1m' as unknown as number, format: historyDuration },
        longKeep: { doc: 'how long long buckets are kept', default: '7d' as unknown as number, format: historyDuration },
        maxRows: { doc: 'most history rows kept (about 45 bytes each); past it the oldest fine rows go first', default: 1_000_000, format: positiveInteger },
      },
    },
    sinks: {
      influx: {
        url: { doc: 'InfluxDB v2 base URL; empty disables the sink', default: '', format: urlOf(['http:', 'https:']) },
        token: { default: '', format: text, sensitive: true },
        org: { default: '', format: text },
        bucket: { default: '', format: text },
      },
      postgres: {
        // sensitive: a connection URL may hold a password
        url: { doc: 'PostgreSQL URL; empty disables the sink', default: '', format: urlOf(['postgres:', 'postgresql:']), sensitive: true },
        schema: { default: 'edge', format: sqlIdentifier },
      },
    },
    http: {
      host: { default: '127.0.0.1', format: required, env: SETTINGS_ENV['http.host'] },
      port: { default: 8080, format: port, env: SETTINGS_ENV['http.port'] },
      // Not bound to the environment (not a bootstrap key): write `token: ${HTTP_TOKEN}` in the file.
      token: { doc: 'bearer token for /metrics and /status; empty: no authentication', default: '', format: text, sensitive: true },
      // Bounds against broken and hostile clients (docs: README "HTTP limits"). Durations normalised to ms in loadSettings.
      maxConnections: { doc: 'connections at once; past it the oldest one without a request in progress is closed (slow clients cannot lock the page out)', default: 32, format: positiveInteger },
      maxHeaderSize: { doc: 'most bytes of request line and headers (431 past it)', default: 8192, format: headerSize },
      maxUrlLength: { doc: 'most characters of the request target, path and query (414 past it)', default: 2048, format: positiveInteger },
      headersTimeout: { doc: 'how long a client has to send its request headers', default: '10s' as unknown as number, format: duration },
      requestTimeout: { doc: 'how long a client has to send its whole request', default: '30s' as unknown as number, format: duration },
    },
    log: {
      level: { default: 'info', format: logLevel, env: SETTINGS_ENV['log.level'] },
      // auto: readable lines when the log goes to a terminal, JSON lines for journald, Docker and pipes
      format: { doc: 'auto (readable on a terminal, else JSON), json or pretty', default: 'auto', format: oneOf(LOG_FORMATS) },
    },
    central: {
      // Topic root of everything the gateway publishes for ops: <prefix>/<gateway>/state, …/alerts/…
      prefix: { doc: 'MQTT topic prefix for central ops and alerts', default: 'edge', format: topicPrefix },
      // The ops link (agent/central). The whole section is local: a config push never changes it
      // (a push that breaks the link could not be undone remotely).
      url: { doc: 'central MQTT broker (mqtt://, mqtts://, ws://, wss://); empty: no ops link', default: '', format: urlOf(['mqtt:', 'mqtts:', 'ws:', 'wss:']) },
      username: { default: '', format: text },
      password: { default: '', format: text, sensitive: true },
      ca: { doc: 'PEM file of the CA that signed the broker certificate', default: '', format: text },
      cert: { doc: 'PEM client certificate (with key)', default: '', format: text },
      key: { doc: 'PEM client private key (with cert)', default: '', format: text },
      publicKey: { doc: 'PEM Ed25519 public key that config pushes must be signed with', default: '', format: text },
      allowUnsigned: { doc: 'accept config pushes without a signature (lab use only)', default: false, format: trueOrFalse },
      // Writes to field devices from central (request/points/write): off unless asked for, always signed (allowUnsigned never applies).
      allowWrites: { doc: 'accept signed request/points/write commands from central ops', default: false, format: trueOrFalse },
      commandKey: { doc: 'PEM Ed25519 public key that write commands must be signed with; empty: central.publicKey', default: '', format: text },
      commandMaxExpiry: { doc: 'how far ahead a signed write may expire; a later expires is refused', default: '15m' as unknown as number, format: duration },
      // Durations, normalised to ms in loadSettings (like buffer.maxBytes).
      healthEvery: { doc: 'how often health is published', default: '60s' as unknown as number, format: duration },
      applyTimeout: { doc: 'how long a pushed config has to come up before it is rolled back', default: '30s' as unknown as number, format: duration },
      stateDir: { doc: 'where pushed configs and the last-known-good are kept', default: './data/central', format: required },
    },
  };
}

// Format checks. convict appends ": value was …" itself (except for sensitive keys), so the
// messages here never repeat the value. Each carries the JSON Schema of what it accepts
// (`jsonSchemaOf`), from which config/json-schema.ts writes the schema editors use.
type Format = (value: unknown) => void;
const FORMAT_JSON = new WeakMap<Format, JsonSchema>();
function described<F extends Format>(format: F, json: JsonSchema): F {
  FORMAT_JSON.set(format, json);
  return format;
}
/** A text setting may also be written `${VAR}` (config/substitute.ts), whatever its own pattern. */
const ENV_REFERENCE: JsonSchema = { type: 'string', pattern: '\\$\\{' };
const textMatching = (pattern: string): JsonSchema => ({ anyOf: [{ type: 'string', pattern }, ENV_REFERENCE] });
const DURATION_JSON: JsonSchema = { anyOf: [{ type: 'string', pattern: '^\\s*(\\d+(\\.\\d+)?|(\\d+(\\.\\d+)?(ms|s|m|h|d))+)\\s*$' }, { type: 'number', minimum: 0 }] };

/** What a convict format accepts, as JSON Schema; undefined for formats given by name ('Object'). */
export function jsonSchemaOf(format: unknown): JsonSchema | undefined {
  return typeof format === 'function' ? FORMAT_JSON.get(format as Format) : undefined;
}

const text = described((value: unknown): void => {
  if (value === null) throw new Error(`has no value (write '' or leave the key out)`);
  if (typeof value !== 'string') throw new Error(`must be text (in YAML, put it in quotes)`);
}, { type: 'string' });
const required = described((value: unknown): void => {
  text(value);
  if (value === '') throw new Error('must be set');
}, { type: 'string', minLength: 1 });
const gatewayId = described((value: unknown): void => {
  text(value);
  if (value === '') throw new Error(`must be set (in the file or with ${SETTINGS_ENV['gateway.id']})`);
  if (!ID_PATTERN.test(value as string)) throw new Error(`must start with a letter or digit and hold only letters, digits, '_', '.', ':' or '-'`);
}, textMatching(ID_PATTERN.source));
const sqlIdentifier = described((value: unknown): void => {
  text(value);
  if (!SQL_IDENTIFIER.test(value as string)) throw new Error('must be a lower-case SQL identifier (a-z, 0-9, _; not starting with a digit)');
}, textMatching(SQL_IDENTIFIER.source));
const port = described((value: unknown): void => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) throw new Error('must be a port number, 0 to 65535');
}, { type: 'integer', minimum: 0, maximum: 65535 });
const positiveInteger = described((value: unknown): void => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new Error('must be a whole number, at least 1');
}, { type: 'integer', minimum: 1 });
/** node:http's own floor and ceiling are sane ones: below 1 KiB a browser's cookies do not fit. */
const headerSize = described((value: unknown): void => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1024 || value > 1024 * 1024) throw new Error('must be a whole number of bytes, 1024 to 1048576');
}, { type: 'integer', minimum: 1024, maximum: 1048576 });
const byteSize = described((value: unknown): void => {
  if (parseByteSize(value) < MIN_BUFFER_BYTES) throw new Error('must be at least 64KiB');
}, { anyOf: [{ type: 'integer', minimum: 65536 }, { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*([kKmMgGtT]i?[bB]|[bB])?\\s*$' }] });
function oneOf(values: readonly string[]): Format {
  return described((value) => {
    if (!values.includes(value as string)) throw new Error(`must be one of ${values.join(', ')}`);
  }, { type: 'string', enum: [...values] });
}
const TOPIC_PREFIX = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;
const topicPrefix = described((value: unknown): void => {
  text(value);
  if (!TOPIC_PREFIX.test(value as string)) throw new Error('must be one or more topic levels of letters, digits, _ . - joined by /, without wildcards');
}, textMatching(TOPIC_PREFIX.source));
const trueOrFalse = described((value: unknown): void => {
  if (typeof value !== 'boolean') throw new Error('must be true or false');
}, { type: 'boolean' });
const duration = described((value: unknown): void => {
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error('must be a duration such as 30s or 5m');
  if (parseDuration(value) < 1) throw new Error('must be longer than 0');
}, DURATION_JSON);
/** 0 (a commit per poll cycle) up to 10 s: longer would put more readings at risk than a Pi's SD card saves. */
const commitInterval = described((value: unknown): void => {
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error('must be a duration such as 250ms, or 0');
  if (parseDuration(value) > 10_000) throw new Error('must be at most 10s (readings wait this long to be committed; a crash loses at most that much)');
}, DURATION_JSON);
/** Whole seconds, at least 1 s: a bucket per reading of a fast poll would be no summary at all. */
const historyDuration = described((value: unknown): void => {
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error('must be a duration such as 10s, 1m or 7d');
  const ms = parseDuration(value);
  if (ms < 1000 || ms % 1000 !== 0) throw new Error('must be whole seconds, at least 1s');
}, DURATION_JSON);
const logLevel = described((value: unknown): void => {
  if (!(LOG_LEVELS as readonly unknown[]).includes(value)) throw new Error(`must be one of ${LOG_LEVELS.join(', ')}`);
}, { type: 'string', enum: [...LOG_LEVELS] });
function urlOf(protocols: readonly string[]): Format {
  const schemes = protocols.map((p) => p.slice(0, -1)).join('|');
  return described((value) => {
    text(value);
    if (value === '') return; // empty: the sink is off
    let url: URL;
    try {
      url = new URL(value as string);
    } catch {
      throw new Error(`must be a URL (${protocols.map((p) => `${p}//…`).join(' or ')})`);
    }
    if (!protocols.includes(url.protocol)) throw new Error(`must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }, { anyOf: [{ type: 'string', maxLength: 0 }, { type: 'string', pattern: `^(${schemes})://` }, ENV_REFERENCE] });
}

const MIN_BUFFER_BYTES = 64 * 1024;
function bytesOrDefault(value: unknown): number {
  try {
    return Math.max(parseByteSize(value), MIN_BUFFER_BYTES);
  } catch {
    return 1024 ** 3; // already reported as an issue
  }
}

function msOr(value: unknown, fallback: number): number {
  try {
    return parseDuration(value as string | number);
  } catch {
    return fallback; // already reported as an issue
  }
}

function nonEmpty(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

/** Only the bootstrap variables reach convict, and a port that is not a number is reported here. */
function bootstrapEnv(env: Env, issues: ConfigIssue[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(SETTINGS_ENV) as BootstrapKey[]) {
    const name = SETTINGS_ENV[key];
    const value = env[name];
    if (!nonEmpty(value)) continue;
    // convict would parseInt "80abc" into 80; a mistyped port must not pass.
    if (key === 'http.port' && !/^\d+$/.test(value.trim())) {
      issues.push({ path: key, message: `must be a port number, 0 to 65535 (got ${JSON.stringify(value)} from ${name})` });
      continue;
    }
    out[name] = value;
  }
  return out;
}

/** A slice of convict's normalized schema: sections have children, leaves have a default. */
type SchemaNode = { [key: string]: SchemaNode | { default: unknown } };

function isSection(node: unknown): node is SchemaNode {
  return typeof node === 'object' && node !== null && !('default' in node);
}
function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * convict treats a scalar where a section belongs as a leaf and then reports confusing
 * "missing from config" errors; a scalar `tags` even makes it throw. Such values are reported
 * here and left out. A null section (`sinks:` with its children commented out) means "absent".
 */
function usableSections(input: Readonly<Record<string, unknown>>, node: SchemaNode, path: string, issues: ConfigIssue[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const child = node[key];
    const at = childPath(path, key);
    if (isSection(child)) {
      if (value === null) continue;
      if (!isMapping(value)) {
        issues.push({ path: at, message: `must be a mapping (got ${describeValue(value)})` });
        continue;
      }
      out[key] = usableSections(value, child, at, issues);
    } else if (child !== undefined && isMapping(child.default) !== isMapping(value)) {
      // A map where a single value belongs (or the reverse) would make convict report
      // "missing from config" riddles, or throw.
      issues.push({ path: at, message: isMapping(child.default) ? `must be a mapping (got ${describeValue(value)})` : `must be a single value, not ${describeValue(value)}` });
    } else if (child !== undefined && typeof child.default === 'boolean' && typeof value !== 'boolean') {
      // convict would coerce any text but "false" to true: `allowUnsigned: "no"` must not turn a check off.
      issues.push({ path: at, message: `must be true or false (got ${describeValue(value)})` });
    } else {
      out[key] = value;
    }
  }
  return out;
}

const UNDECLARED = /^configuration param '(.+)' not declared in the schema$/;
const MISSING = /^configuration param '(.+)' missing from config/;

/** convict throws one Error with a line per problem: `path: message[: value was X]`. */
function convictIssues(text: string, schema: SchemaNode): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let issue: ConfigIssue;
    const undeclared = UNDECLARED.exec(line);
    const missing = MISSING.exec(line);
    if (undeclared?.[1] !== undefined) {
      issue = undeclaredKey(undeclared[1], schema);
    } else if (missing?.[1] !== undefined) {
      issue = { path: missing[1], message: 'missing: its section was replaced by a single value' };
    } else {
      const colon = line.indexOf(': ');
      if (colon === -1) issue = { path: ROOT, message: line };
      else {
        const path = line.slice(0, colon);
        let message = line.slice(colon + 2);
        const at = message.lastIndexOf(': value was ');
        if (at !== -1) message = `${message.slice(0, at)} (got ${message.slice(at + ': value was '.length)})`;
        issue = { path, message };
      }
    }
    const key = `${issue.path}\0${issue.message}`;
    if (!seen.has(key)) out.push(issue);
    seen.add(key);
  }
  return out;
}

/** `gateway.foo.bar` undeclared → the issue belongs at `gateway.foo`, the first unknown key. */
function undeclaredKey(dotted: string, schema: SchemaNode): ConfigIssue {
  const parts = dotted.split('.');
  let node: SchemaNode = schema;
  let path = ROOT;
  for (const part of parts) {
    const child = node[part];
    path = childPath(path, part);
    if (!isSection(child)) return child === undefined ? unknownKey(path, part, Object.keys(node)) : { path, message: 'unknown key' };
    node = child;
  }
  return { path, message: 'unknown key' };
}

function crossChecks(s: Settings): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const { influx } = s.sinks;
  // A sink is on when its URL is set; then the rest of what it needs must be there too.
  if (influx.url !== '') {
    for (const key of ['org', 'bucket'] as const) {
      if (influx[key] === '') issues.push({ path: `sinks.influx.${key}`, message: 'must be set when sinks.influx.url is set' });
    }
  }
  const h = s.buffer.history;
  if (h.longStep % h.step !== 0) issues.push({ path: 'buffer.history.longStep', message: `must be a multiple of buffer.history.step (${h.step / 1000}s)` });
  if (s.http.headersTimeout > s.http.requestTimeout) issues.push({ path: 'http.headersTimeout', message: 'must be at most http.requestTimeout (the headers are part of the request)' });
  if (h.keep < h.step) issues.push({ path: 'buffer.history.keep', message: 'must be at least buffer.history.step' });
  if (h.longKeep < h.keep) issues.push({ path: 'buffer.history.longKeep', message: 'must be at least buffer.history.keep (the long history covers the fine one)' });
  const c = s.central;
  // Validate, then connect: an ops link that would refuse every push is a config error, not a surprise later.
  if (c.url !== '' && c.publicKey === '' && !c.allowUnsigned) {
    issues.push({ path: 'central.publicKey', message: 'must be set when central.url is set (or set central.allowUnsigned: true, lab use only)' });
  }
  if (c.allowWrites && c.commandKey === '' && c.publicKey === '') {
    issues.push({ path: 'central.commandKey', message: 'must be set when central.allowWrites is true (or set central.publicKey): writes are always signed' });
  }
  if ((c.cert === '') !== (c.key === '')) issues.push({ path: c.cert === '' ? 'central.cert' : 'central.key', message: 'central.cert and central.key go together' });
  // A CA or client certificate with a plain URL would be silently unused, and the password sent in clear.
  if (/^(mqtt|ws):/i.test(c.url) && (c.ca !== '' || c.cert !== '')) {
    issues.push({ path: 'central.url', message: `central.${c.ca !== '' ? 'ca' : 'cert'} is set but the URL is not TLS: write mqtts:// or wss://` });
  }
  return issues;
}

/** Tag values are strings on the wire; numbers and booleans written in YAML are stringified. */
function gatewayTags(tags: Record<string, unknown>, issues: ConfigIssue[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isMapping(tags)) return out;
  for (const [key, value] of Object.entries(tags)) {
    const path = childPath('gateway.tags', key);
    if (key === '') issues.push({ path, message: 'a tag name must not be empty' });
    else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
    else issues.push({ path, message: `a tag value must be text, a number or true/false (got ${describeValue(value)})` });
  }
  issues.push(...reservedTagIssues(out, 'gateway.tags'));
  return out;
}
