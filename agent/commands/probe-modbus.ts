// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/**
 * `edge-agent probe modbus`: reads a range of registers (or bits) once and prints them so a
 * technician can map a device: each register in hex, unsigned, signed and as text, then every
 * pair of registers as float32, int32 and uint32 in all four byte orders side by side. The order
 * whose column shows sensible numbers is the `order` to configure.
 */
import { modbusConnection, REGISTERS, type ModbusConnectionSettings } from '../../config/catalog.js';
import { parseDuration } from '../../config/duration.js';
import { fromZod, zodMessage } from '../../config/issues.js';
import type { ByteOrder, RegisterKind } from '../../config/types.js';
import { ModbusBus } from '../../drivers/modbus/bus.js';
import { linkSettings } from '../../drivers/modbus/bus-registry.js';
import { ModbusConnection } from '../../drivers/modbus/connection.js';
import { decodeRegisters } from '../../drivers/modbus/decode.js';
import { systemClock } from '../../drivers/modbus/deps.js';
import { classifyBusError, classifyError } from '../../drivers/modbus/errors.js';
import { MAX_READ } from '../../drivers/modbus/plan.js';
import type { RequestResult } from '../../drivers/modbus/read-cycle.js';
import { probeFlags, probeRequest, ProbeUsageError } from './probe-common.js';

export const MODBUS_PROBE_HELP = `Usage: edge-agent probe modbus (--host HOST | --path DEVICE) --address N [options]

Reads registers (or coils) once and prints each one, then every two registers as float32,
int32 and uint32 in the four byte orders side by side: the column with sensible numbers is the
point's \`order\`. Nothing is written; the agent need not run (stop it first on a serial port).

Where:
      --host HOST          Modbus TCP device or gateway (protocol tcp)
      --path DEVICE        serial port, e.g. /dev/ttyUSB0 (protocol rtu)
      --protocol P         tcp, rtu or rtu-over-tcp (default: rtu with --path, else tcp)
      --port N             TCP port (default 502)
      --baud-rate N        serial speed (default 9600)
      --parity P           none, even or odd (default none)
      --stop-bits N        1 or 2 (default 1)
  -u, --unit-id N          slave address (default 1)
      --timeout T          wait for the answer, e.g. 500ms, 2s (default 1s)
What:
  -r, --register KIND      holding (default), input, coil or discrete
  -a, --address N          first address, 0-based as on the wire (40001 is holding 0)
  -n, --count N            how many registers or bits (default 10; at most 125 registers, 2000 bits)
  -h, --help               this text

Exit codes: 0 read, 1 no answer or an exception response, 2 usage error.
Example: edge-agent probe modbus --path /dev/ttyUSB0 --baud-rate 19200 -u 3 -a 0 -n 8`;

const OPTIONS = {
  host: { type: 'string' },
  path: { type: 'string' },
  protocol: { type: 'string' },
  port: { type: 'string' },
  'baud-rate': { type: 'string' },
  parity: { type: 'string' },
  'stop-bits': { type: 'string' },
  'unit-id': { type: 'string', short: 'u' },
  timeout: { type: 'string' },
  register: { type: 'string', short: 'r' },
  address: { type: 'string', short: 'a' },
  count: { type: 'string', short: 'n' },
  help: { type: 'boolean', short: 'h' },
} as const;


export interface ModbusProbeRequest {
  connection: ModbusConnectionSettings;
  register: RegisterKind;
  address: number;
  count: number;
}

