/**
 * The agent under attack, as its own process (`edge-agent run`): the embedded broker with a
 * well-behaved sensor user and a hostile one, a Modbus meter polled every second, and the HTTP
 * server on a free port. Its RSS is sampled from /proc while it runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../agent/ops/http-static.js';
import { RegisterImage } from '../drivers/modbus/register-image.js';
import { startModbusTcpServer, type RunningModbusServer } from '../drivers/modbus/server.js';

export const USERS = { sensor: 'sensor-pw', hostile: 'hostile-pw' } as const;
export const POLL_EVERY_MS = 1000;

export interface FloodAgent {
  pid: number;
  brokerPort: number;
  httpUrl: string;
  bufferPath: string;
  /** VmRSS in kB now. */
  rssKb(): number;
  /** The agent's output so far (JSON log lines), for failures. */
  output(): string;
  /** SIGTERM and wait; the exit code. */
  stop(): Promise<number | null>;
}

function config(dir: string, modbusPort: number): string {
  const file = path.join(dir, 'flood-agent.yaml');
  fs.writeFileSync(
    file,
    `gateway: { id: gw-flood }
buffer: { path: ${path.join(dir, 'flood.db')}, commitInterval: 100ms }
http: { host: 127.0.0.1, port: 0 }
log: { level: info, format: json }
broker:
  host: 127.0.0.1
  port: 0
  users:
    - { username: sensor, password: ${USERS.sensor} }
    - { username: hostile, password: ${USERS.hostile} }
devices:
  - id: meter
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${modbusPort}, unitId: 1, timeout: 500ms }
    every: ${POLL_EVERY_MS}ms
    points:
      flow: { register: holding, address: 0, type: uint16, unit: m3/h }
  - id: sensor
    driver: mqtt
    topic: site/sensor/temp
    qos: 1
    points:
      seq: { path: seq }
      temp: { path: t, unit: degC }
  - id: flood-sink
    driver: mqtt
    topic: site/flood/{n}
    points:
      v: { path: v }
`,
  );
  return file;
}

function procKb(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no ${key} for ${pid}`);
  return Number(m[1]);
}

/** Resolves with the first log line whose msg is `msg`, as JSON. */
function logLine(child: ChildProcess, out: () => string, msg: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const check = () => {
      for (const line of out().split('\n')) {
        if (!line.includes(`"msg":"${msg}"`)) continue;
        clearInterval(timer);
        clearTimeout(deadline);
        resolve(JSON.parse(line) as Record<string, unknown>);
        return;
      }
      if (child.exitCode !== null) {
        clearInterval(timer);
        clearTimeout(deadline);
        reject(new Error(`the agent exited (${child.exitCode}) before "${msg}":\n${out()}`));
      }
    };
    const timer = setInterval(check, 50);
    const deadline = setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`no "${msg}" within ${timeoutMs} ms:\n${out()}`));
    }, timeoutMs);
  });
}

export async function startFloodAgent(dir: string): Promise<{ agent: FloodAgent; modbus: RunningModbusServer }> {
  const image = new RegisterImage().setValue('holding', 0, 42, 'uint16');
  const modbus = await startModbusTcpServer(image, { host: '127.0.0.1', port: 0 });
  // The built CLI, whether this runs from dist/ (bench) or from source (the test).
  const cli = path.join(packageRoot(), 'dist', 'agent', 'cli.js');
  const child = spawn(process.execPath, [cli, 'run', '--config', config(dir, modbus.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the agent');
  const [http, broker] = await Promise.all([logLine(child, () => out, 'http listening'), logLine(child, () => out, 'embedded MQTT broker listening')]);
  await logLine(child, () => out, 'agent started');
  return {
    modbus,
    agent: {
      pid,
      brokerPort: broker.port as number,
      httpUrl: `http://127.0.0.1:${String(http.port)}`,
      bufferPath: path.join(dir, 'flood.db'),
      rssKb: () => procKb(pid, 'VmRSS'),
      output: () => out,
      stop: async () => {
        if (child.exitCode === null) child.kill('SIGTERM');
        return exited;
      },
    },
  };
}

/** Samples RSS every `everyMs` until stopped; the largest sample and all of them. */
export class RssSampler {
  readonly samplesKb: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(rssKb: () => number, everyMs = 50) {
    this.timer = setInterval(() => {
      try {
        this.samplesKb.push(rssKb());
      } catch {
        // the process is gone: the caller sees it exit
      }
    }, everyMs);
  }

  get peakKb(): number {
    return Math.max(0, ...this.samplesKb);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
