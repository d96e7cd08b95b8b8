import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_INVALID, ConfigError, checkConfig, loadConfig, summarize } from '../../../config/index.js';
import type { ConfigIssue } from '../../../config/types.js';
import { POINT_TYPES } from '../../../config/catalog.js';
import { device, doc, issues, ok } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-config-'));
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const lines = (r: ReturnType<typeof checkConfig>) => (r.ok ? [] : r.issues.map((i: ConfigIssue) => `${i.path}: ${i.message}`));

const YAML = `# a pumping station
gateway:
  id: gw-pozo-17
  site: pozo-17
  tags: { region: maule }
buffer: { path: /var/lib/edge-agent/buffer.db }
sinks:
  influx: { url: "https://influx.ops:8086", org: ops, bucket: telemetry, token: "\${INFLUX_TOKEN}" }
  postgres: { url: "postgres://edge@db.ops/telemetry", schema: edge }
templates:
  flowmeter-x:
    measurement: flow
    points:
      flow:  { register: holding, address: 0, type: float32, order: CDAB, unit: m3/h }
      total: { register: holding, address: 2, type: uint32, unit: m3 }
devices:
  - id: pump-1
    driver: modbus
    connection: { protocol: tcp, host: 192.168.1.50, port: 502, unitId: 1, timeout: 1s }
    every: 10s
    template: flowmeter-x
    tags: { well: W-17 }
    points:
      flow: { scale: 0.1 }
  - id: pump-2
    driver: modbus
    connection: { protocol: tcp, host: 192.168.1.51 }
    cron: "*/5 * * * *"
    template: flowmeter-x
simulators:
  - { type: well-pump, port: 5020 }
`;

const JSON_TEXT = JSON.stringify({
  gateway: { id: 'gw-pozo-17', site: 'pozo-17', tags: { region: 'maule' } },
  buffer: { path: '/var/lib/edge-agent/buffer.db' },
  sinks: {
    influx: { url: 'https://influx.ops:8086', org: 'ops', bucket: 'telemetry', token: '${INFLUX_TOKEN}' },
    postgres: { url: 'postgres://edge@db.ops/telemetry', schema: 'edge' },
  },
  templates: {
    'flowmeter-x': {
      measurement: 'flow',
      points: {
        flow: { register: 'holding', address: 0, type: 'float32', order: 'CDAB', unit: 'm3/h' },
        total: { register: 'holding', address: 2, type: 'uint32', unit: 'm3' },
      },
    },
  },
  devices: [
    {
      id: 'pump-1',
      driver: 'modbus',
      connection: { protocol: 'tcp', host: '192.168.1.50', port: 502, unitId: 1, timeout: '1s' },
      every: '10s',
      template: 'flowmeter-x',
      tags: { well: 'W-17' },
      points: { flow: { scale: 0.1 } },
    },
    { id: 'pump-2', driver: 'modbus', connection: { protocol: 'tcp', host: '192.168.1.51' }, cron: '*/5 * * * *', template: 'flowmeter-x' },
  ],
  simulators: [{ type: 'well-pump', port: 5020 }],
}, null, 2);

const env = { INFLUX_TOKEN: 'tok' };

