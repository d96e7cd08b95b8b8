/**
 * The `nodered` phase: the agent against the tool a user would pick instead, on the same job in
 * the same run. Node-RED (node-red 4, node-red-contrib-modbus 5.23.3, node-red-contrib-influxdb
 * 0.7.0 from npm, installed into a cache folder outside the project) and `edge-agent run` each
 * poll 100 holding registers every second from the same Modbus TCP simulator and write them as
 * 100 points to the same InfluxDB v2 write endpoint (VictoriaMetrics). The agent does its whole
 * job: transforms, its SQLite buffer (append, read, settle, delete) and local history included.
 *
 * After a warm-up, both processes are measured over the same window: CPU (utime + stime from
 * /proc) per 1000 points that reached the endpoint (counted there, in VictoriaMetrics, so a tool
 * that polls but does not deliver cannot look cheap), and peak resident memory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkDocument } from '../config/index.js';
import { freePort, type VictoriaMetrics } from '../test/helpers/victoria.js';
import { atMost, fmt, type Check } from './figures.js';
import { startMeterServer } from './meter-source.js';
import { cpuMs, cpuPer1000, rssMb } from './proc.js';

/** What is installed; the cache folder is keyed by it, so changing a version installs afresh. */
export const NODE_RED_PACKAGES = { 'node-red': '^4.0.0', 'node-red-contrib-modbus': '5.23.3', 'node-red-contrib-influxdb': '0.7.0' } as const;
/**
 * npm's allowScripts (npm 12 runs no dependency install script without it): serialport's native
 * binding may build if no prebuilt one fits; node-red-contrib-modbus's postinstall only prints a
 * note.
 */
const NODE_RED_INSTALL_SCRIPTS = { '@serialport/bindings-cpp': true, 'node-red-contrib-modbus': false } as const;
const REGISTERS = 100;

export interface NoderedFigures {
  nodered_cpu_ms_per_1000_points: number;
  agent_cpu_ms_per_1000_points_vs_nodered: number;
  nodered_rss_mb: number;
  agent_rss_mb_vs_nodered: number;
  nodered_points: number;
  agent_points_vs_nodered: number;
  nodered_window_s: number;
  nodered_version: string;
}

/** ~/.cache/edge-agent-bench/nodered-<hash>: reused between runs, never inside the project. */
function cacheDir(): string {
  const key = Object.entries(NODE_RED_PACKAGES).map(([k, v]) => `${k}@${v}`).join(' ');
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
  const base = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'edge-agent-bench', `nodered-${h.toString(16)}`);
}

/** Installs Node-RED and the two node packages once (npm, ~1 min); later runs find them cached. */
export function installNodeRed(progress: (msg: string) => void): { dir: string; version: string } {
  const dir = cacheDir();
  const marker = path.join(dir, 'node_modules', '.edge-bench-installed');
  if (!fs.existsSync(marker)) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'edge-agent-bench-nodered', private: true, description: 'installed by edge-agent bench/nodered.ts', dependencies: NODE_RED_PACKAGES, allowScripts: NODE_RED_INSTALL_SCRIPTS }, null, 2),
    );
    progress(`installing ${Object.keys(NODE_RED_PACKAGES).join(', ')} into ${dir}`);
    const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--omit=dev'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (npm.status !== 0) throw new Error(`npm install in ${dir} failed (${npm.status}):\n${npm.stderr.slice(-3000)}`);
    fs.writeFileSync(marker, JSON.stringify(NODE_RED_PACKAGES));
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', 'node-red', 'package.json'), 'utf8')) as { version: string };
  return { dir, version: pkg.version };
}

