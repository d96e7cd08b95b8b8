/** The resolved configuration the rest of the agent consumes: merged, defaulted, validated. */
import type { ModbusConnectionSettings, ModbusTcpConnection, MqttConnection, SerialConnection, SimulatorSettings } from './catalog.js';
import type { BYTE_ORDERS, MODBUS_TYPES, REGISTERS, VALUE_TYPES } from './catalog.js';
import type { BrokerSettings } from './broker.js';
import type { AlertRule } from './alerts.js';
import type { ConfigIssue } from './issues.js';
import type { PointWrite } from './write.js';

export type { AlertRule } from './alerts.js';

export type RegisterKind = (typeof REGISTERS)[number];
export type ModbusType = (typeof MODBUS_TYPES)[number];
export type ByteOrder = (typeof BYTE_ORDERS)[number];
export type MappedValue = string | number | boolean;

/** The transform of a point (agent/pipeline/transform.ts applies it). */
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
  /** Local alert rules (agent/alerts), template rules merged with the point's by rule id. */
  alerts?: AlertRule[];
}

export interface ModbusPoint extends PointBase {
  register: RegisterKind;
  address: number;
  /** Always `bool` on coil/discrete; `bool` on holding/input means "the register is non-zero". */
  type: ModbusType;
  order: ByteOrder;
  /** `string` only: how many registers (2 characters each) the string spans. */
  length?: number;
  /** One bit (0 = least significant) of a holding/input register; the type is then `bool`. */
  bit?: number;
  /** `int8`/`uint8` only: which byte of the register (high = the first on the wire). */
  byte?: 'high' | 'low';
  /** Present when the point may be written (config/write.ts). */
  write?: PointWrite;
}

export type { PointWrite } from './write.js';

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
  connection: ModbusConnectionSettings;
  points: ModbusPoint[];
  /** Unused registers (bits for coils/discrete inputs) one request may read through; default 0. */
  maxGap?: number;
  /** false: one request per point (devices that reject multi-point reads); default true. */
  coalesce?: boolean;
}
/** A Modbus device reached over Modbus TCP (its own connection). */
export type ModbusTcpDevice = ModbusDevice & { connection: ModbusTcpConnection };

export type ValueType = (typeof VALUE_TYPES)[number];

export interface SerialPoint extends PointBase {
  /** A regex group name, a key of a key=value line, or a CSV column (0-based index or name). */
  field: string | number;
  type: ValueType;
}

/** How a line becomes fields (resolve-fields.ts normalizes the `parse:` settings into this). */
export type LineParse =
  | { kind: 'regex'; regex: string }
  | { kind: 'keyValue'; pairSeparator?: string; valueSeparator: string }
  | { kind: 'csv'; separator: string; columns?: string[] };

export interface SerialDevice extends Omit<DeviceBase, 'schedule'> {
  driver: 'serial';
  connection: SerialConnection;
  parse: LineParse;
  /** Polled devices only: sent on every scheduled poll; the first line that parses is the reply. */
  command?: string;
  /** Present for polled devices (with `command`); a streaming device has none. */
  schedule?: Schedule;
  points: SerialPoint[];
}

export interface MqttPoint extends PointBase {
  /** The topic pattern as written (`ward/{ward}/bed/{bed}/vitals`). */
  topic: string;
  /** The MQTT filter subscribed to (`ward/+/bed/+/vitals`). */
  filter: string;
  /** Per segment of the filter, the tag name it is captured into, if any. */
  captures: (string | undefined)[];
  /** JSON path into the payload; none: the payload itself is the value. */
  path?: string;
  type: ValueType;
}

export interface MqttDevice extends Omit<DeviceBase, 'schedule'> {
  driver: 'mqtt';
  /** Not polled: a reading arrives whenever the sensor publishes. */
  schedule?: undefined;
  /** An external broker; absent: the embedded broker, in-process. */
  connection?: MqttConnection;
  qos: 0 | 1 | 2;
  /** Bytes: a larger message is a bad reading (EDGE_PAYLOAD_TOO_LARGE), never parsed. Default 64 KiB. */
  maxPayload?: number;
  /** JSON nesting deeper than this is a bad reading (EDGE_PAYLOAD_TOO_DEEP), never parsed. Default 32. */
  maxDepth?: number;
  points: MqttPoint[];
}