/** Command line → a validated request, with the config's own defaults and checks. */
export function parseModbusProbe(argv: string[]): ModbusProbeRequest | 'help' {
  const values = probeFlags(argv, OPTIONS);
  if (values.help) return 'help';
  const int = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new ProbeUsageError(`--${name} takes a whole number (got ${v})`);
    return n;
  };
  let timeout: number | undefined;
  if (values.timeout !== undefined) {
    try {
      timeout = parseDuration(values.timeout);
    } catch (err) {
      throw new ProbeUsageError(`--timeout: ${(err as Error).message}`);
    }
  }
  const protocol = values.protocol ?? (values.path !== undefined ? 'rtu' : 'tcp');
  const given: Record<string, unknown> = {
    protocol,
    host: values.host,
    path: values.path,
    port: int('port', values.port),
    baudRate: int('baud-rate', values['baud-rate']),
    parity: values.parity,
    stopBits: int('stop-bits', values['stop-bits']),
    unitId: int('unit-id', values['unit-id']),
    timeout,
  };
  // Only the keys this protocol has: the schema is strict, and --path with tcp is a mistake to report.
  const keys: Record<string, readonly string[]> = {
    tcp: ['protocol', 'host', 'port', 'unitId', 'timeout'],
    rtu: ['protocol', 'path', 'baudRate', 'parity', 'stopBits', 'unitId', 'timeout'],
    'rtu-over-tcp': ['protocol', 'host', 'port', 'unitId', 'timeout'],
  };
  const allowed = keys[protocol];
  if (allowed === undefined) throw new ProbeUsageError(`--protocol must be tcp, rtu or rtu-over-tcp (got ${protocol})`);
  const stray = Object.entries(given).filter(([k, v]) => v !== undefined && !allowed.includes(k));
  if (stray.length > 0) throw new ProbeUsageError(`${stray.map(([k]) => optionName(k)).join(', ')} do not apply to protocol ${protocol}`);
  const parsed = modbusConnection.safeParse(Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)), { error: zodMessage });
  if (!parsed.success) {
    throw new ProbeUsageError(fromZod(parsed.error).map((i) => `${optionName(i.path)}: ${i.message}`).join('; '));
  }
  const register = (values.register ?? 'holding') as RegisterKind;
  if (!REGISTERS.includes(register)) throw new ProbeUsageError(`--register must be one of ${REGISTERS.join(', ')} (got ${values.register})`);
  const address = int('address', values.address);
  if (address === undefined) throw new ProbeUsageError('missing --address N (the first register, 0-based)');
  const count = int('count', values.count) ?? 10;
  if (address < 0 || address > 65535) throw new ProbeUsageError('--address must be between 0 and 65535');
  if (count < 1 || count > MAX_READ[register]) throw new ProbeUsageError(`--count must be between 1 and ${MAX_READ[register]} for ${register}`);
  if (address + count > 65536) throw new ProbeUsageError(`--count ${count} from ${address} runs past the last address 65535`);
  return { connection: parsed.data, register, address, count };
}

function optionName(key: string): string {
  const flag: Record<string, string> = { baudRate: 'baud-rate', stopBits: 'stop-bits', unitId: 'unit-id' };
  return `--${flag[key] ?? key}`;
}

export type ProbeOutcome = { ok: true; result: RequestResult } | { ok: false; code: string; detail: string };

/** Sends the one request over a connection made for it, and closes it. Never throws for a device fault. */
export async function runModbusProbe(req: ModbusProbeRequest): Promise<ProbeOutcome> {
  const { connection: c, register, address, count } = req;
  const request = { register, address, count };
  const signal = new AbortController().signal;
  if (c.protocol === 'tcp') {
    const conn = new ModbusConnection({ host: c.host, port: c.port, unitId: c.unitId, timeoutMs: c.timeout, clock: systemClock });
    try {
      await conn.open(signal);
      return { ok: true, result: await conn.read({ ...request, points: [] }, signal) };
    } catch (err) {
      const { code, detail } = classifyError(err);
      return { ok: false, code, detail };
    } finally {
      conn.destroy();
    }
  }
  const bus = new ModbusBus({ link: linkSettings(c), clock: systemClock });
  try {
    return { ok: true, result: await bus.read({ unitId: c.unitId, request, timeoutMs: c.timeout }, signal) };
  } catch (err) {
    const { code, detail } = classifyBusError(err);
    return { ok: false, code, detail };
  } finally {
    await bus.close();
  }
}

