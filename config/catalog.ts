/**
 * The device catalog schema: templates (device profiles) and device instances. zod gives both
 * validation with paths and the TypeScript types. Everything is strict: an unknown key is a typo
 * a technician must hear about, not something to ignore.
 */
import { z } from 'zod';
import { alertRules } from './alerts.js';
import { brokerSettings } from './broker.js';
import { duration } from './duration-schema.js';
import { topicPatternProblem } from './topic-pattern.js';
import { writeSettings } from './write.js';

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const id = (what: string) =>
  z.string().regex(ID_PATTERN, `${what} must start with a letter or digit and hold only letters, digits, '_', '.', ':' or '-'`);

export { duration };

/** Tag values are strings on the wire; numbers and booleans written in YAML are stringified. */
export const tags = z.record(
  z.string().min(1, 'a tag name must not be empty'),
  z.union([z.string(), z.number(), z.boolean()], { error: 'a tag value must be text, a number or true/false' }).transform(String),
);

export const REGISTERS = ['holding', 'input', 'coil', 'discrete'] as const;
export const MODBUS_TYPES = ['int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64', 'bool', 'int8', 'uint8', 'string'] as const;
export const BYTE_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
/** What a serial line field or an MQTT payload is read as (serial and MQTT points). */
export const VALUE_TYPES = ['number', 'string', 'bool'] as const;
/** Every `type` a point may give; each driver's point schema then allows its own (resolve.ts). */
const ALL_TYPES = [...MODBUS_TYPES, ...VALUE_TYPES] as const;
export const POINT_TYPES = [...new Set(ALL_TYPES)] as unknown as typeof ALL_TYPES;
/** How many 16-bit registers a value of each type spans (a coil/discrete bool is one bit). */
export const TYPE_WORDS: Readonly<Record<(typeof MODBUS_TYPES)[number], number>> = {
  int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4, bool: 1, int8: 1, uint8: 1,
  string: 1, // per register: a string spans `length` registers (modbusPointWords)
};
/** Registers a Modbus point spans: its type's width, or `length` for a string. */
export function modbusPointWords(p: { type: (typeof MODBUS_TYPES)[number]; length?: number | undefined }): number {
  return p.type === 'string' ? (p.length ?? 1) : TYPE_WORDS[p.type];
}

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
  type: z.enum(POINT_TYPES).optional(),
  order: z.enum(BYTE_ORDERS).optional(),
  // Modbus: a `string` spans `length` registers (2 characters each); `bit` 0-15 picks one bit of a
  // holding/input register (0 = least significant); `byte` picks the high or low byte for int8/uint8
  length: z.number().int().min(1).max(125).optional(),
  bit: z.number().int().min(0).max(15).optional(),
  byte: z.enum(['high', 'low']).optional(),
  // where the value lives (serial lines): a regex group name, a key, or a CSV column (0-based index or name)
  field: z.union([z.string().min(1), z.number().int().min(0)]).optional(),
  // where the value lives (MQTT): a JSON path into the payload (`a.b[0].c`); none = the whole payload
  path: z.string().min(1).optional(),
  // MQTT: the point's own topic (with {name} captures) instead of the device's
  topic: z.string().min(1).optional(),
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
  // local alert rules (config/alerts.ts); merged with a template's by rule id
  alerts: alertRules.optional(),
  // writable (config/write.ts): Modbus holding registers and coils only; merged key by key
  write: writeSettings.optional(),
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

/** Modbus RTU on a serial port (RS-485/RS-232); every device on one `path` shares one bus. */
export const modbusRtuConnection = z.strictObject({
  protocol: z.literal('rtu'),
  path: z.string().min(1),
  baudRate: z.number().int().min(300).max(4_000_000).default(9600),
  parity: z.enum(['none', 'even', 'odd']).default('none'),
  dataBits: z.literal(8, { error: 'Modbus RTU uses 8 data bits' }).default(8),
  stopBits: z.union([z.literal(1), z.literal(2)], { error: 'must be 1 or 2' }).default(1),
  // the slave address on the bus; 0 is broadcast (never answered), 248-255 are reserved
  unitId: z.number().int().min(1).max(247).default(1),
  timeout: duration.default(1000),
});
export type ModbusRtuConnection = z.infer<typeof modbusRtuConnection>;

/** RTU frames over a TCP socket (a serial device server); every device on one host:port shares one bus. */
export const modbusRtuOverTcpConnection = z.strictObject({
  protocol: z.literal('rtu-over-tcp'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(502),
  unitId: z.number().int().min(1).max(247).default(1),
  timeout: duration.default(1000),
});
export type ModbusRtuOverTcpConnection = z.infer<typeof modbusRtuOverTcpConnection>;

export const modbusConnection = z.discriminatedUnion('protocol', [modbusTcpConnection, modbusRtuConnection, modbusRtuOverTcpConnection]);
export type ModbusConnectionSettings = z.infer<typeof modbusConnection>;

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
  connection: modbusConnection,
  // read planning: unused registers (or bits) a request may read through to join two points, and
  // `coalesce: false` for devices that reject multi-point reads (drivers/modbus/README.md)
  maxGap: z.number().int().min(0).max(124).default(0),
  coalesce: z.boolean().default(true),
});

// --- Serial line devices (docs/serial.md) -----------------------------------------
export const PARITIES = ['none', 'even', 'odd', 'mark', 'space'] as const;
export const LINE_ENCODINGS = ['utf8', 'latin1', 'ascii'] as const;

