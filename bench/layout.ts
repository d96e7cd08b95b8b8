/**
 * The device every benchmark polls or feeds: a 100-point Modbus meter profile with the usual mix
 * (floats, scaled integers, 32-bit counters, input registers, coils), transforms on most points,
 * tags from gateway to point, and — once the config knows `alerts:` — alert rules on a tenth of
 * the points. Configs go through the config room (checkDocument), so they are what the agent runs.
 */
import { checkDocument } from '../config/index.js';
import type { AgentConfig, ModbusDevice, ModbusPoint } from '../config/types.js';
import type { Reading } from '../drivers/types.js';

export const POINTS_PER_DEVICE = 100;
/** Registers a request may read through: joins the float block with the scaled-integer block. */
export const MAX_GAP = 10;

interface PointDoc {
  register: 'holding' | 'input' | 'coil';
  address: number;
  type?: string;
  unit?: string;
  scale?: number;
  decimals?: number;
  min?: number;
  max?: number;
  map?: Record<string, string>;
  measurement?: string;
  alerts?: unknown[];
}

/** The profile's points: 50 float32, 20 uint16 (×0.1), 10 int32, 10 int16 input (×0.1), 10 coils. */
export function meterPoints(withAlerts: boolean): Record<string, PointDoc> {
  const pts: Record<string, PointDoc> = {};
  for (let i = 0; i < 50; i++) {
    pts[`f${i}`] = { register: 'holding', address: 2 * i, type: 'float32', unit: 'm3/h', decimals: 2, min: -1e6, max: 1e6 };
    // Never crossed by the values the benchmarks produce: evaluated on every reading, never firing.
    if (withAlerts && i % 5 === 0) pts[`f${i}`]!.alerts = [{ above: 900_000, for: '30s', severity: 'warning', clearBelow: 800_000 }];
  }
  for (let i = 0; i < 20; i++) pts[`u${i}`] = { register: 'holding', address: 110 + i, type: 'uint16', scale: 0.1, decimals: 1, unit: 'bar' };
  for (let i = 0; i < 10; i++) pts[`l${i}`] = { register: 'holding', address: 300 + 2 * i, type: 'int32', unit: 'kWh', measurement: 'energy' };
  for (let i = 0; i < 10; i++) pts[`t${i}`] = { register: 'input', address: i, type: 'int16', scale: 0.1, decimals: 1, unit: '°C', measurement: 'temperature' };
  for (let i = 0; i < 10; i++) pts[`c${i}`] = i % 2 === 0 ? { register: 'coil', address: i, map: { '0': 'stopped', '1': 'running' } } : { register: 'coil', address: i };
  return pts;
}

export interface BenchDevice {
  id: string;
  connection: Record<string, unknown>;
}

export interface BenchConfigOptions {
  bufferPath: string;
  devices: readonly BenchDevice[];
  everyMs: number;
  influxUrl?: string;
  postgres?: { url: string; schema: string };
  logLevel?: string;
  /** HTTP port for the agent's status surface (0 where it is not started). */
  httpPort?: number;
}

export interface BenchConfig {
  config: AgentConfig;
  /** The document (YAML-able) the config came from. */
  doc: Record<string, unknown>;
  /** Alert rules in it: 0 while the config does not know `alerts:` yet. */
  alertRules: number;
}

function documentFor(o: BenchConfigOptions, withAlerts: boolean): Record<string, unknown> {
  return {
    gateway: { id: 'gw-bench', site: 'bench-site', tags: { region: 'bench' } },
    buffer: { path: o.bufferPath, synchronous: 'normal' },
    sinks: {
      influx: { url: o.influxUrl ?? '', token: '', org: o.influxUrl === undefined ? '' : 'bench', bucket: o.influxUrl === undefined ? '' : 'bench' },
      postgres: { url: o.postgres?.url ?? '', schema: o.postgres?.schema ?? 'edge' },
    },
    http: { host: '127.0.0.1', port: o.httpPort ?? 0 },
    log: { level: o.logLevel ?? 'warn' },
    templates: { meter: { measurement: 'meter', tags: { vendor: 'bench' }, points: meterPoints(withAlerts) } },
    devices: o.devices.map((d) => ({ id: d.id, driver: 'modbus', connection: d.connection, every: `${o.everyMs}ms`, template: 'meter', maxGap: MAX_GAP, tags: { line: 'L1' } })),
  };
}

/**
 * The resolved config. With alert rules when the config accepts them; without, while `alerts:`
 * is not a point key yet (reported as `alert_rules: 0`).
 */
export function benchConfig(o: BenchConfigOptions): BenchConfig {
  const withAlerts = documentFor(o, true);
  const first = checkDocument(withAlerts, { env: {}, source: 'bench' });
  if (first.ok) {
    const rules = first.config.devices.reduce((n, d) => n + d.points.filter((p) => Array.isArray((p as { alerts?: unknown }).alerts)).length, 0);
    return { config: first.config, doc: withAlerts, alertRules: rules };
  }
  const doc = documentFor(o, false);
  const second = checkDocument(doc, { env: {}, source: 'bench' });
  if (!second.ok) throw new Error(`bench config is invalid: ${second.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  return { config: second.config, doc, alertRules: 0 };
}

export function modbusDevices(config: AgentConfig): ModbusDevice[] {
  return config.devices.filter((d): d is ModbusDevice => d.driver === 'modbus');
}

/** A raw value such as the driver decodes for the point, varying with `cycle`. */
function rawFor(p: ModbusPoint, i: number, cycle: number): number | boolean {
  switch (p.register) {
    case 'coil':
      return (cycle + i) % 7 === 0;
    case 'input':
      return 200 + ((cycle * 3 + i) % 50);
    default:
      if (p.type === 'float32') return 10 + i + ((cycle * 37 + i * 11) % 1000) / 100;
      if (p.type === 'uint16') return 40 + ((cycle + i) % 30);
      return 100_000 + cycle * 10 + i;
  }
}

/** `variants` distinct cycles of readings for a device (timestamps set by the caller). */
export function readingCycles(device: ModbusDevice, variants: number): Reading[][] {
  const out: Reading[][] = [];
  for (let c = 0; c < variants; c++) out.push(device.points.map((p, i) => ({ pointId: p.id, ts: 0, raw: rawFor(p, i, c), quality: 'good' as const })));
  return out;
}
