import { describe, expect, it } from 'vitest';
import { envPinnedSettings } from '../../../config/index.js';
import { doc, issues, ok } from './helpers.js';

describe('settings', () => {
  it('fills the documented defaults and falls back to the gateway id for the site', () => {
    expect(ok(doc()).settings).toEqual({
      gateway: { id: 'gw-1', site: 'gw-1', tags: {} },
      buffer: { path: './data/buffer.db', maxRows: 5_000_000, maxBytes: 1024 ** 3, whenFull: 'dropOldest', synchronous: 'normal', untrustedClock: 'restamp', commitInterval: 250,
        history: { enabled: true, step: 10_000, keep: 86_400_000, longStep: 60_000, longKeep: 604_800_000, maxRows: 1_000_000 },
      },
      sinks: { influx: { url: '', token: '', org: '', bucket: '' }, postgres: { url: '', schema: 'edge' } },
      http: { host: '127.0.0.1', port: 8080, token: '', maxConnections: 32, maxHeaderSize: 8192, maxUrlLength: 2048, headersTimeout: 10_000, requestTimeout: 30_000 },
      log: { level: 'info', format: 'auto' },
      central: {
        prefix: 'edge',
        url: '',
        username: '',
        password: '',
        ca: '',
        cert: '',
        key: '',
        publicKey: '',
        allowUnsigned: false,
        allowWrites: false,
        commandKey: '',
        commandMaxExpiry: 900_000,
        healthEvery: 60_000,
        applyTimeout: 30_000,
        stateDir: './data/central',
      },
    });
  });

  it('checks the central link: a URL needs a signing key (or an explicit allowUnsigned), cert and key go together', () => {
    const central = (c: Record<string, unknown>) => doc({ central: c });
    expect(issues(central({ url: 'mqtts://ops.example:8883' }))).toEqual([
      'central.publicKey: must be set when central.url is set (or set central.allowUnsigned: true, lab use only)',
    ]);
    expect(ok(central({ url: 'mqtts://ops.example:8883', allowUnsigned: true, healthEvery: '5m', applyTimeout: 10_000 })).settings.central).toMatchObject({
      healthEvery: 300_000,
      applyTimeout: 10_000,
    });
    expect(issues(central({ url: 'http://ops', publicKey: '/k.pub', cert: '/c.pem', allowUnsigned: 'yes', healthEvery: 'often' })).sort()).toEqual([
      'central.allowUnsigned: must be true or false (got "yes")',
      'central.healthEvery: invalid duration "often": use a number with a unit, e.g. 500ms, 10s, 5m, 1h (got "often")',
      'central.key: central.cert and central.key go together',
      'central.url: must start with mqtt:// or mqtts:// or ws:// or wss:// (got "http://ops")',
    ]);
    expect(issues(central({ password: 42 }))).toEqual(['central.password: must be text (in YAML, put it in quotes)']);
    // A CA with a plain URL would be unused and the password sent in clear.
    expect(issues(central({ url: 'mqtt://ops.example', allowUnsigned: true, ca: '/ca.pem' }))).toEqual(['central.url: central.ca is set but the URL is not TLS: write mqtts:// or wss://']);
    expect(ok(central({ url: 'mqtts://ops.example', allowUnsigned: true, ca: '/ca.pem' })).settings.central.ca).toBe('/ca.pem');
  });

  it('checks the central topic prefix', () => {
    expect(ok(doc({ central: { prefix: 'ops/eu-1' } })).settings.central.prefix).toBe('ops/eu-1');
    expect(issues(doc({ central: { prefix: 'ops/#' } }))).toEqual([
      'central.prefix: must be one or more topic levels of letters, digits, _ . - joined by /, without wildcards (got "ops/#")',
    ]);
  });

  it('takes the buffer bound as rows and as a size with units, and checks the policies', () => {
    const buffer = (b: Record<string, unknown>) => ok(doc({ buffer: b })).settings.buffer;
    expect(buffer({ maxBytes: '512MB', maxRows: 1000, whenFull: 'rejectNew', synchronous: 'full', untrustedClock: 'flag' })).toMatchObject({
      maxBytes: 512_000_000,
      maxRows: 1000,
      whenFull: 'rejectNew',
      synchronous: 'full',
      untrustedClock: 'flag',
    });
    expect(buffer({ maxBytes: '2GiB' }).maxBytes).toBe(2 * 1024 ** 3);
    expect(buffer({ maxBytes: 300_000 }).maxBytes).toBe(300_000);
    expect(issues(doc({ buffer: { maxBytes: '10kB', maxRows: 0, whenFull: 'dropNewest', synchronous: 'off', untrustedClock: 'ignore' } })).sort()).toEqual([
      'buffer.maxBytes: must be at least 64KiB (got "10kB")',
      'buffer.maxRows: must be a whole number, at least 1',
      'buffer.synchronous: must be one of normal, full (got "off")',
      'buffer.untrustedClock: must be one of restamp, flag (got "ignore")',
      'buffer.whenFull: must be one of dropOldest, rejectNew (got "dropNewest")',
    ]);
    expect(issues(doc({ buffer: { maxBytes: 'lots' } }))[0]).toMatch(/^buffer\.maxBytes: must be a size such as 512MB or 1GiB/);
    // The commit interval: a duration from 0 (a commit per poll cycle) to 10 s.
    expect(buffer({ commitInterval: '100ms' }).commitInterval).toBe(100);
    expect(buffer({ commitInterval: 0 }).commitInterval).toBe(0);
    expect(issues(doc({ buffer: { commitInterval: '1m' } }))[0]).toMatch(/^buffer\.commitInterval: must be at most 10s/);
    expect(issues(doc({ buffer: { commitInterval: 'soon' } }))[0]).toMatch(/^buffer\.commitInterval: invalid duration "soon"/);
  });

  it('requires a gateway id: a fleet cannot tell boxes apart by hostname defaults', () => {
    expect(issues({})).toEqual(['gateway.id: must be set (in the file or with EDGE_GATEWAY_ID)']);
    expect(issues({ gateway: { id: 'gw/1' } })[0]).toMatch(/^gateway\.id: must start with a letter or digit/);
  });

  it('stringifies gateway tag values and rejects nested ones at their path', () => {
    expect(ok(doc({ gateway: { id: 'g', tags: { zone: 3, pumped: true, region: 'maule' } } })).settings.gateway.tags).toEqual({
      zone: '3',
      pumped: 'true',
      region: 'maule',
    });
    expect(issues(doc({ gateway: { id: 'g', tags: { a: { b: 1 } } } }))).toEqual([
      'gateway.tags.a: a tag value must be text, a number or true/false (got a mapping)',
    ]);
    expect(issues(doc({ gateway: { id: 'g', tags: 'x' } }))).toEqual(['gateway.tags: must be a mapping (got "x")']);
  });

  it('enables a sink by its url, and then requires what it needs', () => {
    const base = { gateway: { id: 'g' } };
    expect(issues({ ...base, sinks: { influx: { url: 'https://influx.ops:8086' } } })).toEqual([
      'sinks.influx.org: must be set when sinks.influx.url is set',
      'sinks.influx.bucket: must be set when sinks.influx.url is set',
    ]);
    expect(issues({ ...base, sinks: { influx: { url: 'influx.ops:8086', org: 'o', bucket: 'b' } } })).toEqual([
      'sinks.influx.url: must start with http:// or https:// (got "influx.ops:8086")',
    ]);
    const config = ok({ ...base, sinks: { postgres: { url: 'postgres://edge@db/telemetry' } } });
    expect(config.settings.sinks.postgres).toEqual({ url: 'postgres://edge@db/telemetry', schema: 'edge' });
  });

  it('never echoes a sensitive value in an error', () => {
    const lines = issues(doc({ sinks: { postgres: { url: 'mysql://edge:hunter2@db/x' } } }));
    expect(lines).toEqual(['sinks.postgres.url: must start with postgres:// or postgresql://']);
  });

  it('checks the postgres schema as an SQL identifier and the port range', () => {
    expect(issues(doc({ sinks: { postgres: { schema: 'edge; drop' } }, http: { port: 70000 } })).sort()).toEqual([
      'http.port: must be a port number, 0 to 65535 (got 70000)',
      'sinks.postgres.schema: must be a lower-case SQL identifier (a-z, 0-9, _; not starting with a digit) (got "edge; drop")',
    ]);
  });

  it('reports unknown keys at their own path, with a hint for a typo', () => {
    expect(issues(doc({ gateway: { id: 'g', sitee: 'x' }, http: { extra: { deep: 1 } }, log: { levle: 'debug' } })).sort()).toEqual([
      "gateway.sitee: unknown key (did you mean 'site'?)",
      'http.extra: unknown key',
      "log.levle: unknown key (did you mean 'level'?)",
    ]);
  });

  it('reports a scalar where a section belongs (and the reverse), and takes an empty section as absent', () => {
    expect(issues(doc({ buffer: '/var/lib/buffer.db' }))).toEqual(['buffer: must be a mapping (got "/var/lib/buffer.db")']);
    expect(issues(doc({ http: { port: { number: 80 } } }))).toEqual(['http.port: must be a single value, not a mapping']);
    expect(issues(doc({ sinks: { influx: { token: null } } }))).toEqual(["sinks.influx.token: has no value (write '' or leave the key out)"]);
    expect(ok(doc({ sinks: null, log: null })).settings.log.level).toBe('info');
  });
});