/** The Node-RED flow: modbus-read (FC3, 100 registers, 1 s) → function (registers → points) → influxdb batch. */
export function noderedFlow(o: { modbusPort: number; influxUrl: string }): unknown[] {
  // The same tags the agent puts on every point, so both write lines of the same shape.
  const func = `
const ts = new Date();
const out = new Array(msg.payload.length);
for (let i = 0; i < msg.payload.length; i++) {
  out[i] = { measurement: 'nodered', tags: { gateway: 'gw-bench', site: 'bench-site', device: 'meter-1', point: 'r' + i }, fields: { value: msg.payload[i] }, timestamp: ts };
}
msg.payload = out;
return msg;`;
  return [
    { id: 'tab', type: 'tab', label: 'bench' },
    {
      id: 'mb', type: 'modbus-client', name: 'meter', clienttype: 'tcp', bufferCommands: true, stateLogEnabled: false, queueLogEnabled: false,
      tcpHost: '127.0.0.1', tcpPort: String(o.modbusPort), tcpType: 'DEFAULT', unit_id: 1, commandDelay: 1, clientTimeout: 1000,
      reconnectOnTimeout: true, reconnectTimeout: 2000, parallelUnitIdsAllowed: true,
    },
    {
      id: 'rd', type: 'modbus-read', z: 'tab', name: 'read', topic: '', showStatusActivities: false, logIOActivities: false, showErrors: false,
      unitid: '', dataType: 'HoldingRegister', adr: '0', quantity: String(REGISTERS), rate: '1', rateUnit: 's', delayOnStart: false, startDelayTime: '',
      server: 'mb', useIOFile: false, ioFile: '', useIOForPayload: false, wires: [['fn'], []],
    },
    { id: 'fn', type: 'function', z: 'tab', name: 'to points', func, outputs: 1, noerr: 0, initialize: '', finalize: '', libs: [], wires: [['ib']] },
    { id: 'ic', type: 'influxdb', name: 'vm', influxdbVersion: '2.0', url: o.influxUrl, timeout: '10', rejectUnauthorized: false },
    { id: 'ib', type: 'influxdb batch', z: 'tab', influxdb: 'ic', precision: '', retentionPolicy: '', name: 'write', database: '', precisionV18FluxV20: 'ms', retentionPolicyV18Flux: '', org: 'bench', bucket: 'bench', wires: [] },
  ];
}

