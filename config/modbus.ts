/**
 * Modbus-only checks that need more than one key at a time: a point's `length`/`bit`/`byte`
 * against its type and table, and the devices that share one RTU bus agreeing on its line
 * settings. resolve.ts calls these; they only read what they are given.
 */
import type { DeviceSettings, PointSettings } from './catalog.js';
import { formatPath, type PathSegment } from './issues.js';
import type { ConfigIssue, ModbusPoint } from './types.js';

const WORD_REGISTERS: readonly string[] = ['holding', 'input'];

/** Defaults that depend on other keys, applied to a merged point before its schema check. */
export function applyModbusPointDefaults(merged: PointSettings): void {
  // A bit of a register is a boolean unless said otherwise (and nothing else is allowed).
  if (merged.bit !== undefined && merged.type === undefined) merged.type = 'bool';
}

type CheckedModbusPoint = Pick<ModbusPoint, 'register' | 'type' | 'length' | 'bit' | 'byte'>;

/** What is wrong with a complete point's `length`, `bit` and `byte`, each at its own key. */
export function modbusPointIssues(p: CheckedModbusPoint, at: readonly PathSegment[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (key: string, message: string) => issues.push({ path: formatPath([...at, key]), message });
  const wordTable = WORD_REGISTERS.includes(p.register);
  if (p.type === 'string') {
    if (!wordTable) add('register', `a string lives in holding or input registers (got ${p.register})`);
    if (p.length === undefined) add('length', 'required for a string: how many registers it spans (2 characters each)');
  } else if (p.length !== undefined) {
    add('length', `only a string has a length (type is ${p.type})`);
  }
  if (p.bit !== undefined) {
    if (!wordTable) add('bit', `picks a bit of a holding or input register; a ${p.register} is already one bit`);
    else if (p.type !== 'bool') add('type', `a single bit is bool (got ${p.type})`);
  }
  if (p.type === 'int8' || p.type === 'uint8') {
    if (!wordTable) add('register', `an ${p.type} lives in a holding or input register (got ${p.register})`);
    if (p.byte === undefined) add('byte', `required for ${p.type}: high (the first byte on the wire) or low`);
  } else if (p.byte !== undefined) {
    add('byte', `only int8 and uint8 pick a byte (type is ${p.type})`);
  }
  return issues;
}

/** The extra keys a resolved Modbus device carries (read planning), when the draft has them. */
export function modbusDeviceExtras(draft: Partial<DeviceSettings>): { maxGap?: number; coalesce?: boolean } {
  if (draft.driver !== 'modbus') return {};
  return {
    ...(draft.maxGap === undefined ? {} : { maxGap: draft.maxGap }),
    ...(draft.coalesce === undefined ? {} : { coalesce: draft.coalesce }),
  };
}

const LINE_KEYS = ['baudRate', 'parity', 'dataBits', 'stopBits'] as const;

/**
 * Devices on one serial port share one RTU bus, so they must agree on how the line is driven;
 * and a port that carries a Modbus RTU bus cannot also be read as a serial line device.
 */
export function modbusBusIssues(devices: readonly (Partial<DeviceSettings> | undefined)[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const firstOnPath = new Map<string, { index: number; line: Record<string, unknown> }>();
  devices.forEach((d, index) => {
    if (d?.driver !== 'modbus' || d.connection?.protocol !== 'rtu' || d.enabled === false) return;
    const c = d.connection;
    const line: Record<string, unknown> = { baudRate: c.baudRate, parity: c.parity, dataBits: c.dataBits, stopBits: c.stopBits };
    const first = firstOnPath.get(c.path);
    if (first === undefined) {
      firstOnPath.set(c.path, { index, line });
      return;
    }
    for (const key of LINE_KEYS) {
      if (line[key] !== first.line[key]) {
        issues.push({
          path: formatPath(['devices', index, 'connection', key]),
          message: `devices on one serial port share its line settings: ${c.path} runs at ${key} ${String(first.line[key])} (devices[${first.index}])`,
        });
      }
    }
  });
  issues.push(...unitIdIssues(devices));
  devices.forEach((d, index) => {
    if (d === undefined || d.driver === 'modbus' || d.enabled === false) return;
    const path = d.connection !== undefined && 'path' in d.connection ? d.connection.path : undefined;
    const bus = path === undefined ? undefined : firstOnPath.get(path);
    if (bus !== undefined) {
      issues.push({
        path: formatPath(['devices', index, 'connection', 'path']),
        message: `${String(path)} already carries the Modbus RTU bus of devices[${bus.index}]; one serial port serves one protocol`,
      });
    }
  });
  return issues;
}

/**
 * Two slaves with one address on one bus both answer the same request: their frames collide and
 * both devices read garbage or time out. (Modbus TCP devices have a connection each; a unit id
 * there only names the slave behind a gateway, so it is not judged here.)
 */
function unitIdIssues(devices: readonly (Partial<DeviceSettings> | undefined)[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, number>();
  devices.forEach((d, index) => {
    if (d?.driver !== 'modbus' || d.enabled === false || d.connection === undefined) return;
    const c = d.connection;
    if (c.protocol === 'tcp') return;
    const bus = c.protocol === 'rtu' ? c.path : `${c.host}:${c.port}`;
    const key = `${bus}\0${c.unitId}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else {
      issues.push({
        path: formatPath(['devices', index, 'connection', 'unitId']),
        message: `unit id ${c.unitId} is already used on ${bus} by devices[${first}]: two slaves with one address on one bus answer each other's requests (give each its own address)`,
      });
    }
  });
  return issues;
}
