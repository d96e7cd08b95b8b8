/**
 * docs/serial.md, docs/mqtt.md and docs/broker.md document every key the code accepts, each with
 * the default the code applies. The keys and defaults come from the config's JSON Schema, which is
 * generated from the loader's own schemas (config/json-schema.ts): a key added to a driver or to
 * the broker without a row in its page, or a default changed in the code and not on the page,
 * fails here. A row documents a key when the key stands in its first cell (`a`, `b` for several);
 * its default is checked when the schema has one, in the row's second cell.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configJsonSchema } from '../../../config/json-schema.js';

interface Node {
  properties?: Record<string, Node>;
  oneOf?: Node[];
  anyOf?: Node[];
  allOf?: Node[];
  items?: Node;
  default?: unknown;
  $ref?: string;
}

const schema = configJsonSchema() as unknown as Node & { definitions: Record<string, Node> };
const resolve = (node: Node): Node => (node.$ref === undefined ? node : (schema.definitions[node.$ref.replace('#/definitions/', '')] as Node));

/** The device schema of one driver. */
function driver(name: string): Node {
  const alternatives = resolve(schema.definitions.device as Node).oneOf ?? [];
  const found = alternatives.find((d) => (d.properties?.driver as { const?: string } | undefined)?.const === name);
  if (found === undefined) throw new Error(`no device schema for driver ${name}`);
  return found;
}
function child(node: Node, key: string): Node {
  const next = resolve(node).properties?.[key];
  if (next === undefined) throw new Error(`no key ${key}`);
  const inner = resolve(next);
  return inner.items === undefined ? inner : resolve(inner.items);
}

/** Table rows of a page: first cell's keys → the row's second cell. */
function rows(doc: string, heading: string): Map<string, string> {
  const text = readFileSync(new URL(`../../../docs/${doc}.md`, import.meta.url), 'utf8');
  const start = text.indexOf(heading);
  if (start < 0) throw new Error(`docs/${doc}.md has no ${heading}`);
  const out = new Map<string, string>();
  // the first table after the heading
  const lines = text.slice(start).split('\n');
  let inTable = false;
  for (const line of lines) {
    if (line.startsWith('|')) {
      inTable = true;
      const cells = line.split('|').slice(1, -1).map((c) => c.trim());
      // `key` alone, or `key: …` (the parse modes' first cell)
      for (const [, key] of (cells[0] ?? '').matchAll(/`([A-Za-z]+)(?::[^`]*)?`/g)) out.set(key as string, cells.slice(1).join(' | '));
    } else if (inTable) break;
  }
  return out;
}

/** How a default reads on the page: `9600`, `none`, `"\n"`, `[]`. */
function written(value: unknown): string[] {
  if (typeof value === 'string') return [`\`${value}\``, `\`${JSON.stringify(value)}\``];
  return [`\`${JSON.stringify(value)}\``];
}

interface Section {
  doc: string;
  heading: string;
  node: Node;
  /** keys every device shares, documented once in the README */
  shared?: readonly string[];
}

const DEVICE_SHARED = ['id', 'driver', 'template', 'measurement', 'tags', 'points', 'enabled', 'every', 'cron'];
const serial = driver('serial');
const mqtt = driver('mqtt');
const broker = resolve(schema.definitions.broker as Node);
const SECTIONS: Section[] = [
  { doc: 'serial', heading: '## Device keys', node: serial, shared: DEVICE_SHARED },
  { doc: 'serial', heading: '`connection`:', node: child(serial, 'connection') },
  { doc: 'mqtt', heading: '## Device keys', node: mqtt, shared: DEVICE_SHARED },
  { doc: 'mqtt', heading: '`connection` (an external broker):', node: child(mqtt, 'connection') },
  { doc: 'broker', heading: '## Keys', node: broker },
  { doc: 'broker', heading: '### Limits', node: child(broker, 'limits') },
  { doc: 'broker', heading: '### TLS', node: child(broker, 'tls') },
];

describe('driver and broker reference pages: every key, with its default', () => {
  it('docs/serial.md ## Parse modes: each mode, each of its keys with its default', () => {
    const table = rows('serial', '## Parse modes');
    const problems: string[] = [];
    for (const [mode, node] of Object.entries(child(serial, 'parse').properties ?? {})) {
      const cell = table.get(mode);
      if (cell === undefined) {
        problems.push(`${mode}: not documented`);
        continue;
      }
      for (const [key, sub] of Object.entries(resolve(node).properties ?? {})) {
        if (!cell.includes(`\`${key}\``)) problems.push(`${mode}.${key}: not documented`);
        else if (sub.default !== undefined && !written(sub.default).some((w) => cell.includes(`default ${w}`))) problems.push(`${mode}.${key}: the code's default is ${JSON.stringify(sub.default)}`);
      }
    }
    expect(problems).toEqual([]);
  });

  // A point's keys are one schema for every driver; each page documents the ones its driver reads.
  for (const [doc, keys] of [['serial', ['field', 'type']], ['mqtt', ['topic', 'path', 'type']]] as const) {
    it(`docs/${doc}.md: the point keys its driver reads`, () => {
      const heading = doc === 'serial' ? '## Point keys' : '## Payloads and point keys';
      const table = rows(doc, heading);
      const point = resolve(schema.definitions.point as Node).properties ?? {};
      for (const key of [...keys, 'scale', 'offset', 'min', 'max', 'decimals', 'map', 'deadband', 'maxSilence', 'measurement', 'unit', 'tags', 'alerts']) {
        expect(point, `the point schema has ${key}`).toHaveProperty(key);
        expect(table.has(key), `docs/${doc}.md documents the point key ${key}`).toBe(true);
      }
    });
  }

  for (const section of SECTIONS) {
    it(`docs/${section.doc}.md ${section.heading}`, () => {
      const table = rows(section.doc, section.heading);
      const problems: string[] = [];
      for (const [key, node] of Object.entries(resolve(section.node).properties ?? {})) {
        // keys every device has are documented, with their defaults, in the README (an MQTT
        // device's every/cron are errors there: not polled)
        const shared = section.shared?.includes(key) === true;
        if (shared && !table.has(key)) continue;
        const cell = table.get(key);
        if (cell === undefined) {
          problems.push(`${key}: not documented`);
          continue;
        }
        if (!shared && node.default !== undefined && typeof node.default !== 'object' && !written(node.default).some((w) => cell.includes(w))) {
          problems.push(`${key}: the code's default is ${JSON.stringify(node.default)}, the page says ${cell}`);
        }
      }
      expect(problems).toEqual([]);
    });
  }
});