/** The agent's config for the same job: one device, 100 uint16 holding registers, InfluxDB only. */
export function agentDocument(o: { modbusPort: number; influxUrl: string; bufferPath: string }): Record<string, unknown> {
  const points: Record<string, unknown> = {};
  for (let i = 0; i < REGISTERS; i++) points[`r${i}`] = { register: 'holding', address: i, type: 'uint16' };
  const doc = {
    gateway: { id: 'gw-bench', site: 'bench-site' },
    buffer: { path: o.bufferPath, synchronous: 'normal' },
    sinks: { influx: { url: o.influxUrl, token: '', org: 'bench', bucket: 'bench' }, postgres: { url: '', schema: 'edge' } },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'warn' },
    templates: { registers: { measurement: 'agent', points } },
    devices: [{ id: 'meter-1', driver: 'modbus', connection: { protocol: 'tcp', host: '127.0.0.1', port: o.modbusPort, unitId: 1, timeout: '1s' }, every: '1s', template: 'registers' }],
  };
  const checked = checkDocument(doc, { env: {}, source: 'bench nodered' });
  if (!checked.ok) throw new Error(`bench nodered config is invalid: ${checked.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  return doc;
}

interface Child {
  proc: ChildProcess;
  pid: number;
  output: () => string;
  stop: () => Promise<void>;
}

function start(name: string, cmd: string, args: string[], cwd: string): Child {
  const proc = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-4000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  if (proc.pid === undefined) throw new Error(`could not start ${name}`);
  return {
    proc,
    pid: proc.pid,
    output: () => output,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface NoderedOptions {
  dir: string;
  victoria: VictoriaMetrics;
  warmupMs: number;
  windowMs: number;
  /** Extra node flags for the agent (V8 heap settings under test). */
  agentNodeFlags?: readonly string[];
  progress: (msg: string) => void;
}

export async function benchNodered(o: NoderedOptions): Promise<NoderedFigures> {
  const installed = installNodeRed(o.progress);
  const server = await startMeterServer();
  const userDir = fs.mkdtempSync(path.join(o.dir, 'nodered-'));
  // Node-RED finds node packages under <userDir>/node_modules: point that at the cache.
  fs.symlinkSync(path.join(installed.dir, 'node_modules'), path.join(userDir, 'node_modules'));
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(noderedFlow({ modbusPort: server.port, influxUrl: o.victoria.url }), null, 2));
  const settings = path.join(userDir, 'settings.js');
  fs.writeFileSync(
    settings,
    `module.exports = ${JSON.stringify({
      uiPort: await freePort(),
      uiHost: '127.0.0.1',
      httpAdminRoot: false,
      httpNodeRoot: false,
      userDir,
      flowFile: 'flows.json',
      credentialSecret: false,
      logging: { console: { level: 'warn', metrics: false, audit: false } },
      editorTheme: { projects: { enabled: false } },
    })};\n`,
  );
  const agentConfig = path.join(o.dir, 'nodered-agent.json');
  fs.writeFileSync(agentConfig, JSON.stringify(agentDocument({ modbusPort: server.port, influxUrl: o.victoria.url, bufferPath: path.join(o.dir, 'nodered-agent.db') })));
  const cli = fileURLToPath(new URL('../agent/cli.js', import.meta.url));
  const redJs = path.join(installed.dir, 'node_modules', 'node-red', 'red.js');

  const children: Child[] = [];
  try {
    const red = start('node-red', process.execPath, [redJs, '--settings', settings, '--userDir', userDir], userDir);
    children.push(red);
    const agent = start('edge-agent', process.execPath, [...(o.agentNodeFlags ?? []), cli, 'run', '--config', agentConfig], o.dir);
    children.push(agent);
    const alive = () => {
      for (const [name, c] of [['node-red', red], ['edge-agent', agent]] as const) {
        if (c.proc.exitCode !== null || c.proc.signalCode !== null) throw new Error(`${name} exited (${c.proc.exitCode ?? c.proc.signalCode}):\n${c.output()}`);
      }
    };
    const count = async () => ({
      red: await o.victoria.count('{__name__="nodered_value"}'),
      agent: await o.victoria.count('{__name__="agent_value"}'),
    });
    await sleep(o.warmupMs);
    alive();
    const before = await count();
    if (before.red === 0) throw new Error(`Node-RED delivered no points in the warm-up:\n${red.output()}`);
    if (before.agent === 0) throw new Error(`the agent delivered no points in the warm-up:\n${agent.output()}`);
    const cpu0 = { red: cpuMs(red.pid), agent: cpuMs(agent.pid) };
    const rss = { red: [] as number[], agent: [] as number[] };
    const startAt = Date.now();
    let lastReport = startAt;
    while (Date.now() - startAt < o.windowMs) {
      await sleep(Math.min(5000, o.windowMs - (Date.now() - startAt)));
      alive();
      rss.red.push(rssMb(red.pid));
      rss.agent.push(rssMb(agent.pid));
      if (Date.now() - lastReport >= 60_000) {
        lastReport = Date.now();
        o.progress(`nodered: ${Math.round((Date.now() - startAt) / 1000)} s, RSS Node-RED ${fmt(rss.red.at(-1)!)} MB, agent ${fmt(rss.agent.at(-1)!)} MB`);
      }
    }
    const cpu1 = { red: cpuMs(red.pid), agent: cpuMs(agent.pid) };
    const windowS = (Date.now() - startAt) / 1000;
    const after = await count();
    const expected = windowS * REGISTERS;
    for (const [name, n] of [['Node-RED', after.red - before.red], ['the agent', after.agent - before.agent]] as const) {
      // Both poll once a second: far fewer points than that means a tool stopped delivering.
      if (n < expected * 0.8) throw new Error(`${name} delivered ${n} points in ${fmt(windowS)} s, expected about ${fmt(expected)}`);
    }
    return {
      nodered_cpu_ms_per_1000_points: cpuPer1000(cpu0.red, cpu1.red, before.red, after.red),
      agent_cpu_ms_per_1000_points_vs_nodered: cpuPer1000(cpu0.agent, cpu1.agent, before.agent, after.agent),
      nodered_rss_mb: Math.max(...rss.red),
      agent_rss_mb_vs_nodered: Math.max(...rss.agent),
      nodered_points: after.red - before.red,
      agent_points_vs_nodered: after.agent - before.agent,
      nodered_window_s: windowS,
      nodered_version: installed.version,
    };
  } finally {
    for (const c of children.reverse()) await c.stop();
    await server.close();
  }
}

/** Issue 14's targets: agent CPU per point at most a third of Node-RED's, RSS at most Node-RED's. */
export function noderedChecks(f: Partial<Record<keyof NoderedFigures, number | string>>): Check[] {
  const n = (k: keyof NoderedFigures): number => (typeof f[k] === 'number' ? (f[k] as number) : Number.NaN);
  const redCpu = n('nodered_cpu_ms_per_1000_points');
  const agentCpu = n('agent_cpu_ms_per_1000_points_vs_nodered');
  const redRss = n('nodered_rss_mb');
  const agentRss = n('agent_rss_mb_vs_nodered');
  const window = `${fmt(n('nodered_window_s'))} s, 100 points/s each`;
  return [
    atMost('agent_cpu_ms_per_1000_points_vs_nodered', agentCpu, redCpu / 3, 'ms', `Node-RED ${fmt(redCpu)} ms (ratio ${(agentCpu / redCpu).toFixed(2)}), ${window}`),
    atMost('agent_rss_mb_vs_nodered', agentRss, redRss, 'MB', `Node-RED ${fmt(redRss)} MB (ratio ${(agentRss / redRss).toFixed(2)})`),
  ];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
