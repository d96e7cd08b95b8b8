/**
 * An in-process Modbus TCP slave that behaves like a well pump, so the demo (and end-to-end
 * tests) run with no hardware; the agent polls it like any other device. Values are computed
 * from the clock on every request, so they change over time whether or not anyone polls.
 *
 * The register map mixes tables, types and byte orders on purpose, so a demo exercises the
 * decoder the way a real site would (a float meter, a CDAB totaliser, a little-endian energy
 * counter). It is documented in README.md and exported as WELL_PUMP_REGISTERS.
 */
import type { ByteOrder, ModbusType, RegisterKind } from '../../config/types.js';
import { systemClock, type DriverClock } from './deps.js';
import { RegisterImage, type BitTable, type RegisterSource, type WordTable } from './register-image.js';
import { startModbusTcpServer, type RunningModbusServer } from './server.js';
import { WellPumpModel, WELL_PUMP_PHYSICS, type WellPumpState } from './well-pump-model.js';

export interface SimulatedPoint {
  id: string;
  register: RegisterKind;
  address: number;
  type: ModbusType;
  order: ByteOrder;
  unit?: string;
  /** Multiply the raw value by this to get `unit`. */
  scale?: number;
  description: string;
}

/** The well pump's register map. Addresses are 0-based protocol addresses. */
export const WELL_PUMP_REGISTERS = [
  { id: 'flow', register: 'holding', address: 0, type: 'float32', order: 'ABCD', unit: 'm3/h', description: 'discharge flow' },
  { id: 'level', register: 'holding', address: 2, type: 'float32', order: 'ABCD', unit: 'm', description: 'tank level' },
  { id: 'pressure', register: 'holding', address: 4, type: 'float32', order: 'ABCD', unit: 'bar', description: 'discharge pressure' },
  { id: 'current', register: 'holding', address: 6, type: 'float32', order: 'ABCD', unit: 'A', description: 'motor current' },
  { id: 'total', register: 'holding', address: 8, type: 'uint32', order: 'CDAB', unit: 'm3', scale: 0.001, description: 'totaliser, litres (low word first)' },
  { id: 'starts', register: 'holding', address: 10, type: 'uint16', order: 'ABCD', description: 'pump starts (wraps at 65536)' },
  { id: 'faultCode', register: 'holding', address: 11, type: 'uint16', order: 'ABCD', description: '0 none, 1 motor overload trip' },
  { id: 'runHours', register: 'holding', address: 12, type: 'float64', order: 'ABCD', unit: 'h', description: 'motor run hours' },
  { id: 'temperature', register: 'input', address: 0, type: 'int16', order: 'ABCD', unit: '°C', scale: 0.1, description: 'water temperature, tenths of °C' },
  { id: 'voltage', register: 'input', address: 1, type: 'uint16', order: 'ABCD', unit: 'V', description: 'supply voltage' },
  { id: 'netFlow', register: 'input', address: 2, type: 'int32', order: 'BADC', unit: 'L/h', description: 'net flow into the tank, negative when draining' },
  { id: 'energy', register: 'input', address: 4, type: 'uint64', order: 'DCBA', unit: 'kWh', scale: 0.001, description: 'motor energy, Wh (little-endian)' },
  { id: 'running', register: 'coil', address: 0, type: 'bool', order: 'ABCD', description: 'pump contactor on' },
  { id: 'autoMode', register: 'coil', address: 1, type: 'bool', order: 'ABCD', description: 'level control in automatic' },
  { id: 'lowLevel', register: 'discrete', address: 0, type: 'bool', order: 'ABCD', description: `low level switch (below ${WELL_PUMP_PHYSICS.lowSwitchM} m)` },
  { id: 'highLevel', register: 'discrete', address: 1, type: 'bool', order: 'ABCD', description: `high level switch (above ${WELL_PUMP_PHYSICS.highSwitchM} m)` },
  { id: 'tripped', register: 'discrete', address: 2, type: 'bool', order: 'ABCD', description: 'motor protection tripped' },
] as const satisfies readonly SimulatedPoint[];

