/**
 * `edge-agent fleet push` against 10 real agent processes on a private Mosquitto. The pushed config
 * adds a device at `${PLC_HOST}`; on gw-p05 that host has no Modbus slave, so the new device never
 * answers and the agent's come-up check rolls the push back. The rollout (2 canaries, batches of
 * 30 % = 3) stops after p05's batch: the gateways before it run rev 2, p08/p09 are untouched at rev 0.
 * Then p05's PLC is wired (a slave on 127.0.0.2), p05 alone gets rev 3 (it refuses the rev it rolled
 * back), and the same rollout run again skips the done gateways and finishes.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PushReport } from '../../agent/commands/fleet-push.js';
import { generateSigningKeys } from '../../config/signing.js';
import { startModbusTcpServer } from '../../drivers/modbus/server.js';
import { collect, runCli, startCli } from '../helpers/cli.js';
import { OpsClient } from '../helpers/central.js';
import { RegisterImage, startImageServer } from '../helpers/modbus-server.js';
import { Mosquitto, mosquittoAvailable } from '../helpers/mosquitto.js';
import { missing } from '../helpers/peers.js';

const AGENTS = 10;
const BAD = 'gw-p05';
const ids = Array.from({ length: AGENTS }, (_, i) => `gw-p${String(i).padStart(2, '0')}`);

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

const device = (id: string, host: string, port: number | string) =>
  `  - { id: ${id}, driver: modbus, every: 500ms, connection: { protocol: tcp, host: "${host}", port: ${port}, timeout: 300ms }, points: { v: { register: holding, address: 0, type: uint16 } } }`;

describe.skipIf(missing('mosquitto', mosquittoAvailable(), 'Debian package mosquitto'))('edge-agent fleet push', () => {
  it(`rolls a config out to ${AGENTS} agents in stages, stops at a rollback, and resumes`, { timeout: 180_000 }, async () => {
    const broker = await Mosquitto.start();
    cleanup.push(() => broker.remove());
    const image = new RegisterImage().setValue('holding', 0, 7, 'uint16');
    const slave = await startImageServer(image);
    cleanup.push(() => slave.close());
    const dir = mkdtempSync(join(tmpdir(), 'edge-fleet-push-'));
    const keys = generateSigningKeys();
    const priv = join(dir, 'ops.key');
    const pub = join(dir, 'ops.pub');
    writeFileSync(priv, keys.privateKeyPem, { mode: 0o600 });
    writeFileSync(pub, keys.publicKeyPem);
    const prefix = `fp${process.pid}`;
    const central = (id: string) => `central: { url: "${broker.url}", prefix: ${prefix}, publicKey: ${pub}, stateDir: ${join(dir, `${id}-central`)}, applyTimeout: 3s }`;

    const ops = await OpsClient.connect(broker.url, `${prefix}/+/state`);
    cleanup.push(() => ops.end());
    const children: ChildProcess[] = [];
    for (const id of ids) {
      const file = join(dir, `${id}.yaml`);
      writeFileSync(file, `gateway: { id: ${id}, site: site-${id} }\nbuffer: { path: ${join(dir, `${id}.db`)} }\nhttp: { port: 0 }\nlog: { level: warn }\n${central(id)}\ndevices:\n${device('d1', '127.0.0.1', slave.port)}\n`);
      // Each site's PLC address comes from its environment; p05's has no slave behind it (yet).
      const child = startCli(['run', '--config', file], { PLC_HOST: id === BAD ? '127.0.0.2' : '127.0.0.1' });
      const done = collect(child, 170_000);
      children.push(child);
      cleanup.push(async () => {
        child.kill('SIGTERM');
        await done;
      });
    }
    await Promise.all(ids.map((g) => ops.wait(`${prefix}/${g}/state`, (p) => p === 'online', 60_000)));

    // One file for the whole fleet: a second device; `gateway` is filled in per gateway by the push.
    const pushFile = join(dir, 'fleet.yaml');
    writeFileSync(pushFile, `http: { port: 0 }\nlog: { level: warn }\ndevices:\n${device('d1', '127.0.0.1', slave.port)}\n${device('plc', '${PLC_HOST}', slave.port)}\n`);
    const push = (rev: number, ...more: string[]) =>
      runCli(['fleet', 'push', '--central', broker.url, '--prefix', prefix, '--key', priv, '--rev', String(rev), '--timeout', '30s', '--wait', '1s', '--json', pushFile, ...more], { timeoutMs: 120_000 });
    const byGateway = (r: PushReport) => Object.fromEntries(r.gateways.map((g) => [g.gateway, g]));

    const first = await push(2, '--all', '--canary', '2', '--batch', '30%');
    expect(first.code, first.stderr).toBe(1);
    const r1 = JSON.parse(first.stdout) as PushReport;
    expect(r1).toMatchObject({ rev: 2, outcome: 'stopped', stoppedAt: BAD });
    const g1 = byGateway(r1);
    expect(r1.gateways.map((g) => [g.gateway, g.stage, g.result])).toEqual([
      ['gw-p00', 'canary 1', 'applied'],
      ['gw-p01', 'canary 2', 'applied'],
      ['gw-p02', 'batch 1', 'applied'],
      ['gw-p03', 'batch 1', 'applied'],
      ['gw-p04', 'batch 1', 'applied'],
      ['gw-p05', 'batch 2', 'rolled-back'],
      ['gw-p06', 'batch 2', 'applied'],
      ['gw-p07', 'batch 2', 'applied'],
      ['gw-p08', null, 'untouched'],
      ['gw-p09', null, 'untouched'],
    ]);
    expect(g1[BAD]).toMatchObject({ code: 'EDGE_CONFIG_ROLLED_BACK', fromRev: 0, failures: [expect.objectContaining({ subject: 'devices.plc', code: 'EDGE_DEVICE_NOT_ANSWERING' })] });

    // What the gateways themselves say (retained info): who runs what, and in which order they applied.
    const infos = await OpsClient.connect(broker.url, `${prefix}/+/info`);
    cleanup.push(() => infos.end());
    const info = async (g: string, rev: number) =>
      JSON.parse((await infos.wait(`${prefix}/${g}/info`, (p) => (JSON.parse(p) as { rev: number }).rev === rev, 20_000)).payload) as {
        rev: number;
        lastApply: { outcome: string; rev: number; at: number } | null;
        config: { settings: { gateway: { site: string } }; devices: Array<{ id: string }> };
      };
    const applied = await Promise.all(['gw-p00', 'gw-p01', 'gw-p02', 'gw-p03', 'gw-p04', 'gw-p06', 'gw-p07'].map((g) => info(g, 2)));
    for (const i of applied) expect(i.config.devices.map((d) => d.id)).toEqual(['d1', 'plc']);
    // The push kept each gateway's own site; the file has no gateway section.
    expect(applied[0]?.config.settings.gateway.site).toBe('site-gw-p00');
    // Canaries one at a time, before the first batch.
    const at = applied.map((i) => i.lastApply?.at ?? 0);
    expect(at[0]).toBeLessThan(at[1] as number);
    expect(at[1]).toBeLessThan(Math.min(at[2] as number, at[3] as number, at[4] as number));
    expect((await info(BAD, 0)).lastApply).toMatchObject({ outcome: 'rolled-back', rev: 2 });
    for (const g of ['gw-p08', 'gw-p09']) expect((await info(g, 0)).lastApply).toBeNull();

    // The text report says where it stopped and what p05 needs.
    const again = await runCli(['fleet', 'push', '--central', broker.url, '--prefix', prefix, '--key', priv, '--rev', '2', '--gateways', BAD, '--wait', '1s', pushFile]);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/gw-p05\tcanary 1\trefused\t0\tEDGE_CONFIG_REV_STALE/);

    // p05's PLC gets wired: a slave on the address its environment names. It takes rev 3 alone.
    const plc = await startModbusTcpServer(image, { host: '127.0.0.2', port: slave.port });
    cleanup.push(() => plc.close());
    const fix = await push(3, '--gateways', BAD);
    expect(fix.code, fix.stdout).toBe(0);
    expect((JSON.parse(fix.stdout) as PushReport).gateways).toMatchObject([{ gateway: BAD, result: 'applied', fromRev: 0 }]);

    // The same rollout again: the done gateways (and p05, at rev 3) are skipped, the rest pushed.
    // 50 % of the 10 selected is 5 per batch, so after the canary p09 is one batch of its own.
    const second = await push(2, '--all', '--canary', '1', '--batch', '50%');
    expect(second.code, second.stderr).toBe(0);
    const r2 = JSON.parse(second.stdout) as PushReport;
    expect(r2.outcome).toBe('done');
    const g2 = byGateway(r2);
    for (const g of ['gw-p00', 'gw-p01', 'gw-p02', 'gw-p03', 'gw-p04', 'gw-p06', 'gw-p07']) expect(g2[g], g).toMatchObject({ result: 'skipped', stage: null, fromRev: 2 });
    expect(g2[BAD]).toMatchObject({ result: 'skipped', fromRev: 3, reason: 'runs rev 3, newer' });
    expect(g2['gw-p08']).toMatchObject({ result: 'applied', stage: 'canary 1', fromRev: 0 });
    expect(g2['gw-p09']).toMatchObject({ result: 'applied', stage: 'batch 1', fromRev: 0 });
    for (const g of ['gw-p08', 'gw-p09']) expect((await info(g, 2)).rev).toBe(2);

    // Usage errors name the option.
    expect((await runCli(['fleet', 'push', '--central', broker.url, '--key', priv, '--rev', '2', pushFile])).stderr).toMatch(/either --gateways a,b,… or --all/);
    expect((await runCli(['fleet', 'push', '--central', broker.url, '--key', priv, '--rev', '2', '--all', '--batch', '0%', pushFile])).stderr).toMatch(/--batch takes/);

    for (const c of children) c.kill('SIGTERM');
  });
});
