/**
 * The device catalog schema: templates (device profiles) and device instances. zod gives both
 * validation with paths and the TypeScript types. Everything is strict: an unknown key is a typo
 * a technician must hear about, not something to ignore.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const id = (what: string) =>
  z.string().regex(ID_PATTERN, `${what} must start with a letter or digit and hold only letters, digits, '_', '.', ':' or '-'`);

export const duration = z.union([z.string(), z.number()]).transform((v, ctx): number => {
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** Tag values are strings on the wire; numbers and booleans written in YAML are stringified. */
export const tags = z.record(
  z.string().min(1, 'a tag name must not be empty'),
  z.union([z.string(), z.number(), z.boolean()], { error: 'a tag value must be text, a number or true/false' }).transform(String),
);

export const REGISTERS = ['holding', 'input', 'coil', 'discrete'] as const;
export const MODBUS_TYPES = ['int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64', 'bool'] as const;
export const BYTE_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
/** How many 16-bit registers a value of each type spans (a coil/discrete bool is one bit). */
export const TYPE_WORDS: Readonly<Record<(typeof MODBUS_TYPES)[number], number>> = {
  int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4, bool: 1,
};

/**
 * Point settings as written in a template, a device or a point override: every key optional,
 * because the complete point only exists after the merge (see resolve.ts), where it is
 * validated again by the driver's point schema.
 */
export const pointSettings = z.strictObject({
  // where the value lives (Modbus)
  register: z.enum(REGISTERS).optional(),
  address: z.number().int().min(0).max(65535).optional(),
  // `bool` on a coil or discrete input is the bit; on a holding or input register it means "non-zero".
  // A coil or discrete point without a type is `bool` (resolve.ts), and no other type is allowed there.
  type: z.enum(MODBUS_TYPES).optional(),
  order: z.enum(BYTE_ORDERS).optional(),
  // what the value means
  // measurement precedence (resolve.ts): point > device > template > 'telemetry'
  measurement: z.string().min(1).optional(),
  unit: z.string().optional(),
  tags: tags.optional(),
  // transforms, applied in this order: scale, offset, min/max, decimals, map, deadband
  scale: z.number().finite().optional(),
  offset: z.number().finite().optional(),
  min: z.number().finite().optional(),
  max: z.number().finite().optional(),
  decimals: z.number().int().min(0).max(15).optional(),
  map: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  deadband: z.number().min(0).optional(),
  maxSilence: duration.optional(),
});
export type PointSettings = z.infer<typeof pointSettings>;

export const template = z.strictObject({
  measurement: z.string().min(1).optional(),
  tags: tags.optional(),
  points: z.record(id('point id'), pointSettings).default({}),
});
export type Template = z.infer<typeof template>;

export const modbusTcpConnection = z.strictObject({
  protocol: z.literal('tcp'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(502),
  unitId: z.number().int().min(0).max(255).default(1),
  timeout: duration.default(1000),
});
export type ModbusTcpConnection = z.infer<typeof modbusTcpConnection>;

/** Fields every device has whatever its driver (resolve.ts salvages these from a broken device). */
export const deviceBase = {
  id: id('device id'),
  every: duration.optional(),
  cron: z.string().min(1).optional(),
  template: z.string().min(1).optional(),
  measurement: z.string().min(1).optional(),
  tags: tags.optional(),
  points: z.record(id('point id'), pointSettings).default({}),
  enabled: z.boolean().default(true),
};

export const modbusDevice = z.strictObject({
  ...deviceBase,
  driver: z.literal('modbus'),
  connection: modbusTcpConnection,
});

export const device = z.discriminatedUnion('driver', [modbusDevice]);
export type DeviceSettings = z.infer<typeof device>;

/** In-process simulators, so the demo (and tests) run with no hardware. */
export const simulator = z.strictObject({
  type: z.literal('well-pump'),
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535),
  unitId: z.number().int().min(0).max(255).default(1),
});
export type SimulatorSettings = z.infer<typeof simulator>;

export const catalog = z.strictObject({
  templates: z.record(id('template id'), template).default({}),
  devices: z.array(device).default([]),
  simulators: z.array(simulator).default([]),
});
export type CatalogSettings = z.infer<typeof catalog>;

/** A point after the merge: addressing is complete (these keys are required). */
export const modbusPoint = pointSettings.extend({
  register: z.enum(REGISTERS),
  address: z.number().int().min(0).max(65535),
  type: z.enum(MODBUS_TYPES),
  order: z.enum(BYTE_ORDERS).default('ABCD'),
});
