/**
 * Debian's python3-pymodbus as an independent Modbus slave (TCP, RTU over TCP, RTU on a serial
 * port): the drivers are checked against a peer that shares no code with ours or modbus-serial's. Runs test/helpers/modbus-pymodbus-server.py
 * under the system Python (pymodbus is a Debian package, not in a pyenv interpreter).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./modbus-pymodbus-server.py', import.meta.url));

/** The register tables only (the write behaviours below are extra). */
export type PymodbusTables = Pick<PymodbusUnit, 'hr' | 'ir' | 'co' | 'di'>;

/** Tables by pymodbus' names: hr holding, ir input, co coils, di discrete inputs; address → values. */
export interface PymodbusUnit {
  hr?: Record<number, number[]>;
  ir?: Record<number, number[]>;
  co?: Record<number, number[]>;
  di?: Record<number, number[]>;
  /** Holding addresses whose writes are acknowledged and ignored (a device that keeps its old value). */
  frozen?: number[];
  /** Function codes answered with exception 2 (e.g. [6]: a device that takes only FC16). */
  refuse?: number[];
}

export interface PymodbusServer {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function pymodbusAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import pymodbus'], { stdio: 'ignore' }).status === 0;
}

export interface PymodbusOptions {
  /** TCP port (0 picks one); ignored with `serial`. */
  port?: number;
  /** `rtu`: RTU frames over TCP (a serial device server); default Modbus TCP. */
  framer?: 'socket' | 'rtu';
  /** RTU on this serial port instead of TCP. */
  serial?: { port: string; baudrate?: number };
}

export function startPymodbusServer(units: Record<number, PymodbusUnit>, opts: number | PymodbusOptions = 0): Promise<PymodbusServer> {
  const o: PymodbusOptions = typeof opts === 'number' ? { port: opts } : opts;
  const spec = { host: '127.0.0.1', port: o.port ?? 0, units, ...(o.framer === undefined ? {} : { framer: o.framer }), ...(o.serial === undefined ? {} : { serial: o.serial }) };
  const child = spawn(PYTHON, [SCRIPT, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin.end();
      child.kill('SIGTERM');
    }
    await exited;
  };
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`pymodbus server did not start in 10 s; stderr:\n${stderr}`));
    }, 10_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child, stop });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pymodbus server exited with ${code}; stderr:\n${stderr}`));
    });
  });
}
