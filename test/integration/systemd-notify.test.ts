/**
 * The agent under a (stand-in) systemd: the real CLI, a real notify socket, and the real
 * systemd-notify helper in between. READY=1 only once the agent runs, WATCHDOG=1 while polls
 * progress, none once a poll hangs, STOPPING=1 on SIGTERM.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import { collect, startCli, waitForOutput } from '../helpers/cli.js';
import { RegisterImage, startImageServer, startSilentServer, type SilentServer } from '../helpers/modbus-server.js';
import { NotifySocket } from '../helpers/notify-socket.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-notify-test-'));
let slave: RunningModbusServer;
let silent: SilentServer;

beforeAll(async () => {
  const image = new RegisterImage().setValue('holding', 0, 42, 'uint16').setValue('holding', 1, 7, 'uint16');
  [slave, silent] = await Promise.all([startImageServer(image), startSilentServer()]);
});

afterAll(async () => {
  await slave?.close();
  await silent?.close();
});

function config(name: string, port: number, timeout: string, every: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `gateway: { id: gw-${name} }
buffer: { path: ${join(dir, name, 'buffer.db')} }
http: { host: 127.0.0.1, port: 0 }
log: { level: info }
devices:
  - id: pump-1
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${port}, unitId: 1, timeout: ${timeout} }
    every: ${every}
    points:
      flow:  { register: holding, address: 0, type: uint16, unit: m3/h }
      level: { register: holding, address: 1, type: uint16, unit: m }
`,
  );
  return file;
}

/** The HTTP port from the agent's "http listening" log line. */
function httpPort(stdout: string): number {
  for (const line of stdout.split('\n')) {
    if (!line.includes('"http listening"')) continue;
    return (JSON.parse(line) as { port: number }).port;
  }
  throw new Error(`no "http listening" line in:\n${stdout}`);
}

const isWatchdog = (m: { fields: Record<string, string> }) => m.fields.WATCHDOG === '1';

describe('systemd notify', () => {
  it('says READY=1 once started, pings while polls progress, and STOPPING=1 on SIGTERM', async () => {
    const sock = await NotifySocket.open();
    try {
      // WatchdogSec=2s: a ping every second.
      const child = startCli(['run', '--config', config('healthy', slave.port, '500ms', '500ms')], { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '2000000' });
      const exited = collect(child, 60_000);
      const started = waitForOutput(child, /"msg":"agent started"/);
      const ready = await sock.waitFor((m) => m.fields.READY === '1', { what: 'READY=1' });
      const stdout = await started;
      // READY=1 comes after the HTTP server is up and the drivers run: /ready agrees.
      const res = await fetch(`http://127.0.0.1:${httpPort(stdout)}/ready`);
      expect(res.status).toBe(200);
      expect(ready.fields.MAINPID).toBe(String(child.pid));
      expect(ready.fields.STATUS).toMatch(/polling 1 device; no sink/);
      expect(sock.messages.slice(0, ready.index).filter(isWatchdog)).toEqual([]);

      let last = ready.index;
      for (let i = 0; i < 3; i++) last = (await sock.waitFor(isWatchdog, { after: last, what: `WATCHDOG=1 #${i + 1}` })).index;

      child.kill('SIGTERM');
      const stopping = await sock.waitFor((m) => m.fields.STOPPING === '1', { after: last, what: 'STOPPING=1' });
      const r = await exited;
      expect(r.code).toBe(0);
      expect(sock.messages.slice(stopping.index + 1).filter(isWatchdog)).toEqual([]);
    } finally {
      await sock.close();
    }
  });

  it('stops pinging when a poll hangs (a device that never answers, timeout longer than the watchdog)', async () => {
    const sock = await NotifySocket.open();
    try {
      const child = startCli(['run', '--config', config('hung', silent.port, '60s', '1s')], { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '2000000' });
      const exited = collect(child, 60_000);
      const started = waitForOutput(child, /"msg":"agent started"/);
      const ready = await sock.waitFor((m) => m.fields.READY === '1', { what: 'READY=1' });
      const port = httpPort(await started);

      const stalled = (m: { fields: Record<string, string> }) => /^not making progress: poll of pump-1 in flight/.test(m.fields.STATUS ?? '');
      const first = await sock.waitFor(stalled, { after: ready.index, what: 'a stall STATUS' });
      // Every tick while stalled says so again instead of pinging: three more ticks, no ping.
      let last = first.index;
      for (let i = 0; i < 3; i++) last = (await sock.waitFor(stalled, { after: last, what: `stall STATUS #${i + 2}` })).index;
      expect(sock.messages.slice(first.index, last + 1).filter(isWatchdog)).toEqual([]);

      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: 'stalled', stalled: [{ loop: 'poll', subject: 'pump-1' }] });

      child.kill('SIGTERM');
      await sock.waitFor((m) => m.fields.STOPPING === '1', { after: last, what: 'STOPPING=1' });
      const r = await exited;
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/"code":"EDGE_AGENT_STALLED".*withholding watchdog pings/);
    } finally {
      await sock.close();
    }
  });
});