describe('loading a file', () => {
  it('reads YAML and JSON files to identical configs', () => {
    const fromYaml = loadConfig({ file: write('site.yaml', YAML), env });
    const fromJson = loadConfig({ file: write('site.json', JSON_TEXT), env });
    expect(fromYaml.source).toMatch(/site\.yaml$/);
    expect({ ...fromJson, source: '' }).toEqual({ ...fromYaml, source: '' });
    expect(fromYaml.devices[0]?.connection).toEqual({ protocol: 'tcp', host: '192.168.1.50', port: 502, unitId: 1, timeout: 1000 });
    expect(fromYaml.devices[0]?.points[0]).toMatchObject({ id: 'flow', measurement: 'flow', scale: 0.1, tags: { region: 'maule', well: 'W-17', point: 'flow' } });
    expect(fromYaml.settings.sinks.influx.token).toBe('tok');
    expect(fromYaml.simulators).toEqual([{ type: 'well-pump', host: '127.0.0.1', port: 5020, unitId: 1 }]);
  });

  it('reports the same issues for the same mistakes in YAML and in JSON', () => {
    const brokenYaml = YAML.replace('every: 10s', 'every: 10 seconds').replace('type: uint32', 'type: uint33').replace('tags: { well: W-17 }', 'tags: { well: W-17, site: x }');
    const brokenJson = JSON_TEXT.replace('"every": "10s"', '"every": "10 seconds"').replace('"type": "uint32"', '"type": "uint33"').replace('"well": "W-17"', '"well": "W-17", "site": "x"');
    const fromYaml = lines(checkConfig({ text: brokenYaml, format: 'yaml', env }));
    expect(fromYaml).toHaveLength(3);
    expect(lines(checkConfig({ text: brokenJson, format: 'json', env }))).toEqual(fromYaml);
  });

  it('reads .yml, and text with an explicit format', () => {
    expect(summarize(loadConfig({ file: write('site.yml', YAML), env }))).toBe('2 devices, 4 points');
    expect(loadConfig({ text: JSON_TEXT, format: 'json', env }).source).toBe('<text>');
  });

  it('reports a YAML syntax error with its line and column', () => {
    const r = checkConfig({ text: 'gateway:\n  id: gw-1\ndevices:\n  - id: a\n    id: b\n', env });
    expect(lines(r)).toEqual(['line 5:5: Map keys must be unique']);
    const unclosed = checkConfig({ file: write('broken.yaml', 'gateway: { id: gw-1\nbuffer: {}\n'), env });
    expect(lines(unclosed)[0]).toMatch(/^line 2:1: /);
  });

  it('reports a JSON syntax error and a duplicate key with their line', () => {
    expect(lines(checkConfig({ file: write('bad.json', '{\n  "gateway": { "id": "g" }\n  "buffer": {}\n}'), env }))[0]).toMatch(/^line 3:3: Expected ','/);
    expect(lines(checkConfig({ file: write('dup.json', '{\n "gateway": {"id": "a"},\n "gateway": {"id": "b"}\n}'), env }))).toEqual(['line 3:2: duplicate key']);
  });

  it('reports a file it cannot read, an empty file and a document that is not a mapping', () => {
    expect(lines(checkConfig({ file: join(dir, 'missing.yaml'), env }))[0]).toMatch(/^\(root\): cannot read .*missing\.yaml: ENOENT/);
    expect(lines(checkConfig({ text: '# nothing yet\n', env }))).toEqual(['gateway.id: must be set (in the file or with EDGE_GATEWAY_ID)']);
    expect(lines(checkConfig({ text: '- a\n- b\n', env }))).toEqual(['(root): must be a mapping of settings and devices (got a list)']);
  });

  it('throws a ConfigError with a stable code and every issue on its own line', () => {
    let error: unknown;
    try {
      loadConfig({ text: 'gateway: {}\nfoo: 1\n', env });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.code).toBe(CONFIG_INVALID);
    expect(e.code).toBe('EDGE_CONFIG_INVALID');
    expect(e.issues.map((i) => i.path)).toEqual(['foo', 'gateway.id']);
    expect(e.message.split('\n')).toEqual([
      '<text>: configuration invalid, 2 errors:',
      '  foo: unknown key',
      '  gateway.id: must be set (in the file or with EDGE_GATEWAY_ID)',
    ]);
  });
});