export function describeTarget(c: ModbusConnectionSettings): string {
  if (c.protocol === 'rtu') return `unit ${c.unitId} on ${c.path} (rtu, ${c.baudRate} baud, parity ${c.parity}, ${c.stopBits} stop bit${c.stopBits === 1 ? '' : 's'})`;
  return `unit ${c.unitId} at ${c.host}:${c.port} (${c.protocol})`;
}

const ORDERS: readonly ByteOrder[] = ['ABCD', 'CDAB', 'BADC', 'DCBA'];
const TABLE_NAMES: Record<RegisterKind, string> = { holding: 'holding registers', input: 'input registers', coil: 'coils', discrete: 'discrete inputs' };

/** The probe's printout: pure, so it is tested without a device. */
export function formatProbe(req: Pick<ModbusProbeRequest, 'register' | 'address' | 'count'>, result: RequestResult, target: string): string {
  const { register, address, count } = req;
  const lines = [`${TABLE_NAMES[register]} ${address}-${address + count - 1} of ${target}`, ''];
  if (result.kind === 'bits') {
    lines.push(`${'address'.padStart(7)}  value`);
    result.bits.slice(0, count).forEach((b, i) => lines.push(`${String(address + i).padStart(7)}  ${b ? '1 (on)' : '0 (off)'}`));
    return lines.join('\n');
  }
  const words = result.words.slice(0, count);
  lines.push(`${'address'.padStart(7)}  ${'hex'.padEnd(6)}  ${'uint16'.padStart(6)}  ${'int16'.padStart(6)}  text`);
  words.forEach((w, i) => {
    const text = [w >>> 8, w & 0xff].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${String(address + i).padStart(7)}  ${hex(w).padEnd(6)}  ${String(w).padStart(6)}  ${String(w > 0x7fff ? w - 0x10000 : w).padStart(6)}  "${text}"`);
  });
  if (words.length < 2) return lines.join('\n');
  lines.push('', 'Two registers from each address, in the four byte orders (the column that makes sense is the `order`):');
  lines.push(`${'address'.padStart(7)}  ${'type'.padEnd(7)}  ${ORDERS.map((o) => o.padEnd(16)).join('  ').trimEnd()}`);
  for (let i = 0; i + 1 < words.length; i++) {
    const pair = words.slice(i, i + 2);
    for (const type of ['float32', 'int32', 'uint32'] as const) {
      const cells = ORDERS.map((o) => {
        const v = decodeRegisters(pair, type, o) as number;
        return (type === 'float32' ? showFloat(v) : String(v)).padEnd(16);
      });
      lines.push(`${(type === 'float32' ? String(address + i) : '').padStart(7)}  ${type.padEnd(7)}  ${cells.join('  ').trimEnd()}`);
    }
  }
  return lines.join('\n');
}

function hex(w: number): string {
  return `0x${w.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Seven significant digits (a float32 holds about that many), trailing zeros dropped. */
function showFloat(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const [mantissa = '', exponent] = v.toPrecision(7).split('e');
  const m = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
  return exponent === undefined ? m : `${m}e${exponent}`;
}

/** The whole subcommand: parse, read, print. Returns the exit code. */
export async function probeModbus(argv: string[], out: { log(s: string): void; error(s: string): void } = console): Promise<number> {
  const req = probeRequest('modbus', MODBUS_PROBE_HELP, () => parseModbusProbe(argv), out);
  if (typeof req === 'number') return req;
  const target = describeTarget(req.connection);
  const outcome = await runModbusProbe(req);
  if (!outcome.ok) {
    out.error(`${TABLE_NAMES[req.register]} ${req.address}-${req.address + req.count - 1} of ${target}: ${outcome.code}: ${outcome.detail}${hint(outcome.code)}`);
    return 1;
  }
  out.log(formatProbe(req, outcome.result, target));
  return 0;
}

function hint(code: string): string {
  if (code === 'EDGE_MODBUS_EXCEPTION_2') return '\n  (the device has no such address: try a smaller --count, or another --address or --register)';
  if (code === 'EDGE_DEVICE_TIMEOUT') return '\n  (no answer: check --unit-id, the baud rate and parity, and the A/B wiring)';
  return '';
}
