/**
 * The `write:` block of a point (issue 15): what a technician or central ops may write to a field
 * device, and how the agent checks that it took. Written in a template, a device or a point
 * override and merged key by key like the point (`verify` too), then completed here with its
 * defaults and judged against the point it belongs to: only Modbus holding registers and coils
 * can be written, numbers need engineering limits, and those limits must fit the register's raw
 * type once scale and offset are inverted.
 */
import { z } from 'zod';
import { duration } from './duration-schema.js';
import { formatPath, type ConfigIssue, type PathSegment } from './issues.js';

type MappedValue = string | number | boolean;
type ModbusType = string;
/** What resolveWrite needs to know about the point it belongs to. */
interface Judged {
  register: string;
  type: ModbusType;
  bit?: number | undefined;
  scale?: number | undefined;
  offset?: number | undefined;
  min?: number | undefined;
  max?: number | undefined;
  decimals?: number | undefined;
  map?: Record<string, MappedValue> | undefined;
}


export const FUNCTION_CODES = ['auto', 'single', 'multiple'] as const;

export const writeSettings = z.strictObject({
  // engineering limits (after scale/offset): required for a number, refused otherwise
  min: z.number().finite().optional(),
  max: z.number().finite().optional(),
  // a written value must be min + a whole number of steps
  step: z.number().finite().positive().optional(),
  // mapped points: the states that may be written (write `running`, the agent writes 1)
  allowed: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1).optional(),
  // at most one write per this long (per point)
  rateLimit: duration.optional(),
  verify: z
    .strictObject({
      // how long the device gets before the value is read back
      after: duration.optional(),
      // how far the read-back may be from what was written (engineering units); default: half the last digit of `decimals`, or exact
      tolerance: z.number().finite().min(0).optional(),
    })
    .optional(),
  // auto: FC6/FC5 for one register or coil, FC16/FC15 for more; single / multiple force one (some devices take only FC16)
  functionCode: z.enum(FUNCTION_CODES).optional(),
});
export type WriteSettings = z.infer<typeof writeSettings>;

export const WRITE_DEFAULTS = { rateLimitMs: 5000, verifyAfterMs: 500 } as const;

/** Template write block, then the device's, key by key (`verify` merged the same way). */
export function mergeWrite(base: WriteSettings | undefined, override: WriteSettings | undefined): WriteSettings | undefined {
  if (base === undefined) return override;
  if (override === undefined) return base;
  const verify = base.verify === undefined || override.verify === undefined ? (override.verify ?? base.verify) : { ...base.verify, ...override.verify };
  return { ...base, ...override, ...(verify === undefined ? {} : { verify }) };
}

/** Raw ranges of the register types a write may encode. */
const RAW_RANGE: Readonly<Record<string, readonly [number, number]>> = {
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  float32: [-3.4028234663852886e38, 3.4028234663852886e38],
  float64: [-Number.MAX_VALUE, Number.MAX_VALUE],
};
export const WRITABLE_TYPES = [...Object.keys(RAW_RANGE), 'bool'] as const;

/** The raw value a device must hold for engineering value `v`: the inverse of scale, then offset. */
export function rawFor(v: number, p: Pick<Judged, 'scale' | 'offset' | 'type'>): number {
  const raw = (v - (p.offset ?? 0)) / (p.scale ?? 1);
  return p.type === 'float32' || p.type === 'float64' ? raw : Math.round(raw);
}


/**
 * The complete write settings of a Modbus point, or the issues that keep it from being written,
 * each at the key to fix (`at` is the point's path).
 */
