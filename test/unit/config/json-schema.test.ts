import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configJsonSchema, configJsonSchemaText } from '../../../config/json-schema.js';

const SCHEMA_FILE = new URL('../../../config/edge-agent.schema.json', import.meta.url);
const DEMO = new URL('../../../config/demo.yaml', import.meta.url);

function validator() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(configJsonSchema());
}
const errorsOf = (doc: unknown) => {
  const validate = validator();
  validate(doc);
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
};

describe('config JSON Schema (config/edge-agent.schema.json)', () => {
  it('is the file npm run schema writes from the code (run `npm run schema` when this fails)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(configJsonSchemaText());
  });

  it('is a valid draft-07 schema that accepts the demo config', () => {
    expect(errorsOf(parse(readFileSync(DEMO, 'utf8')))).toEqual([]);
  });

  it('is named by the demo config for yaml-language-server', () => {
    expect(readFileSync(DEMO, 'utf8')).toMatch(/^# yaml-language-server: \$schema=\.\/edge-agent\.schema\.json$/m);
  });

  it('refuses unknown keys at every level, as validate does', () => {
    expect(errorsOf({ gatway: { id: 'x' } }).join('\n')).toMatch(/additional properties.*gatway/);
    expect(errorsOf({ buffer: { maxrows: 5 } }).join('\n')).toMatch(/maxrows/);
    const device = { id: 'm', driver: 'modbus', connection: { protocol: 'tcp', host: 'h' }, every: '10s', points: { p: { register: 'holding', adress: 3 } } };
    expect(errorsOf({ devices: [device] }).join('\n')).toMatch(/adress/);
  });

  it('checks types, enums and ranges of settings and catalog keys', () => {
    expect(errorsOf({ http: { port: 70000 } }).join('\n')).toMatch(/\/http\/port/);
    expect(errorsOf({ log: { level: 'verbose' } }).join('\n')).toMatch(/\/log\/level.*allowedValues/);
    expect(errorsOf({ buffer: { maxBytes: '1 GiB', commitInterval: '250ms' }, central: { healthEvery: '1m30s' } })).toEqual([]);
    expect(errorsOf({ buffer: { commitInterval: 'soon' } }).join('\n')).toMatch(/commitInterval/);
    const point = { register: 'holding', address: 0, type: 'float23' };
    expect(errorsOf({ templates: { t: { points: { p: point } } } }).join('\n')).toMatch(/\/templates\/t\/points\/p\/type/);
    expect(errorsOf({ devices: [{ id: 'm', driver: 'modbus', connection: { protocol: 'rtu', path: '/dev/x', stopBits: 3 } }] }).join('\n')).toMatch(/stopBits/);
    expect(errorsOf({ devices: [{ id: 'm', driver: 'canbus' }] }).length).toBeGreaterThan(0);
  });

  it('lets ${VAR} stand for text settings that have a pattern', () => {
    expect(errorsOf({ sinks: { postgres: { schema: '${PG_SCHEMA:-edge}', url: '${PG_URL}' } }, gateway: { id: '${GW}' } })).toEqual([]);
    expect(errorsOf({ sinks: { postgres: { schema: 'Edge Schema' } } }).join('\n')).toMatch(/schema/);
  });

  it('carries the settings docs and defaults, for completion', () => {
    const schema = configJsonSchema() as { properties: Record<string, { properties: Record<string, { description?: string; default?: unknown }> }> };
    expect(schema.properties.buffer?.properties.maxRows).toMatchObject({ default: 5_000_000, description: 'most points kept in the buffer' });
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['gateway', 'buffer', 'sinks', 'http', 'log', 'central', 'templates', 'devices', 'simulators', 'broker']));
  });
});