describe('all errors at once', () => {
  it('lists every mistake of a broken file: settings, schema, template merge, schedule', () => {
    const text = `gateway: { id: gw-1, colour: red }
buffer: { path: /tmp/b.db }
sinks: { postgres: { schema: Edge } }
extra: true
templates:
  meter:
    points:
      flow: { register: holding, address: 0, type: float33 }
      total: { register: holding, type: uint32 }
devices:
  - id: pump-1
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: 70000 }
    every: 10 seconds
    template: meter
  - id: pump-2
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1 }
    every: 1s
    template: nope
    points:
      level: { register: holding, type: int16 }
  - id: pump-1
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, speed: 9600 }
    cron: "61 * * * *"
`;
    const r = checkConfig({ file: write('many.yaml', text), env });
    expect(lines(r).sort()).toEqual(
      [
        'extra: unknown key',
        'gateway.colour: unknown key',
        'sinks.postgres.schema: must be a lower-case SQL identifier (a-z, 0-9, _; not starting with a digit) (got "Edge")',
        // a template point may belong to any driver: every driver's types are offered
        `templates.meter.points.flow.type: must be one of ${POINT_TYPES.join(', ')} (got "float33")`,
        'devices[0].connection.port: must be at most 65535 (got 70000)',
        'devices[0].every: invalid duration "10 seconds": use a number with a unit, e.g. 500ms, 10s, 5m, 1h',
        'devices[0].points.total.address: required, set neither by template "meter" nor by this device',
        'devices[1].template: unknown template "nope" (defined: meter; built in: delta-ms300, eastron-sdm120, eastron-sdm630, waveshare-analog-input-8ch)',
        'devices[1].points.level.address: required',
        'devices[2].connection.speed: unknown key',
        'devices[2].id: duplicate device id "pump-1" (also devices[0])',
        'devices[2].cron: invalid cron expression "61 * * * *": Constraint error, got value 61 expected range 0-59',
      ].sort(),
    );
  });

  it('reports unknown keys at every level with their path', () => {
    const found = issues({
      gateway: { id: 'g', zone: 1 },
      sinks: { influx: { tokn: 'x' }, kafka: {} },
      templates: { t: { vendor: 'acme', points: { p: { register: 'holding', address: 0, type: 'int16', colour: 'red' } } } },
      devices: [device({ colour: 'red', connection: { protocol: 'tcp', host: 'h', baud: 9600 }, points: { q: { register: 'input', address: 1, type: 'int16', scael: 2 } } })],
      simulators: [{ type: 'well-pump', port: 5020, noise: 1 }],
      plugins: [],
    });
    expect(found.sort()).toEqual(
      [
        'plugins: unknown key',
        'gateway.zone: unknown key',
        "sinks.influx.tokn: unknown key (did you mean 'token'?)",
        'sinks.kafka: unknown key',
        'templates.t.vendor: unknown key',
        'templates.t.points.p.colour: unknown key',
        'devices[0].colour: unknown key',
        'devices[0].connection.baud: unknown key',
        'devices[0].points.q.scael: unknown key',
        'simulators[0].noise: unknown key',
      ].sort(),
    );
  });

  it('names an unknown driver and bad ids by their path', () => {
    const found = issues(doc({ templates: { 'bad id': {} }, devices: [{ id: 'x', driver: 'bacnet', every: '1s' }, device({ points: { 'a b': { register: 'coil', address: 0 } } })] }));
    expect(found).toEqual([
      `templates["bad id"]: invalid name: template id must start with a letter or digit and hold only letters, digits, '_', '.', ':' or '-'`,
      'devices[0].driver: must be one of modbus, serial, mqtt (got "bacnet")',
      `devices[1].points["a b"]: invalid name: point id must start with a letter or digit and hold only letters, digits, '_', '.', ':' or '-'`,
    ]);
  });
});

describe('summarize', () => {
  it('counts enabled devices and their points, singular and plural', () => {
    const one = { register: 'holding', address: 0, type: 'int16' };
    expect(summarize(ok(doc({ devices: [device({ points: { a: one } })] })))).toBe('1 device, 1 point');
    expect(summarize(ok(doc()))).toBe('0 devices, 0 points');
    expect(summarize(ok(doc({ devices: [device({ points: { a: one, b: { ...one, address: 1 } } }), device({ id: 'p2', enabled: false, points: { a: one } })] })))).toBe(
      '1 device, 2 points',
    );
  });
});
