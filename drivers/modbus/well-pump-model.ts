/**
 * The physics behind the simulator: a borehole pump filling a small storage tank that a village
 * draws from. Level control starts the pump at the low setpoint and stops it at the high one;
 * demand swings over a (compressed) day; flow, pressure and motor current follow the pump; the
 * totaliser, energy meter and run hours only go up. Now and then the motor trips on overload and
 * resets itself after a while.
 *
 * Deterministic: time comes from the caller and noise from a seeded generator, so a test that
 * drives the clock gets the same values every run. The tank is deliberately small so that a
 * demo sees a full fill/drain cycle in about a quarter of an hour.
 */

export interface WellPumpState {
  /** Epoch ms of the state. */
  t: number;
  running: boolean;
  /** m3/h into the tank (0 when stopped). */
  flow: number;
  /** m3/h drawn from the tank by consumers. */
  demand: number;
  /** m of water in the tank. */
  level: number;
  /** bar at the pump discharge. */
  pressure: number;
  /** A, motor phase current. */
  current: number;
  /** V, supply line-to-line. */
  voltage: number;
  /** °C, water temperature. */
  temperature: number;
  /** L pumped since commissioning (the totaliser). */
  totalLitres: number;
  /** Wh drawn by the motor since commissioning. */
  energyWh: number;
  runHours: number;
  starts: number;
  /** 0 none, 1 motor overload trip. */
  faultCode: number;
}

export interface WellPumpModelOptions {
  /** Expected overload trips per hour of running. Default 0.5; 0 for none. */
  tripsPerHour?: number;
  seed?: number;
}

export const WELL_PUMP_PHYSICS = {
  tankAreaM2: 1.5,
  startLevelM: 1.5,
  stopLevelM: 3.5,
  lowSwitchM: 1.0,
  highSwitchM: 4.0,
  ratedFlowM3h: 36,
  /** m of head from the pump to the tank bottom, held by the check valve when stopped. */
  staticHeadM: 18,
  /** bar of friction loss at rated flow. */
  frictionBar: 1.1,
  ratedCurrentA: 17,
  powerFactor: 0.86,
  /** Compressed day so the demand swing shows in a demo. */
  demandPeriodMs: 20 * 60_000,
  tripResetMs: 90_000,
} as const;

const P = WELL_PUMP_PHYSICS;
const BAR_PER_M = 0.0981;
const STEP_MS = 1000;
/** After a longer gap (a suspended laptop, a clock jump) only the last hour is simulated. */
const MAX_CATCH_UP_MS = 3_600_000;

