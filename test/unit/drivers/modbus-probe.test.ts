import { describe, expect, it } from 'vitest';
import { formatProbe, parseModbusProbe } from '../../../agent/commands/probe-modbus.js';
import { ProbeUsageError } from '../../../agent/commands/probe-common.js';

describe('probe modbus: the printout', () => {
  it('shows each register, then every pair in the four byte orders, side by side', () => {
    // float32 123.456 as a word-swapping (CDAB) meter sends it, then a counter 70000 as ABCD.
    const out = formatProbe({ register: 'holding', address: 100, count: 4 }, { kind: 'registers', words: [0xe979, 0x42f6, 0x0001, 0x1170] }, 'unit 1 at h:502 (tcp)');
    const lines = out.split('\n');
    expect(lines[0]).toBe('holding registers 100-103 of unit 1 at h:502 (tcp)');
    expect(lines).toContain('    100  0xE979   59769   -5767  ".y"');
    expect(lines).toContain('    101  0x42F6   17142   17142  "B."');
    const header = lines.find((l) => l.includes('ABCD'));
    expect(header?.trim().split(/\s+/)).toEqual(['address', 'type', 'ABCD', 'CDAB', 'BADC', 'DCBA']);
    const row = (address: number, type: string) => {
      const i = lines.findIndex((l) => l.trimStart().startsWith(`${address}  float32`));
      const at = type === 'float32' ? i : type === 'int32' ? i + 1 : i + 2;
      return lines[at]?.trim().split(/\s{2,}/) ?? [];
    };
    // The CDAB column of address 100 is the value: that is the order to configure.
    expect(row(100, 'float32')[3]).toBe('123.456');
    expect(row(102, 'uint32')).toEqual(['uint32', '70000', String(0x11700001), String(0x01007011), String(0x70110100)]);
    expect(row(102, 'int32').slice(0, 2)).toEqual(['int32', '70000']);
  });

  it('bits are listed one per address', () => {
    expect(formatProbe({ register: 'coil', address: 0, count: 3 }, { kind: 'bits', bits: [true, false, true, false, false] }, 't').split('\n').slice(2)).toEqual([
      'address  value',
      '      0  1 (on)',
      '      1  0 (off)',
      '      2  1 (on)',
    ]);
  });
});

describe('probe modbus: the command line', () => {
  it('takes the config keys’ names and defaults', () => {
    expect(parseModbusProbe(['--host', '10.0.0.5', '-a', '0'])).toEqual({
      connection: { protocol: 'tcp', host: '10.0.0.5', port: 502, unitId: 1, timeout: 1000 },
      register: 'holding',
      address: 0,
      count: 10,
    });
    expect(parseModbusProbe(['--path', '/dev/ttyUSB0', '--baud-rate', '19200', '--parity', 'even', '-u', '7', '-r', 'input', '-a', '30', '-n', '4', '--timeout', '300ms'])).toEqual({
      connection: { protocol: 'rtu', path: '/dev/ttyUSB0', baudRate: 19200, parity: 'even', dataBits: 8, stopBits: 1, unitId: 7, timeout: 300 },
      register: 'input',
      address: 30,
      count: 4,
    });
    expect(parseModbusProbe(['--protocol', 'rtu-over-tcp', '--host', 'gw', '--port', '4001', '-a', '1'])).toMatchObject({ connection: { protocol: 'rtu-over-tcp', host: 'gw', port: 4001 } });
    expect(parseModbusProbe(['--help'])).toBe('help');
  });

  it('says what is wrong', () => {
    const err = (argv: string[]) => {
      try {
        parseModbusProbe(argv);
      } catch (e) {
        if (e instanceof ProbeUsageError) return e.message;
        throw e;
      }
      return 'no error';
    };
    expect(err(['--host', 'h'])).toMatch(/missing --address/);
    expect(err(['--path', '/dev/x', '--port', '502', '-a', '0'])).toBe('--port do not apply to protocol rtu');
    expect(err(['--path', '/dev/x', '-u', '0', '-a', '0'])).toMatch(/^--unit-id: /);
    expect(err(['--host', 'h', '-a', '0', '-n', '126'])).toBe('--count must be between 1 and 125 for holding');
    expect(err(['--host', 'h', '-a', '0', '-r', 'coils'])).toMatch(/--register must be one of/);
    expect(err(['--host', 'h', '-a', '0', '--timeout', 'soon'])).toMatch(/^--timeout: invalid duration/);
    expect(err(['--host', 'h', '-a', '65535', '-n', '2'])).toMatch(/runs past the last address/);
    expect(err(['--host'])).toMatch(/argument missing/i);
  });
});

describe('probe modbus: float cells', () => {
  it('seven significant digits, exponents kept whole', () => {
    // 0x501502F9 is about 1e10; 0x42C80000 is 100; 0x3DCCCCCD is 0.1.
    const out = formatProbe({ register: 'input', address: 0, count: 2 }, { kind: 'registers', words: [0x5015, 0x02f9] }, 't');
    expect(out).toMatch(/ 1e\+10 /);
    const hundred = formatProbe({ register: 'input', address: 0, count: 2 }, { kind: 'registers', words: [0x42c8, 0x0000] }, 't');
    expect(hundred).toMatch(/float32 {2}100 /);
    const tenth = formatProbe({ register: 'input', address: 0, count: 2 }, { kind: 'registers', words: [0x3dcc, 0xcccd] }, 't');
    expect(tenth).toMatch(/float32 {2}0\.1 /);
  });
});
