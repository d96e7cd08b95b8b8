/**
 * The shipped Mosquitto ACL (docs/mosquitto/fleet.acl) on a private Mosquitto with one account
 * per gateway and an ops account: gateway A, with its own valid credentials, cannot publish under
 * gateway B's prefix (B's retained state and info stay B's) and cannot read B's requests, while
 * B — a real agent process — and ops work as usual.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, startCli } from '../helpers/cli.js';
import { OpsClient } from '../helpers/central.js';
import { Mosquitto, mosquittoAvailable } from '../helpers/mosquitto.js';
import { missing } from '../helpers/peers.js';

const ACL = join(import.meta.dirname, '..', '..', 'docs', 'mosquitto', 'fleet.acl');
const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe.skipIf(missing('mosquitto', mosquittoAvailable(), 'Debian package mosquitto'))('least privilege on the central broker', () => {
  it('gateway A cannot publish under B, nor read B’s requests', { timeout: 60_000 }, async () => {
    const broker = await Mosquitto.start({ 'gw-a': 'secret-a', 'gw-b': 'secret-b', ops: 'secret-ops' }, { aclFile: ACL });
    cleanup.push(() => broker.remove());
    const dir = mkdtempSync(join(tmpdir(), 'edge-acl-'));
    const file = join(dir, 'b.yaml');
    writeFileSync(
      file,
      `gateway: { id: gw-b }
buffer: { path: ${join(dir, 'b.db')} }
http: { port: 0 }
log: { level: warn }
central: { url: "${broker.url}", username: gw-b, password: secret-b, allowUnsigned: true, stateDir: ${join(dir, 'central')} }
devices: []
`,
    );
    const b = startCli(['run', '--config', file]);
    const bExit = collect(b, 55_000);
    cleanup.push(async () => {
      b.kill('SIGTERM');
      await bExit.catch(() => undefined);
    });
    const opsUrl = `mqtt://ops:secret-ops@127.0.0.1:${broker.port}`;
    const ops = await OpsClient.connect(opsUrl, 'edge/#');
    cleanup.push(() => ops.end());
    await ops.wait('edge/gw-b/state', (p) => p === 'online');
    const info = await ops.wait('edge/gw-b/info');

    // Gateway A, logged in with its own (valid) account.
    const a: MqttClient = await connectAsync(broker.url, { clientId: 'gw-a', username: 'gw-a', password: 'secret-a', reconnectPeriod: 0 });
    cleanup.push(() => a.endAsync(true));
    const seenByA: string[] = [];
    a.on('message', (topic) => seenByA.push(topic));
    const granted = await a.subscribeAsync(['edge/gw-b/request/#', 'edge/gw-a/request/#'], { qos: 1 });
    expect(granted.find((g) => g.topic === 'edge/gw-a/request/#')?.qos).toBe(1);
    // Mosquitto 2.0 grants the subscription and checks the ACL on every message it would deliver.
    await a.publishAsync('edge/gw-b/state', 'offline', { qos: 1, retain: true });
    await a.publishAsync('edge/gw-b/info', JSON.stringify({ forged: true }), { qos: 1, retain: true });
    await a.publishAsync('edge/gw-b/response/config/set', JSON.stringify({ status: 'ok', forged: true }), { qos: 1 });
    await a.publishAsync('edge/gw-a/state', 'online', { qos: 1, retain: true }); // its own: allowed

    // B still answers its requests; A sees the request ops sent to itself, not B's.
    const reply = await ops.request('edge/gw-b', 'buffer/stats', {});
    expect(reply.status).toBe('ok');
    await ops.request('edge/gw-a', 'ping', {}, 200).catch(() => undefined); // nobody answers for A; A must receive it
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`A never got its own request; saw ${JSON.stringify(seenByA)}`)), 10_000);
      const check = () => {
        if (seenByA.includes('edge/gw-a/request/ping')) {
          clearTimeout(t);
          resolve();
        } else setTimeout(check, 20);
      };
      check();
    });
    expect(seenByA.filter((t) => t.startsWith('edge/gw-b/'))).toEqual([]);

    // A fresh ops view of the retained topics: B's are B's own, A's own publish went through.
    const fresh = await OpsClient.connect(opsUrl, 'edge/+/state');
    cleanup.push(() => fresh.end());
    await fresh.wait('edge/gw-a/state', (p, m) => p === 'online' && m.retain);
    expect((await fresh.wait('edge/gw-b/state', (_p, m) => m.retain)).payload).toBe('online');
    const freshInfo = await OpsClient.connect(opsUrl, 'edge/gw-b/info');
    cleanup.push(() => freshInfo.end());
    const retainedInfo = await freshInfo.wait('edge/gw-b/info', (_p, m) => m.retain);
    expect(retainedInfo.payload).not.toMatch(/forged/);
    const infoBody = JSON.parse(info.payload) as { version: string; rev: number };
    expect(infoBody.version).toMatch(/\d/);
    expect(JSON.parse(retainedInfo.payload)).toMatchObject({ version: infoBody.version, rev: infoBody.rev });
    expect(ops.seen.filter((m) => m.topic === 'edge/gw-b/response/config/set')).toEqual([]);
  });
});
