/**
 * The built-in device templates (templates/*.yaml) against a simulator holding the registers where
 * each maker's manual puts them. The tables below are written the manual's way (Modicon 3xxxx
 * numbers for Eastron, hex addresses for Waveshare and Delta) and converted here, so a template
 * address that does not match its manual reads the wrong value or an unmapped register.
 * pymodbus (Debian's python3-pymodbus) is the slave: sparse tables, unmapped addresses answer
 * exception 2. The agent runs as `edge-agent run --once`, with `template: NAME` and no copy.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { pymodbusAvailable, startPymodbusServer, type PymodbusServer, type PymodbusUnit } from '../helpers/modbus-pymodbus.js';
import { missing } from '../helpers/peers.js';

const float32 = (v: number): number[] => {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, v, false);
  return [view.getUint16(0, false), view.getUint16(2, false)];
};

/** Eastron manuals: input registers by their 3xxxx number, float32 high word first. */
function eastron(table: readonly (readonly [point: string, register: number, value: number])[]): PymodbusUnit {
  const ir: Record<number, number[]> = {};
  for (const [, register, value] of table) ir[register - 30001] = float32(value);
  return { ir };
}

// SDM120Modbus Protocol Implementation V2.4, "Input Registers"; values are exact in float32 (and at the template's
// decimals) and distinct, so a template reading the neighbour's register is caught.
const SDM120 = [
  ['voltage', 30001, 230.5], ['current', 30007, 4.25], ['activePower', 30013, 950.5], ['apparentPower', 30019, 979.5],
  ['reactivePower', 30025, -120.5], ['powerFactor', 30031, 0.875], ['phaseAngle', 30037, 12.5], ['frequency', 30071, 50.25],
  ['importActiveEnergy', 30073, 1234.5], ['exportActiveEnergy', 30075, 12.25], ['importReactiveEnergy', 30077, 345.75],
  ['exportReactiveEnergy', 30079, 6.5], ['totalActiveEnergy', 30343, 1246.75], ['totalReactiveEnergy', 30345, 352.25],
] as const;

// SDM630-Modbus V2 manual, table 1.2.1 "SDM630Modbus Input Registers".
const SDM630 = [
  ['voltageL1', 30001, 231.5], ['voltageL2', 30003, 229.5], ['voltageL3', 30005, 232],
  ['currentL1', 30007, 10.5], ['currentL2', 30009, 11.25], ['currentL3', 30011, 9.75],
  ['activePowerL1', 30013, 2300.5], ['activePowerL2', 30015, 2400], ['activePowerL3', 30017, 2101.5],
  ['apparentPowerL1', 30019, 2430.5], ['apparentPowerL2', 30021, 2584.5], ['apparentPowerL3', 30023, 2264.5],
  ['reactivePowerL1', 30025, 310.5], ['reactivePowerL2', 30027, 320], ['reactivePowerL3', 30029, -290.5],
  ['powerFactorL1', 30031, 0.875], ['powerFactorL2', 30033, 0.625], ['powerFactorL3', 30035, -0.125],
  ['voltageAverage', 30043, 231], ['currentAverage', 30047, 10.5], ['currentSum', 30049, 31.5],
  ['activePower', 30053, 6802], ['apparentPower', 30057, 7279.5], ['reactivePower', 30061, 340], ['powerFactor', 30063, 0.375],
  ['frequency', 30071, 49.75], ['importActiveEnergy', 30073, 98765.5], ['exportActiveEnergy', 30075, 321.25],
  ['importReactiveEnergy', 30077, 4567.75], ['exportReactiveEnergy', 30079, 89.5],
  ['voltageL1L2', 30201, 400.5], ['voltageL2L3', 30203, 399], ['voltageL3L1', 30205, 401.5], ['currentNeutral', 30225, 1.75],
  ['totalActiveEnergy', 30343, 99086.75], ['totalReactiveEnergy', 30345, 4657.25],
] as const;

// Waveshare "Modbus RTU Analog Input 8CH" wiki: AI1–AI8 at input registers 0x0000–0x0007 (µA in
// the current modes); each channel's mode at holding 0x1000–0x1007: 0 = 0–5 V, 1 = 1–5 V,
// 2 = 0–20 mA, 3 = 4–20 mA; mode 4 is not named by the template (the stored wiki lost its row).
const ANALOG_UA = [4000, 12000, 20000, 0, 3500, 21500, 8000, 16000];
const ANALOG_MODES = [3, 3, 1, 3, 3, 4, 2, 0];
const ANALOG: PymodbusUnit = { ir: { 0x0000: ANALOG_UA }, hr: { 0x1000: ANALOG_MODES } };

// Delta MS300 user manual, Appendix A, "5. Status monitor read only (21xx)" (FC03, U16).
const DELTA: PymodbusUnit = {
  hr: {
    0x2100: [
      (7 << 8) | 0, // warning 7, no fault
      0b11, // running
      5000, // frequency command 50.00 Hz
      4998, // output frequency 49.98 Hz
      735, // output current 7.35 A
      5650, // DC bus 565.0 V
      3801, // output voltage 380.1 V
    ],
  },
};

