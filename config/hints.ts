/**
 * Hints: what is valid but most likely a commissioning mistake. They are warnings — `validate`
 * prints them and exits 0, the agent logs them at start — because each has a legitimate use a
 * check cannot rule out (a SunSpec map really lives at protocol address 40000 and up).
 *
 * These judge the catalog as written (each hint lands where the key was written, once, even when
 * ten devices share the template). The bus timing hints need the driver's read plan and live in
 * drivers/modbus/bus-timing.ts.
 */
import type { DeviceSettings, PointSettings, Template } from './catalog.js';
import { formatPath, type PathSegment } from './issues.js';
import { mergePoint } from './merge.js';
import type { ConfigIssue } from './types.js';

/** The 16-bit types: one register, so there is no register order to choose. */
const ONE_REGISTER: readonly string[] = ['int16', 'uint16', 'int8', 'uint8', 'bool'];

/**
 * Modicon numbering: 4xxxx names holding registers and 3xxxx input registers, counted from 1
 * (40001 is holding address 0). A manual's "register 40011" is `address: 10`.
 */
const MODICON: Partial<Record<string, { base: number; below: number }>> = {
  holding: { base: 40001, below: 65536 },
  input: { base: 30001, below: 40001 },
};
/** Serial devices that the kernel numbers in the order they appear (renumbered on replug or reboot). */
const RENUMBERED = /^\/dev\/tty(USB|ACM)\d+$/;

export function catalogHints(templates: Readonly<Record<string, Partial<Template>>>, devices: readonly Partial<DeviceSettings>[]): ConfigIssue[] {
  const hints = new Hints();
  devices.forEach((d, index) => {
    if (d.enabled === false) return;
    const template = d.template === undefined ? undefined : templates[d.template];
    const inherited = template?.points ?? {};
    const own = d.points ?? {};
    const holdingAddresses = new Set<number>();
    const merged = [...new Set([...Object.keys(inherited), ...Object.keys(own)])].map((id) => {
      const point = mergePoint(inherited[id], own[id]);
      if (point.register === 'holding' && point.address !== undefined) holdingAddresses.add(point.address);
      // A hint belongs where its key was written: the device's override, or the template's point.
      const at = (key: keyof PointSettings): PathSegment[] =>
        own[id]?.[key] !== undefined || d.template === undefined ? ['devices', index, 'points', id, key] : ['templates', d.template, 'points', id, key];
      return { point, at };
    });
    if (d.driver === 'modbus') {
      // SunSpec maps start at protocol address 40000, which Modicon numbering cannot name.
      const sunSpec = holdingAddresses.has(40000);
      for (const { point, at } of merged) {
        modiconHint(point, sunSpec, at('address'), hints);
        orderHint(point, at('order'), hints);
      }
    }
    serialPathHint(d, index, hints);
  });
  return hints.list;
}

function modiconHint(p: PointSettings, sunSpec: boolean, at: PathSegment[], hints: Hints): void {
  const numbering = p.register === undefined ? undefined : MODICON[p.register];
  if (numbering === undefined || p.address === undefined || p.address < numbering.base || p.address >= numbering.below || sunSpec) return;
  const meant = p.address - numbering.base;
  hints.add(at, `${p.address} looks like Modicon notation (${numbering.base} is ${p.register} address 0): did you mean address ${meant}? (ignore this if the manual gives protocol addresses)`);
}

function orderHint(p: PointSettings, at: PathSegment[], hints: Hints): void {
  if (p.order === undefined || p.order === 'ABCD') return;
  if (p.register === 'coil' || p.register === 'discrete') {
    hints.add(at, `a ${p.register} is one bit: order ${p.order} has no effect`);
    return;
  }
  const type = p.type ?? (p.bit !== undefined ? 'bool' : undefined);
  if (type === undefined || !ONE_REGISTER.includes(type)) return;
  const a = type.startsWith('i') ? 'an' : 'a';
  if (p.order === 'CDAB') {
    hints.add(at, `${a} ${type} is one register: CDAB (register swap) has no effect; order is for 32- and 64-bit values (BADC swaps the two bytes of a register)`);
  } else {
    hints.add(at, `${a} ${type} is one register: ${p.order} swaps its two bytes; order is usually for 32- and 64-bit values (remove it unless the device sends this register little-endian)`);
  }
}

function serialPathHint(d: Partial<DeviceSettings>, index: number, hints: Hints): void {
  const c = d.connection;
  const onSerialPort = d.driver === 'serial' || (d.driver === 'modbus' && c !== undefined && 'protocol' in c && c.protocol === 'rtu');
  const path = onSerialPort && c !== undefined && 'path' in c ? c.path : undefined;
  if (path === undefined || !RENUMBERED.test(path)) return;
  hints.addOnce(
    path,
    ['devices', index, 'connection', 'path'],
    `${path} can change after a reboot or a replug (the kernel numbers USB adapters as they appear): use its /dev/serial/by-id/… name (ls -l /dev/serial/by-id/)`,
  );
}

class Hints {
  readonly list: ConfigIssue[] = [];
  private readonly seen = new Set<string>();

  add(at: readonly PathSegment[], message: string): void {
    this.addOnce(`${formatPath(at)}\0${message}`, at, message);
  }

  addOnce(key: string, at: readonly PathSegment[], message: string): void {
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push({ path: formatPath(at), message });
  }
}