export type WellPumpPointId = (typeof WELL_PUMP_REGISTERS)[number]['id'];

/** Raw register values (before `scale`) from the physical state. */
const RAW: Record<WellPumpPointId, (s: Readonly<WellPumpState>) => number | boolean> = {
  flow: (s) => s.flow,
  level: (s) => s.level,
  pressure: (s) => s.pressure,
  current: (s) => s.current,
  total: (s) => Math.floor(s.totalLitres) % 2 ** 32,
  starts: (s) => s.starts,
  faultCode: (s) => s.faultCode,
  runHours: (s) => s.runHours,
  temperature: (s) => Math.round(s.temperature * 10),
  voltage: (s) => Math.round(s.voltage),
  netFlow: (s) => Math.round((s.flow - s.demand) * 1000),
  energy: (s) => Math.floor(s.energyWh),
  running: (s) => s.running,
  autoMode: () => true,
  lowLevel: (s) => s.level < WELL_PUMP_PHYSICS.lowSwitchM,
  highLevel: (s) => s.level > WELL_PUMP_PHYSICS.highSwitchM,
  tripped: (s) => s.faultCode !== 0,
};

/** The registers the pump would hold in this state. */
export function wellPumpImage(state: Readonly<WellPumpState>): RegisterImage {
  const image = new RegisterImage();
  for (const p of WELL_PUMP_REGISTERS) image.setValue(p.register, p.address, RAW[p.id](state), p.type, p.order);
  return image;
}

export interface WellPumpSimulatorOptions {
  host?: string;
  /** 0 picks a free port: read `port` after start(). */
  port: number;
  unitId?: number;
  clock?: DriverClock;
  seed?: number;
  /** Expected overload trips per running hour (default 0.5, 0 for none). */
  tripsPerHour?: number;
}

export class WellPumpSimulator implements RegisterSource {
  readonly model: WellPumpModel;
  private readonly clock: DriverClock;
  private server: RunningModbusServer | undefined;
  private starting: Promise<void> | undefined;
  private cache: { t: number; image: RegisterImage } | undefined;

  constructor(private readonly opts: WellPumpSimulatorOptions) {
    this.clock = opts.clock ?? systemClock;
    this.model = new WellPumpModel(this.clock.now(), { seed: opts.seed, tripsPerHour: opts.tripsPerHour });
  }

  /** The port listened on (the real one when 0 was asked); 0 before start(). */
  get port(): number {
    return this.server?.port ?? 0;
  }

  get host(): string {
    return this.opts.host ?? '127.0.0.1';
  }

  /** Resolves once listening. Idempotent. */
  async start(): Promise<void> {
    this.starting ??= startModbusTcpServer(this, { host: this.host, port: this.opts.port, unitId: this.opts.unitId ?? 1 }).then(
      (server) => {
        this.server = server;
      },
      (err: unknown) => {
        this.starting = undefined;
        throw err;
      },
    );
    await this.starting;
  }

  /** Closes the listener and every client connection. Idempotent, safe after a failed start. */
  async stop(): Promise<void> {
    const starting = this.starting;
    this.starting = undefined;
    if (starting) await starting.catch(() => undefined);
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }

  /** The physical state now. */
  snapshot(): Readonly<WellPumpState> {
    return { ...this.model.advance(this.clock.now()) };
  }

  /** Trips the motor now; it resets itself after `forMs`. */
  trip(forMs?: number): void {
    this.model.advance(this.clock.now());
    this.model.trip(forMs);
    this.cache = undefined;
  }

  registers(table: WordTable, address: number, count: number): number[] | undefined {
    return this.image().registers(table, address, count);
  }

  bit(table: BitTable, address: number): boolean | undefined {
    return this.image().bit(table, address);
  }

  /** One image per clock reading: every register of a request comes from the same moment. */
  private image(): RegisterImage {
    const t = this.clock.now();
    if (this.cache?.t !== t) this.cache = { t, image: wellPumpImage(this.model.advance(t)) };
    return this.cache.image;
  }
}
