import { describe, expect, it } from 'vitest';
import { decodeRegisters } from '../../../drivers/modbus/decode.js';
import { WELL_PUMP_REGISTERS, wellPumpImage } from '../../../drivers/modbus/simulator.js';
import { WELL_PUMP_PHYSICS as P, WellPumpModel, type WellPumpState } from '../../../drivers/modbus/well-pump-model.js';

const T0 = Date.UTC(2025, 0, 1);

function run(model: WellPumpModel, minutes: number, everyMs = 5000): WellPumpState[] {
  const out: WellPumpState[] = [];
  for (let t = T0 + everyMs; t <= T0 + minutes * 60_000; t += everyMs) out.push({ ...model.advance(t) });
  return out;
}

describe('WellPumpModel', () => {
  it('cycles the pump on the level setpoints and keeps every quantity physical', () => {
    const states = run(new WellPumpModel(T0, { tripsPerHour: 0 }), 120);
    const starts = states.filter((s, i) => i > 0 && s.running && !states[i - 1]?.running).length;
    const stops = states.filter((s, i) => i > 0 && !s.running && states[i - 1]?.running).length;
    expect(starts).toBeGreaterThanOrEqual(2);
    expect(stops).toBeGreaterThanOrEqual(2);
    for (const s of states) {
      expect(s.level).toBeGreaterThan(P.startLevelM - 0.1);
      expect(s.level).toBeLessThan(P.stopLevelM + 0.1);
      if (!s.running) {
        expect(s.flow).toBe(0);
        expect(s.current).toBe(0);
        expect(s.pressure).toBeGreaterThan(1.8);
        expect(s.pressure).toBeLessThan(2.3);
      } else {
        expect(s.flow).toBeLessThan(P.ratedFlowM3h + 3);
        expect(s.pressure).toBeGreaterThan(1.8);
        expect(s.pressure).toBeLessThan(3.5);
      }
      expect(s.demand).toBeGreaterThanOrEqual(0);
    }
    const steady = states.filter((s, i) => s.running && states[i - 3]?.running);
    const meanFlow = steady.reduce((n, s) => n + s.flow, 0) / steady.length;
    expect(meanFlow).toBeGreaterThan(P.ratedFlowM3h - 1.5);
    expect(meanFlow).toBeLessThan(P.ratedFlowM3h + 1.5);
    expect(new Set(steady.map((s) => s.flow.toFixed(3))).size).toBeGreaterThan(steady.length / 2); // noisy
  });

  it('only counts up: totaliser, energy, run hours and starts', () => {
    const states = run(new WellPumpModel(T0, { tripsPerHour: 0 }), 60);
    for (let i = 1; i < states.length; i++) {
      const [a, b] = [states[i - 1]!, states[i]!];
      expect(b.totalLitres).toBeGreaterThanOrEqual(a.totalLitres);
      expect(b.energyWh).toBeGreaterThanOrEqual(a.energyWh);
      expect(b.runHours).toBeGreaterThanOrEqual(a.runHours);
      if (!a.running && !b.running) expect(b.runHours).toBe(a.runHours);
      expect(b.starts).toBeGreaterThanOrEqual(a.starts);
    }
    // 36 m3/h for roughly half the hour
    const pumped = (states.at(-1)!.totalLitres - 123_456_789) / 1000;
    expect(pumped).toBeGreaterThan(8);
    expect(pumped).toBeLessThan(36);
  });

  it('is deterministic for a seed', () => {
    expect(run(new WellPumpModel(T0, { seed: 5 }), 30)).toEqual(run(new WellPumpModel(T0, { seed: 5 }), 30));
    expect(run(new WellPumpModel(T0, { seed: 5 }), 30)).not.toEqual(run(new WellPumpModel(T0, { seed: 6 }), 30));
  });

  it('trips, holds the pump off, and resets itself', () => {
    const model = new WellPumpModel(T0, { tripsPerHour: 0 });
    model.advance(T0 + 10_000);
    model.trip(30_000);
    expect(model.state).toMatchObject({ running: false, faultCode: 1, flow: 0, current: 0 });
    expect(model.advance(T0 + 39_000)).toMatchObject({ faultCode: 1, running: false });
    const after = model.advance(T0 + 41_000);
    expect(after.faultCode).toBe(0);
  });

  it('trips by itself now and then when asked to', () => {
    const states = run(new WellPumpModel(T0, { tripsPerHour: 30 }), 60);
    expect(states.some((s) => s.faultCode === 1)).toBe(true);
  });

  it('survives clock jumps: a day forward is cheap, backwards holds the state', () => {
    const model = new WellPumpModel(T0);
    const started = performance.now();
    model.advance(T0 + 86_400_000);
    expect(performance.now() - started).toBeLessThan(1000);
    const before = { ...model.state };
    expect(model.advance(T0)).toMatchObject({ totalLitres: before.totalLitres, level: before.level });
  });
});

describe('WELL_PUMP_REGISTERS', () => {
  it('has unique ids and non-overlapping registers', () => {
    expect(new Set(WELL_PUMP_REGISTERS.map((p) => p.id)).size).toBe(WELL_PUMP_REGISTERS.length);
    const used = new Set<string>();
    for (const p of WELL_PUMP_REGISTERS) {
      const width = p.register === 'coil' || p.register === 'discrete' ? 1 : { bool: 1, int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4 }[p.type];
      for (let a = p.address; a < p.address + width; a++) {
        const key = `${p.register}:${a}`;
        expect(used.has(key), key).toBe(false);
        used.add(key);
      }
    }
  });

  it('encodes the state the way the map says (decoding the image gives the state back)', () => {
    const model = new WellPumpModel(T0, { tripsPerHour: 0 });
    const s = model.advance(T0 + 30_000);
    const image = wellPumpImage(s);
    const read = (id: string) => {
      const p = WELL_PUMP_REGISTERS.find((x) => x.id === id)!;
      if (p.register === 'coil' || p.register === 'discrete') return image.bit(p.register, p.address);
      const n = { bool: 1, int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4 }[p.type];
      return decodeRegisters(image.registers(p.register, p.address, n)!, p.type, p.order);
    };
    expect(read('flow')).toBe(Math.fround(s.flow));
    expect(read('level')).toBe(Math.fround(s.level));
    expect(read('total')).toBe(Math.floor(s.totalLitres));
    expect(read('runHours')).toBe(s.runHours);
    expect(read('temperature')).toBe(Math.round(s.temperature * 10));
    expect(read('netFlow')).toBe(Math.round((s.flow - s.demand) * 1000));
    expect(read('energy')).toBe(Math.floor(s.energyWh));
    expect(read('running')).toBe(s.running);
    expect(read('tripped')).toBe(false);
    expect(image.registers('holding', 16, 1)).toBeUndefined();
  });
});