export const serialConnection = z.strictObject({
  path: z.string().min(1),
  baudRate: z.number().int().positive().default(9600),
  dataBits: z.union([z.literal(5), z.literal(6), z.literal(7), z.literal(8)], { error: 'must be 5, 6, 7 or 8' }).default(8),
  parity: z.enum(PARITIES).default('none'),
  stopBits: z.union([z.literal(1), z.literal(1.5), z.literal(2)], { error: 'must be 1, 1.5 or 2' }).default(1),
  // what ends a line; a trailing \r is dropped as well, so CRLF devices work with the default
  delimiter: z.string().min(1).default('\n'),
  encoding: z.enum(LINE_ENCODINGS).default('utf8'),
  // a polled device's reply must arrive within this
  timeout: duration.default(1000),
  // a "line" longer than this is garbage (a wrong baud rate or a missing delimiter), not a memory leak
  maxLineLength: z.number().int().min(16).max(1_048_576).default(4096),
});
export type SerialConnection = z.infer<typeof serialConnection>;

const regexSource = z.string().min(1).superRefine((source, ctx) => {
  try {
    new RegExp(source);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${(err as Error).message}` });
  }
});

/** How a line becomes fields: exactly one of regex (named groups), keyValue or csv. */
export const lineParse = z
  .strictObject({
    regex: regexSource.optional(),
    keyValue: z
      .strictObject({
        // between pairs; default: spaces, tabs, ',' or ';'
        pairSeparator: z.string().min(1).optional(),
        // between a key and its value
        valueSeparator: z.string().min(1).default('='),
      })
      .optional(),
    csv: z
      .strictObject({
        separator: z.string().min(1).default(','),
        // column names, so points can say `field: temp` instead of `field: 2`
        columns: z.array(z.string().min(1)).optional(),
      })
      .optional(),
  })
  .superRefine((parse, ctx) => {
    const given = (['regex', 'keyValue', 'csv'] as const).filter((k) => parse[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({ code: 'custom', message: given.length === 0 ? 'give one of regex, keyValue or csv' : `give only one of regex, keyValue or csv (got ${given.join(', ')})` });
    }
  });
export type LineParseSettings = z.infer<typeof lineParse>;

export const serialDevice = z.strictObject({
  ...deviceBase,
  driver: z.literal('serial'),
  connection: serialConnection,
  parse: lineParse,
  // polled devices: sent every `every` (or on `cron`); write escapes in double quotes: "READ\r\n"
  command: z.string().min(1).optional(),
});

// --- MQTT devices (docs/mqtt.md) ------------------------------------------------------
const topicPattern = z.string().superRefine((pattern, ctx) => {
  const problem = topicPatternProblem(pattern);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/** An external broker; without it the device subscribes on the embedded one (`broker:`). */
export const mqttConnection = z.strictObject({
  url: z.string().superRefine((url, ctx) => {
    let protocol: string;
    try {
      protocol = new URL(url).protocol;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a URL like mqtt://host:1883 or mqtts://host:8883' });
      return;
    }
    if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(protocol)) ctx.addIssue({ code: 'custom', message: 'must start with mqtt://, mqtts://, ws:// or wss://' });
  }),
  username: z.string().optional(),
  password: z.string().optional(),
  clientId: z.string().min(1).optional(),
  // TLS (mqtts://, wss://): a PEM file path or the PEM text itself
  ca: z.string().min(1).optional(),
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  rejectUnauthorized: z.boolean().default(true),
});
export type MqttConnection = z.infer<typeof mqttConnection>;

export const mqttDevice = z.strictObject({
  ...deviceBase,
  driver: z.literal('mqtt'),
  // e.g. ward/{ward}/bed/{bed}/vitals: {name} captures a segment into a tag; + and # as in MQTT
  topic: topicPattern.optional(),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)], { error: 'must be 0, 1 or 2' }).default(0),
  connection: mqttConnection.optional(),
});

export const device = z.discriminatedUnion('driver', [modbusDevice, serialDevice, mqttDevice]);
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
  broker: brokerSettings.optional(),
});
export type CatalogSettings = z.infer<typeof catalog>;

/** A point after the merge: addressing is complete (these keys are required). */
export const modbusPoint = pointSettings.extend({
  register: z.enum(REGISTERS),
  address: z.number().int().min(0).max(65535),
  type: z.enum(MODBUS_TYPES),
  order: z.enum(BYTE_ORDERS).default('ABCD'),
});

/** The keys every driver's points share: what the value means, and its transforms. */
const commonPointKeys = {
  measurement: true, unit: true, tags: true, scale: true, offset: true, min: true, max: true, decimals: true, map: true, deadband: true, maxSilence: true, alerts: true,
} as const;

/** A serial point after the merge; `field` defaults to the point id (resolve-fields.ts). */
export const serialPoint = pointSettings.pick(commonPointKeys).extend({
  field: z.union([z.string().min(1), z.number().int().min(0)]),
  type: z.enum(VALUE_TYPES).default('number'),
});

/** A JSON path: `a.b[0].c`, `[2]`, `readings[0]`. */
export const JSON_PATH = /^(?:[A-Za-z0-9_$@-]+|\[\d+\])(?:\.[A-Za-z0-9_$@-]+|\[\d+\])*$/;

/** An MQTT point after the merge; `topic` defaults to the device's (resolve-fields.ts). */
export const mqttPoint = pointSettings.pick(commonPointKeys).extend({
  topic: topicPattern,
  path: z.string().regex(JSON_PATH, 'must be a JSON path like a.b[0].c (names with letters, digits, _ $ @ -, and [index])').optional(),
  type: z.enum(VALUE_TYPES).default('number'),
});
