/**
 * `edge-agent write` and `edge-agent commands list` against a running agent (the built CLI, child
 * processes) and a pymodbus slave, and a SIGKILL between the write frame and its outcome: after
 * the restart the attempt is `interrupted`, and it is never sent again.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommandRecord } from '../../buffer/types.js';
import type { ModbusTcpDevice } from '../../config/types.js';
import { ModbusTcpDriver } from '../../drivers/modbus/tcp-driver.js';
import { runCli, startCli } from '../helpers/cli.js';
import { pymodbusAvailable, startPymodbusServer, type PymodbusServer } from '../helpers/modbus-pymodbus.js';
import { eventually } from '../helpers/serial-peer.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-writes-cli-'));
const children: ChildProcess[] = [];
let server: PymodbusServer | undefined;

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function startAgent(config: string): { child: ChildProcess; started: Promise<void> } {
  const child = startCli(['run', '--config', config]);
  children.push(child);
  let out = '';
  const started = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('agent started')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`agent exited with ${code}: ${out}`)));
  });
  return { child, started };
}

async function register(port: number): Promise<unknown> {
  const device = {
    id: 'pump', driver: 'modbus', connection: { protocol: 'tcp', host: '127.0.0.1', port, unitId: 1, timeout: 500 }, schedule: { kind: 'every', everyMs: 1000 }, tags: {},
    points: [{ id: 'sp', deviceId: 'pump', measurement: 'm', tags: {}, register: 'holding', address: 0, type: 'uint16', order: 'ABCD' }],
  } as unknown as ModbusTcpDevice;
  const d = new ModbusTcpDriver({ device });
  await d.start();
  const [r] = await d.read(device.points, new AbortController().signal);
  await d.stop();
  return r?.raw;
}

describe.skipIf(!pymodbusAvailable())('edge-agent write through the running agent', () => {
  it('prints the outcome and exits 0 only when verified; a SIGKILL between send and outcome leaves an interrupted attempt, never replayed', async () => {
    server = await startPymodbusServer({ 1: { hr: { 0: [5] } } });
    const config = join(dir, 'gw.yaml');
    writeFileSync(
      config,
      `
gateway: { id: gw-write-cli }
buffer: { path: ${join(dir, 'buffer.db')} }
log: { level: info, format: json }
devices:
  - id: pump
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${server.port}, timeout: 500ms }
    every: 1h
    points:
      sp: { register: holding, address: 0, type: uint16, write: { min: 0, max: 100, rateLimit: 0, verify: { after: 4s } } }
      fast: { register: holding, address: 0, type: uint16, write: { min: 0, max: 100, rateLimit: 0, verify: { after: 50ms } } }
`,
    );
    const first = startAgent(config);
    await first.started;
    // The write goes out, then the agent dies while it waits to read back.
    const pendingWrite = startCli(['write', 'pump/sp', '42', '--config', config, '--by', 'tech']);
    children.push(pendingWrite);
    await eventually('the slave holding the written value', async () => (await register(server?.port ?? 0)) === 42, 15_000);
    first.child.kill('SIGKILL');
    // Nobody will answer this one: it would wait out its 30 s.
    pendingWrite.kill('SIGTERM');

    const second = startAgent(config);
    await second.started;
    const listed = await runCli(['commands', 'list', '--json', '--config', config]);
    expect(listed.code).toBe(0);
    const audit = JSON.parse(listed.stdout) as CommandRecord[];
    expect(audit.map((c) => `${c.point}:${c.requested}:${c.outcome}:${c.by}`)).toEqual(['sp:42:interrupted:tech']);

    // Not replayed: set the slave back by a verified write, and it stays there.
    const ok = await runCli(['write', 'pump/fast', '7', '--config', config]);
    expect(ok.stdout).toMatch(/^verified: pump\/fast = 7 \(previous 42, read back 7, raw \[7\]\)/);
    expect(ok.code).toBe(0);
    const refused = await runCli(['write', 'pump/fast', '700', '--config', config]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('refused: pump/fast = 700');
    expect(refused.stdout).toContain('EDGE_WRITE_OUT_OF_LIMITS');
    expect(await register(server.port)).toBe(7);
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
  }, 90_000);
});