describe('bootstrap keys from the environment', () => {
  const file = { gateway: { id: 'from-file' }, buffer: { path: '/file.db' }, http: { host: '0.0.0.0', port: 9000 }, log: { level: 'warn' } };

  it('override the file for exactly the bootstrap keys', () => {
    const env = { EDGE_GATEWAY_ID: 'from-env', EDGE_BUFFER_PATH: '/env.db', EDGE_LOG_LEVEL: 'debug', EDGE_HTTP_HOST: '10.0.0.1', EDGE_HTTP_PORT: '9100' };
    const s = ok(file, env).settings;
    expect(s.gateway.id).toBe('from-env');
    expect(s.buffer.path).toBe('/env.db');
    expect(s.log.level).toBe('debug');
    expect(s.http).toMatchObject({ host: '10.0.0.1', port: 9100, token: '' });
  });

  it('leave the file alone when unset or empty', () => {
    const s = ok(file, { EDGE_GATEWAY_ID: '', EDGE_LOG_LEVEL: undefined }).settings;
    expect(s.gateway.id).toBe('from-file');
    expect(s.log.level).toBe('warn');
  });

  it('do not exist for other keys (a secret comes in through ${VAR} instead)', () => {
    const s = ok(doc(), { EDGE_SINKS_INFLUX_TOKEN: 't', EDGE_GATEWAY_SITE: 'x', NODE_ENV: 'production' }).settings;
    expect(s.sinks.influx.token).toBe('');
    expect(s.gateway.site).toBe('gw-1');
  });

  it('are listed as pinned, so a config push can refuse to change them', () => {
    expect(envPinnedSettings({ EDGE_LOG_LEVEL: 'debug', EDGE_HTTP_PORT: '1', EDGE_GATEWAY_ID: '', PATH: '/bin' })).toEqual(['log.level', 'http.port']);
    expect(envPinnedSettings({})).toEqual([]);
  });

  it('say which variable a bad value came from', () => {
    expect(issues(file, { EDGE_LOG_LEVEL: 'LOUD' })).toEqual([
      'log.level: must be one of fatal, error, warn, info, debug, trace, silent (got "LOUD") (set by EDGE_LOG_LEVEL)',
    ]);
    expect(issues(file, { EDGE_HTTP_PORT: '80abc' })).toEqual(['http.port: must be a port number, 0 to 65535 (got "80abc" from EDGE_HTTP_PORT)']);
  });

  it('takes the local history settings as durations and refuses ones that do not fit together', () => {
    const h = ok(doc({ buffer: { history: { step: '1s', keep: '2h', longStep: '30s', longKeep: '3d', maxRows: 500 } } })).settings.buffer.history;
    expect(h).toEqual({ enabled: true, step: 1000, keep: 7_200_000, longStep: 30_000, longKeep: 259_200_000, maxRows: 500 });
    expect(ok(doc({ buffer: { history: { enabled: false } } })).settings.buffer.history.enabled).toBe(false);
    expect(issues(doc({ buffer: { history: { step: '500ms' } } }))).toEqual(['buffer.history.step: must be whole seconds, at least 1s (got "500ms")']);
    expect(issues(doc({ buffer: { history: { step: '10s', longStep: '15s' } } }))).toEqual(['buffer.history.longStep: must be a multiple of buffer.history.step (10s)']);
    expect(issues(doc({ buffer: { history: { keep: '8d' } } }))).toEqual(['buffer.history.longKeep: must be at least buffer.history.keep (the long history covers the fine one)']);
  });
});
