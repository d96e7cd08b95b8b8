/**
 * The operator's workflow end to end, with only the real CLI and mosquitto_pub: keygen, config
 * sign, push to a running `edge-agent run`, read the reply and the retained info; a tampered or
 * replayed push changes nothing; a push that moves the buffer takes its lock at the restart.
 */
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lockBuffer } from '../../buffer/lock.js';
import { collect, runCli, startCli } from '../helpers/cli.js';
import { OpsClient } from '../helpers/central.js';
import { RegisterImage, startImageServer } from '../helpers/modbus-server.js';
import { Mosquitto, mosquittoAvailable, mosquittoPub } from '../helpers/mosquitto.js';
import { missing } from '../helpers/peers.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe.skipIf(missing('mosquitto and mosquitto_pub', mosquittoAvailable(), 'Debian packages mosquitto mosquitto-clients'))('edge-agent keygen / config sign / run with central ops', () => {
  it('an operator changes the devices with mosquitto_pub and sees the result; tampered and replayed pushes change nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-central-cli-'));
    const broker = await Mosquitto.start();
    cleanup.push(() => broker.remove());
    const slave = await startImageServer(new RegisterImage().setValue('holding', 0, 7, 'uint16').setValue('holding', 1, 8, 'uint16'));
    cleanup.push(() => slave.close());

    const keygen = await runCli(['keygen', '--out', join(dir, 'keys')]);
    expect(keygen.code).toBe(0);
    expect(statSync(join(dir, 'keys', 'config-signing.key')).mode & 0o777).toBe(0o600);
    expect((await runCli(['keygen', '--out', join(dir, 'keys')])).code).toBe(1); // never overwrites a key
    expect((await runCli(['keygen', '--help'])).stdout).toMatch(/Usage: edge-agent keygen --out DIR/);
    expect((await runCli(['config', '--help'])).stdout).toMatch(/Usage: edge-agent config sign --key PRIVATE_KEY --rev N/);

    const prefix = `cli${process.pid}`;
    const dev = (id: string, address: number) =>
      `  - { id: ${id}, driver: modbus, connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, timeout: 300ms }, every: 300ms, points: { v: { register: holding, address: ${address}, type: uint16 } } }\n`;
    const common = `gateway: { id: gw-cli }\nbuffer: { path: ${join(dir, 'buffer.db')} }\nhttp: { port: 0 }\nlog: { level: warn }\n`;
    const local = join(dir, 'config.yaml');
    writeFileSync(
      local,
      `${common}central: { url: "${broker.url}", prefix: ${prefix}, publicKey: ${join(dir, 'keys', 'config-signing.pub')}, stateDir: ${join(dir, 'state')}, applyTimeout: 5s }\ndevices:\n${dev('pump-1', 0)}`,
    );
    // The push also moves the buffer: that waits for a restart, which must hold the new file's lock.
    const next = join(dir, 'next.yaml');
    writeFileSync(next, `${common.replace('buffer.db', 'buffer-2.db')}devices:\n${dev('pump-1', 0)}${dev('pump-2', 1)}`);

    const base = `${prefix}/gw-cli`;
    const ops = await OpsClient.connect(broker.url, `${base}/#`);
    cleanup.push(() => ops.end());
    const child = startCli(['run', '--config', local]);
    const exited = collect(child, 60_000);
    cleanup.push(async () => {
      child.kill('SIGKILL');
      await exited.catch(() => undefined);
    });
    await ops.wait(`${base}/state`, (p) => p === 'online', 20_000);

    const sign = await runCli(['config', 'sign', '--key', join(dir, 'keys', 'config-signing.key'), '--rev', '1', next]);
    expect(sign.code).toBe(0);
    const payload = sign.stdout.trim();
    let from = ops.seen.length;
    expect((await mosquittoPub({ port: broker.port, topic: `${base}/request/config/set`, message: payload })).code).toBe(0);
    const reply = JSON.parse((await ops.wait(`${base}/response/config/set`, () => true, 20_000, from)).payload) as Record<string, unknown>;
    expect(reply).toMatchObject({ status: 'ok', data: { rev: 1, added: ['pump-2'], restartRequired: ['buffer'] } });
    await ops.wait(`${base}/info`, (p) => (JSON.parse(p) as { rev: number }).rev === 1, 10_000, from);

    // Tampered: a device moved without a new signature.
    const tampered = JSON.parse(payload) as { config: { devices: Array<{ points: { v: { address: number } } }> } };
    (tampered.config.devices[1] as { points: { v: { address: number } } }).points.v.address = 0;
    from = ops.seen.length;
    await mosquittoPub({ port: broker.port, topic: `${base}/request/config/set`, message: JSON.stringify(tampered) });
    expect(JSON.parse((await ops.wait(`${base}/response/config/set`, () => true, 20_000, from)).payload)).toMatchObject({ status: 'error', code: 'EDGE_CONFIG_SIGNATURE_INVALID' });
    // Replayed: the same signed payload again.
    from = ops.seen.length;
    await mosquittoPub({ port: broker.port, topic: `${base}/request/config/set`, message: payload });
    expect(JSON.parse((await ops.wait(`${base}/response/config/set`, () => true, 20_000, from)).payload)).toMatchObject({ status: 'error', code: 'EDGE_CONFIG_REV_CURRENT' });

    from = ops.seen.length;
    await mosquittoPub({ port: broker.port, topic: `${base}/request/config/get`, message: '{"transaction":"g1"}' });
    const get = JSON.parse((await ops.wait(`${base}/response/config/get`, () => true, 20_000, from)).payload) as { data: { rev: number; config: { devices: unknown[] } } };
    expect(get.data.rev).toBe(1);
    expect(get.data.config.devices).toHaveLength(2);

    // `restart`: the agent comes back in-process on the last-known-good (rev 1, two devices).
    from = ops.seen.length;
    await mosquittoPub({ port: broker.port, topic: `${base}/request/restart`, message: '{"transaction":7}' });
    expect(JSON.parse((await ops.wait(`${base}/response/restart`, () => true, 20_000, from)).payload)).toMatchObject({ status: 'ok', transaction: 7 });
    const offline = await ops.wait(`${base}/state`, (p) => p === 'offline', 20_000, from);
    await ops.wait(`${base}/state`, (p) => p === 'online', 20_000, ops.seen.indexOf(offline) + 1);
    const info = await ops.wait(`${base}/info`, () => true, 20_000, ops.seen.indexOf(offline) + 1);
    expect(JSON.parse(info.payload)).toMatchObject({ rev: 1, origin: 'pushed' });
    // The restarted agent holds buffer-2.db's lock and has let go of buffer.db's.
    expect(lockBuffer(join(dir, 'buffer-2.db'))).toBeUndefined();
    const old = lockBuffer(join(dir, 'buffer.db'));
    expect(old).toBeDefined();
    old?.release();

    // The same file spelt another way is no move: the restart keeps its lock and comes back online.
    const same = join(dir, 'same.yaml');
    writeFileSync(same, `${common.replace(join(dir, 'buffer.db'), `${dir}/./buffer-2.db`)}devices:\n${dev('pump-1', 0)}`);
    const sameSigned = await runCli(['config', 'sign', '--key', join(dir, 'keys', 'config-signing.key'), '--rev', '2', same]);
    expect(sameSigned.code).toBe(0);
    from = ops.seen.length;
    await mosquittoPub({ port: broker.port, topic: `${base}/request/config/set`, message: sameSigned.stdout.trim() });
    expect(JSON.parse((await ops.wait(`${base}/response/config/set`, () => true, 20_000, from)).payload)).toMatchObject({ status: 'ok', data: { rev: 2 } });
    from = ops.seen.length;
    await mosquittoPub({ port: broker.port, topic: `${base}/request/restart`, message: '{"transaction":9}' });
    const down = await ops.wait(`${base}/state`, (p) => p === 'offline', 20_000, from);
    await ops.wait(`${base}/state`, (p) => p === 'online', 20_000, ops.seen.indexOf(down) + 1);
    expect(lockBuffer(join(dir, 'buffer-2.db'))).toBeUndefined();

    // A push onto a buffer another process holds: the restart stops with EDGE_BUFFER_IN_USE instead of writing it too.
    const taken = lockBuffer(join(dir, 'buffer-3.db'));
    expect(taken).toBeDefined();
    cleanup.push(async () => taken?.release());
    const third = join(dir, 'third.yaml');
    writeFileSync(third, `${common.replace('buffer.db', 'buffer-3.db')}devices:\n${dev('pump-1', 0)}`);
    const signed = await runCli(['config', 'sign', '--key', join(dir, 'keys', 'config-signing.key'), '--rev', '3', third]);
    expect(signed.code).toBe(0);
    from = ops.seen.length;
    await mosquittoPub({ port: broker.port, topic: `${base}/request/config/set`, message: signed.stdout.trim() });
    expect(JSON.parse((await ops.wait(`${base}/response/config/set`, () => true, 20_000, from)).payload)).toMatchObject({
      status: 'ok',
      data: { rev: 3, restartRequired: ['buffer'] },
    });
    from = ops.seen.length;
    await mosquittoPub({ port: broker.port, topic: `${base}/request/restart`, message: '{"transaction":8}' });
    await ops.wait(`${base}/state`, (p) => p === 'offline', 20_000, from);
    const result = await exited;
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/"code":"EDGE_BUFFER_IN_USE".*buffer-3\.db is in use by another edge-agent process/);
  });
});