const dir = mkdtempSync(join(tmpdir(), 'edge-templates-'));
let server: PymodbusServer | undefined;
let run: CliResult;
let configFile: string;

const skip = missing('pymodbus', pymodbusAvailable(), 'Debian packages python3-pymodbus python3-serial python3-serial-asyncio');

/** `device/point  value unit  (raw …)  [where]  status` → point → { value, status }. */
function readingsOf(device: string): Map<string, { value: string; status: string }> {
  const out = new Map<string, { value: string; status: string }>();
  for (const line of run.stdout.split('\n')) {
    const m = /^(\S+)\/(\S+) {2}(\S+).*\] {2}(.+)$/.exec(line);
    if (m?.[1] === device) out.set(m[2] as string, { value: m[3] as string, status: m[4] as string });
  }
  return out;
}

describe.skipIf(skip)('built-in device templates against a simulator holding the manuals’ registers', () => {
  beforeAll(async () => {
    server = await startPymodbusServer({ 1: eastron(SDM120), 2: eastron(SDM630), 3: ANALOG, 4: DELTA });
    const device = (id: string, unitId: number, template: string) =>
      `  - { id: ${id}, driver: modbus, connection: { protocol: tcp, host: 127.0.0.1, port: ${server?.port}, unitId: ${unitId}, timeout: 2s }, every: 10s, template: ${template} }\n`;
    configFile = join(dir, 'templates.yaml');
    writeFileSync(
      configFile,
      `gateway: { id: gw-templates }\nbuffer: { path: ":memory:" }\ndevices:\n` +
        device('meter-1', 1, 'eastron-sdm120') +
        device('meter-3', 2, 'eastron-sdm630') +
        device('levels', 3, 'waveshare-analog-input-8ch') +
        device('pump-vfd', 4, 'delta-ms300'),
    );
    run = await runCli(['run', '--once', '--config', configFile], { timeoutMs: 30_000 });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('uses every template by name, without copying it into the config', () => {
    const config = loadConfig({ file: configFile, env: {} });
    const ids = (id: string) => config.devices.find((d) => d.id === id)?.points.map((p) => p.id).sort();
    expect(ids('meter-1')).toEqual(SDM120.map(([p]) => p).sort());
    expect(ids('meter-3')).toEqual(SDM630.map(([p]) => p).sort());
    expect(ids('levels')).toEqual([...Array.from({ length: 8 }, (_, i) => `ai${i + 1}`), ...Array.from({ length: 8 }, (_, i) => `range${i + 1}`)].sort());
    expect(ids('pump-vfd')).toEqual(['dcBusVoltage', 'fault', 'frequencyCommand', 'motorTurning', 'outputCurrent', 'outputFrequency', 'outputVoltage', 'statusWord', 'warning']);
  });

  it('Eastron SDM120: every point reads its manual register', () => {
    const got = readingsOf('meter-1');
    for (const [point, register, value] of SDM120) expect(got.get(point), `${point} (${register})`).toEqual({ value: String(value), status: 'ok' });
  });

  it('Eastron SDM630: every point reads its manual register', () => {
    const got = readingsOf('meter-3');
    for (const [point, register, value] of SDM630) expect(got.get(point), `${point} (${register})`).toEqual({ value: String(value), status: 'ok' });
  });

  it('Waveshare analog input: loop current in mA, a broken or faulted loop (NAMUR NE 43) bad, the ranges named', () => {
    const got = readingsOf('levels');
    expect(['ai1', 'ai2', 'ai3', 'ai7', 'ai8'].map((p) => got.get(p))).toEqual(['4', '12', '20', '8', '16'].map((value) => ({ value, status: 'ok' })));
    expect(got.get('ai4')?.status).toMatch(/^bad /); // 0 mA: wire broken
    expect(got.get('ai5')?.status).toMatch(/^bad /); // 3.5 mA: below 3.6
    expect(got.get('ai6')?.status).toMatch(/^bad /); // 21.5 mA: above 21
    // every mode register, named as the wiki names the modes
    expect([1, 2, 3, 4, 5, 7, 8].map((n) => got.get(`range${n}`))).toEqual(
      ['4-20mA', '4-20mA', '1-5V', '4-20mA', '4-20mA', '0-20mA', '0-5V'].map((value) => ({ value, status: 'ok' })),
    );
    // mode 4 is not in the template's map: the bare number, and not passed off as a good reading
    expect(got.get('range6')?.value).toBe('4');
    expect(got.get('range6')?.status).toMatch(/^uncertain/);
    // out of range is a judgement on a good reading (the module answered), so --once still exits 0
    expect(run.code).toBe(0);
  });

  it('Delta MS300: status block 2100H–2106H scaled to Hz, A and V', () => {
    const got = readingsOf('pump-vfd');
    const values = Object.fromEntries([...got].map(([p, r]) => [p, r.value]));
    expect(values).toEqual({
      fault: '0', warning: '7', statusWord: '3', motorTurning: 'true',
      frequencyCommand: '50', outputFrequency: '49.98', outputCurrent: '7.35', dcBusVoltage: '565', outputVoltage: '380.1',
    });
    expect([...got.values()].every((r) => r.status === 'ok')).toBe(true);
  });
});