export type ResolvedDevice = ModbusDevice | SerialDevice | MqttDevice;
/** A device the scheduler polls (Modbus, and serial devices with a command). */
export type PolledDevice = ResolvedDevice & { schedule: Schedule };
export type ResolvedPoint = ResolvedDevice['points'][number];

export interface Settings {
  gateway: { id: string; site: string; tags: Record<string, string> };
  buffer: {
    path: string;
    /** Most rows kept; at the bound `whenFull` decides. */
    maxRows: number;
    /** Most bytes of database file (written as 1GiB, 512MB, … and normalised to bytes). */
    maxBytes: number;
    whenFull: 'dropOldest' | 'rejectNew';
    /** SQLite synchronous mode: `full` fsyncs every commit (survives power loss), `normal` only checkpoints. */
    synchronous: 'normal' | 'full';
    /** Points read while the wall clock is not trusted: held and re-stamped once it is, or sent flagged. */
    untrustedClock: 'restamp' | 'flag';
    /**
     * Readings wait at most this long (ms) to be committed with others: one commit per tick of all
     * devices, not one per device cycle. A SIGKILL or power loss can lose only readings of the
     * last interval, which no sink had received yet. 0: a commit per poll cycle.
     */
    commitInterval: number;
    /**
     * The local history (agent/pipeline/history.ts): min/avg/max buckets of `step` ms kept `keep`
     * ms, and of `longStep` ms kept `longKeep` ms, at most `maxRows` rows, in the buffer file.
     */
    history: { enabled: boolean; step: number; keep: number; longStep: number; longKeep: number; maxRows: number };
  };
  sinks: {
    influx: { url: string; token: string; org: string; bucket: string };
    postgres: { url: string; schema: string };
  };
  /** `token`: bearer token for /metrics and /status (empty: none; the probes and the page stay open). */
  http: {
    host: string;
    port: number;
    token: string;
    /** Connections at once; past it the oldest one without a request in progress is closed. */
    maxConnections: number;
    /** Bytes of request line and headers. */
    maxHeaderSize: number;
    /** Characters of the request target (path and query). */
    maxUrlLength: number;
    /** ms a client has to send its headers, and its whole request. */
    headersTimeout: number;
    requestTimeout: number;
  };
  /** `format`: auto = readable lines on a terminal, JSON lines otherwise (journald, Docker, pipes). */
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; format: 'auto' | 'json' | 'pretty' };
  /**
   * The link to central ops (agent/central). `prefix`: topic root, `<prefix>/<gateway>/…` (default
   * `edge`). Local only: a config push never changes this section.
   */
  central: {
    prefix: string;
    /** Empty: no ops link. */
    url: string;
    username: string;
    password: string;
    /** PEM file paths for TLS; empty: none. */
    ca: string;
    cert: string;
    key: string;
    /** PEM file of the Ed25519 key config pushes are signed with. */
    publicKey: string;
    allowUnsigned: boolean;
    /** Accept signed `request/points/write` from central (never unsigned). */
    allowWrites: boolean;
    /** PEM file of the Ed25519 key write commands are signed with; empty: `publicKey`. */
    commandKey: string;
    /** ms: a write whose `expires` is further ahead than this is refused (bounds the nonce memory). */
    commandMaxExpiry: number;
    healthEvery: number;
    /** ms a pushed config has to come up before it is rolled back. */
    applyTimeout: number;
    /** Pushed configs, the last-known-good and the running revision. */
    stateDir: string;
  };
}

export interface AgentConfig {
  settings: Settings;
  devices: ResolvedDevice[];
  simulators: SimulatorSettings[];
  /** The embedded MQTT broker; undefined or `enabled: false` when there is none. */
  broker?: BrokerSettings;
  /** Where it came from, for logs and `validate` output. */
  source: string;
  /** Likely mistakes in a valid config (config/hints.ts): `validate` prints them, the agent logs them at start. */
  hints?: ConfigIssue[];
}

export type { ConfigIssue } from './issues.js';

/** An environment as the config room reads it: injected, so tests never touch `process.env`. */
export type Env = Readonly<Record<string, string | undefined>>;
