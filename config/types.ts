/** The resolved configuration the rest of the agent consumes: merged, defaulted, validated. */
import type { ModbusTcpConnection, SimulatorSettings } from './catalog.js';
import type { BYTE_ORDERS, MODBUS_TYPES, REGISTERS } from './catalog.js';

export type RegisterKind = (typeof REGISTERS)[number];
export type ModbusType = (typeof MODBUS_TYPES)[number];
export type ByteOrder = (typeof BYTE_ORDERS)[number];
export type MappedValue = string | number | boolean;

/** The transform of a point (agent/transform.ts applies it). */
export interface TransformSettings {
  scale?: number;
  offset?: number;
  min?: number;
  max?: number;
  decimals?: number;
  map?: Record<string, MappedValue>;
  deadband?: number;
  /** With a deadband: send the value anyway after this long without a report. */
  maxSilenceMs?: number;
}

export interface PointBase extends TransformSettings {
  id: string;
  deviceId: string;
  /**
   * The point's own (template point, then device override), else the device's, else the
   * template's, else `telemetry`: a device-level setting beats the profile it instantiates.
   */
  measurement: string;
  /**
   * Custom tags inherited gateway → template → device → template point → device point, then the
   * reserved `gateway`, `site`, `device`, `point` (a custom tag may not use those names).
   */
  tags: Record<string, string>;
  unit?: string;
}

export interface ModbusPoint extends PointBase {
  register: RegisterKind;
  address: number;
  /** Always `bool` on coil/discrete; `bool` on holding/input means "the register is non-zero". */
  type: ModbusType;
  order: ByteOrder;
}

export type Schedule = { kind: 'every'; everyMs: number } | { kind: 'cron'; cron: string };

interface DeviceBase {
  id: string;
  schedule: Schedule;
  template?: string;
  /** Device-level custom tags after inheritance (gateway, site, device included). */
  tags: Record<string, string>;
}

export interface ModbusDevice extends DeviceBase {
  driver: 'modbus';
  connection: ModbusTcpConnection;
  points: ModbusPoint[];
}

export type ResolvedDevice = ModbusDevice;
export type ResolvedPoint = ResolvedDevice['points'][number];

export interface Settings {
  gateway: { id: string; site: string; tags: Record<string, string> };
  buffer: { path: string };
  sinks: {
    influx: { url: string; token: string; org: string; bucket: string };
    postgres: { url: string; schema: string };
  };
  http: { host: string; port: number };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
}

export interface AgentConfig {
  settings: Settings;
  devices: ResolvedDevice[];
  simulators: SimulatorSettings[];
  /** Where it came from, for logs and `validate` output. */
  source: string;
}

export interface ConfigIssue {
  path: string;
  message: string;
}

/** An environment as the config room reads it: injected, so tests never touch `process.env`. */
export type Env = Readonly<Record<string, string | undefined>>;