/** mulberry32: tiny, fast and good enough for sensor noise (and for replayable random tests). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class WellPumpModel {
  private readonly random: () => number;
  private readonly tripsPerHour: number;
  private s: WellPumpState;
  private runSince = 0;
  private faultUntil = 0;
  // Ornstein–Uhlenbeck noise, so values wander like sensors rather than jump like dice.
  private flowNoise = 0;
  private demandNoise = 0;
  private pressureNoise = 0;
  private currentNoise = 0;

  constructor(startMs: number, opts: WellPumpModelOptions = {}) {
    this.random = rng(opts.seed ?? 17);
    this.tripsPerHour = opts.tripsPerHour ?? 0.5;
    this.runSince = startMs - 60_000;
    this.s = {
      t: startMs,
      running: true,
      flow: P.ratedFlowM3h,
      demand: 14,
      level: 2.2,
      pressure: 0,
      current: 0,
      voltage: 400,
      temperature: 14.5,
      totalLitres: 123_456_789,
      energyWh: 248_613_400,
      runHours: 1234.5,
      starts: 321,
      faultCode: 0,
    };
    this.derive();
  }

  /** Brings the state to `nowMs` and returns it. A clock that went backwards holds the state. */
  advance(nowMs: number): Readonly<WellPumpState> {
    if (nowMs <= this.s.t) {
      this.s.t = Math.min(this.s.t, nowMs);
      return this.s;
    }
    if (nowMs - this.s.t > MAX_CATCH_UP_MS) this.s.t = nowMs - MAX_CATCH_UP_MS;
    while (this.s.t < nowMs) {
      const dtMs = Math.min(STEP_MS, nowMs - this.s.t);
      this.step(dtMs);
    }
    return this.s;
  }

  get state(): Readonly<WellPumpState> {
    return this.s;
  }

  /** Trips the motor now (for demos and tests); it resets itself after `forMs`. */
  trip(forMs: number = P.tripResetMs): void {
    this.s.faultCode = 1;
    this.faultUntil = this.s.t + forMs;
    this.s.running = false;
    this.derive();
  }

  private gauss(): number {
    const u = 1 - this.random();
    const v = this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  private ou(x: number, dtS: number, tauS: number, sigma: number): number {
    return x - (x * dtS) / tauS + sigma * Math.sqrt(dtS) * this.gauss();
  }

  private step(dtMs: number): void {
    const s = this.s;
    const dtS = dtMs / 1000;
    s.t += dtMs;

    // Control: level switches start and stop the pump; a trip holds it off until it resets.
    if (s.faultCode !== 0 && s.t >= this.faultUntil) s.faultCode = 0;
    if (s.running && s.level >= P.stopLevelM) s.running = false;
    if (!s.running && s.faultCode === 0 && s.level <= P.startLevelM) {
      s.running = true;
      s.starts = (s.starts + 1) % 65536;
      this.runSince = s.t;
    }
    if (s.running && this.tripsPerHour > 0 && this.random() < (this.tripsPerHour * dtS) / 3600) {
      s.faultCode = 1;
      this.faultUntil = s.t + P.tripResetMs;
      s.running = false;
    }

    this.flowNoise = this.ou(this.flowNoise, dtS, 5, 0.35);
    this.demandNoise = this.ou(this.demandNoise, dtS, 30, 0.4);
    this.pressureNoise = this.ou(this.pressureNoise, dtS, 3, 0.01);
    this.currentNoise = this.ou(this.currentNoise, dtS, 3, 0.05);

    const phase = (2 * Math.PI * s.t) / P.demandPeriodMs;
    s.demand = Math.max(0, 14 + 8 * Math.sin(phase) + this.demandNoise);
    s.temperature = 14.5 + 0.6 * Math.sin(phase / 3);
    s.voltage = 400 + 4 * Math.sin(phase * 7) + this.currentNoise * 10;
    this.derive();

    s.level = Math.min(4.6, Math.max(0, s.level + ((s.flow - s.demand) / 3600) * (dtS / P.tankAreaM2)));
    s.totalLitres += (s.flow * dtS) / 3.6;
    s.energyWh += ((Math.sqrt(3) * s.voltage * s.current * P.powerFactor) / 1000) * (dtS / 3.6);
    if (s.running) s.runHours += dtS / 3600;
  }

  /** Flow, pressure and current from the running state (with a soft start and inrush). */
  private derive(): void {
    const s = this.s;
    if (!s.running) {
      s.flow = 0;
      s.current = 0;
      s.pressure = BAR_PER_M * (P.staticHeadM + s.level) + this.pressureNoise;
      return;
    }
    const sinceStartS = (s.t - this.runSince) / 1000;
    const ramp = 1 - Math.exp(-sinceStartS / 3);
    s.flow = Math.max(0, (P.ratedFlowM3h + this.flowNoise) * ramp);
    const load = s.flow / P.ratedFlowM3h;
    const inrush = 4 * Math.exp(-sinceStartS / 0.8);
    s.current = Math.max(0, P.ratedCurrentA * (0.55 + 0.45 * load) * (1 + inrush) + this.currentNoise);
    s.pressure = BAR_PER_M * (P.staticHeadM + s.level) + P.frictionBar * load * load + this.pressureNoise;
  }
}