export function resolveWrite(w: WriteSettings, p: Judged, at: readonly PathSegment[]): { write?: PointWrite; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const add = (key: string | PathSegment[], message: string) =>
    issues.push({ path: formatPath([...at, 'write', ...(Array.isArray(key) ? key : key === '' ? [] : [key])]), message });
  if (p.register === 'input' || p.register === 'discrete') {
    add('', `${p.register === 'input' ? 'an input register' : 'a discrete input'} is read-only in Modbus: only holding registers (FC6/FC16) and coils (FC5/FC15) can be written`);
    return { issues };
  }
  const bit = p.register === 'coil' || p.bit !== undefined;
  if (!bit && RAW_RANGE[p.type] === undefined && p.type !== 'bool') {
    add('', `a ${p.type} cannot be written (writable: ${WRITABLE_TYPES.join(', ')}, a bit of a register, a coil)`);
    return { issues };
  }
  const mapped = p.map !== undefined;
  const numeric = !mapped && !bit && p.type !== 'bool';
  if (mapped) {
    if (w.allowed === undefined) add('allowed', `required for a mapped point: the states that may be written (of ${Object.values(p.map ?? {}).map(String).join(', ')})`);
    for (const [i, state] of (w.allowed ?? []).entries()) {
      const keys = Object.entries(p.map ?? {}).filter(([, v]) => v === state);
      if (keys.length === 0) add(['allowed', i], `${JSON.stringify(state)} is not a state of the point's map (${Object.values(p.map ?? {}).map(String).join(', ')})`);
      else if (keys.length > 1) add(['allowed', i], `${JSON.stringify(state)} is the state of several raw values (${keys.map(([k]) => k).join(', ')}): which to write is ambiguous`);
      else if (!bit && p.type !== 'bool' && !Number.isFinite(Number(keys[0]?.[0]))) add(['allowed', i], `its raw value ${JSON.stringify(keys[0]?.[0])} is not a number`);
    }
  } else if (w.allowed !== undefined) add('allowed', 'only a mapped point (with map) has states to allow; give min and max for a number');
  if (numeric) {
    if (w.min === undefined) add('min', 'required for a writable number: the lowest value that may be written (engineering units)');
    if (w.max === undefined) add('max', 'required for a writable number: the highest value that may be written (engineering units)');
    if (w.min !== undefined && w.max !== undefined && w.min > w.max) add('min', `must not be above max (${w.min} > ${w.max})`);
    const range = RAW_RANGE[p.type];
    for (const key of ['min', 'max'] as const) {
      const v = w[key];
      if (v === undefined || range === undefined) continue;
      const raw = rawFor(v, p);
      if (!(raw >= range[0] && raw <= range[1])) {
        add(key, `${v} needs the raw value ${raw} (scale ${p.scale ?? 1}, offset ${p.offset ?? 0}), which a ${p.type} cannot hold (${range[0]}..${range[1]})`);
      }
      if (p.min !== undefined && v < p.min) add(key, `${v} is below the point's own min (${p.min}): a read-back would be rejected as out of range`);
      if (p.max !== undefined && v > p.max) add(key, `${v} is above the point's own max (${p.max}): a read-back would be rejected as out of range`);
    }
  } else {
    for (const key of ['min', 'max', 'step'] as const) {
      if (w[key] !== undefined) add(key, `only a number has ${key === 'step' ? 'a step' : 'limits'}; this point is ${mapped ? 'mapped (use allowed)' : 'a bool'}`);
    }
  }
  if (issues.length > 0) return { issues };
  const tolerance = w.verify?.tolerance ?? (p.decimals === undefined ? 0 : 0.5 * 10 ** -p.decimals);
  const write: PointWrite = {
    rateLimitMs: w.rateLimit ?? WRITE_DEFAULTS.rateLimitMs,
    verifyAfterMs: w.verify?.after ?? WRITE_DEFAULTS.verifyAfterMs,
    tolerance,
    functionCode: w.functionCode ?? 'auto',
    ...(w.min === undefined ? {} : { min: w.min }),
    ...(w.max === undefined ? {} : { max: w.max }),
    ...(w.step === undefined ? {} : { step: w.step }),
    ...(w.allowed === undefined ? {} : { allowed: w.allowed as MappedValue[] }),
  };
  return { write, issues };
}

/** A writable point's settings, defaults applied . */
export interface PointWrite {
  /** Engineering limits; both set for a number, neither for a bool or a mapped point. */
  min?: number;
  max?: number;
  step?: number;
  /** Mapped points: the states that may be written. */
  allowed?: MappedValue[];
  /** At most one write per this many ms. */
  rateLimitMs: number;
  /** The value is read back this many ms after the write. */
  verifyAfterMs: number;
  /** Largest difference between the read-back and the expected value (engineering units); 0 = exact. */
  tolerance: number;
  functionCode: 'auto' | 'single' | 'multiple';
}
