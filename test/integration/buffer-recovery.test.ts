/**
 * The buffer's bad days, under a running agent: the disk fills up for real (a small tmpfs filled
 * by another file), and the buffer file is corrupt at start. The agent keeps polling through both,
 * counts what it could not keep, and recovers.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import { SqliteBuffer } from '../../buffer/sqlite-buffer.js';
import type { Point } from '../../buffer/types.js';
import { loadConfig } from '../../config/index.js';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import { pgPointKeys, until } from '../helpers/buffer-file.js';
import { PGURL, type TestSchema } from '../helpers/postgres.js';
import { startRig, type Rig } from '../helpers/rig.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { missing } from '../helpers/peers.js';

let db: TestSchema;
let slave: RunningModbusServer;
let pgProxy: TcpProxy;

let rig: Rig | undefined;

beforeAll(async () => {
  rig = await startRig({ name: 'recover', registers: 30 });
  ({ db, slave, pgProxy } = rig);
});

afterAll(() => rig?.close());

function makeAgent(gateway: string, bufferPath: string): { agent: Agent; emitted: Point[]; logs: Array<Record<string, unknown>> } {
  const pgUrl = new URL(PGURL);
  pgUrl.hostname = '127.0.0.1';
  pgUrl.port = String(pgProxy.port);
  const points = Array.from({ length: 30 }, (_, a) => `      p${a}: { register: holding, address: ${a}, type: uint16 }`).join('\n');
  const text = `
gateway: { id: ${gateway} }
buffer: { path: ${bufferPath} }
sinks:
  postgres: { url: "${pgUrl.toString()}", schema: ${db.schema} }
devices:
  - id: d1
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, timeout: 500ms }
    every: 100ms
    points:
${points}
`;
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => logs.push(JSON.parse(l) as Record<string, unknown>) });
  const agent = new Agent({ config: loadConfig({ text, format: 'yaml', env: {} }), logger, forwarder: { idleMs: 100, backoff: { initialMs: 100, maxMs: 400 } }, stopGraceMs: 3000 });
  const emitted: Point[] = [];
  agent.pipeline.onPoints((ps) => emitted.push(...ps));
  return { agent, emitted, logs };
}

/** A small tmpfs of our own: a real file system that really fills up. Needs root. */
function mountSmallDisk(): string | undefined {
  const dir = fs.mkdtempSync(join(tmpdir(), 'edge-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    return undefined;
  }
}

const disk = mountSmallDisk();

afterAll(() => {
  if (disk !== undefined) execFileSync('umount', ['-l', disk]);
});

it.skipIf(missing('a tmpfs of our own', disk !== undefined, 'root, to mount it'))('survives a full disk: keeps polling, counts the points it cannot keep, and writes again once space returns', { timeout: 180_000 }, async () => {
  if (disk === undefined) throw new Error('mounting a small tmpfs failed: the full-disk test needs root');
  const dir = disk;
  await pgProxy.down(); // nothing leaves: the buffer grows
  const { agent, emitted, logs } = makeAgent('gw-full', join(dir, 'b.db'));
  await agent.start();
  try {
    await until('a backlog', () => (agent.bufferStats()?.rows ?? 0) >= 1500, 45_000);
    // Another program fills the disk.
    try {
      fs.writeFileSync(join(dir, 'filler'), Buffer.alloc(64 * 1024 * 1024));
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    await until('appends failing for lack of space', () => (agent.deliveryCounters()?.buffer.diskFullEvents ?? 0) >= 1 && (agent.deliveryCounters()?.buffer.dropped ?? 0) >= 300, 45_000);
    const polled = emitted.length;
    await until('polling goes on regardless', () => emitted.length >= polled + 300, 45_000);
    expect(agent.running).toBe(true);
    expect(logs.some((l) => l.code === 'EDGE_BUFFER_DISK_FULL' && l.level === 50)).toBe(true);

    // Space comes back.
    fs.rmSync(join(dir, 'filler'));
    const before = agent.bufferStats()?.lastSeq ?? 0;
    await until('appends succeed again', () => (agent.bufferStats()?.lastSeq ?? 0) >= before + 300, 45_000);
    expect(logs.some((l) => l.msg === 'buffer writes again after a full disk')).toBe(true);
    const recoveredFrom = emitted.length;
    await until('more points stored', () => emitted.length >= recoveredFrom + 120, 45_000);
    await pgProxy.up();
    await until('delivering again', () => (agent.deliveryCounters()?.sinks.postgres?.lagRows ?? Infinity) < 150, 45_000);
    await agent.stop();
    const pg = await pgPointKeys(db.pool, db.schema, 'gw-full');
    expect(emitted.slice(recoveredFrom).filter((p) => !pg.has(`${p.deviceId}/${p.pointId}@${p.ts}`))).toEqual([]);
  } finally {
    await agent.stop();
    await pgProxy.up();
  }
});

it('moves a corrupt buffer file aside at start, reports it as an error, and runs on a new one', { timeout: 60_000 }, async () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'edge-corrupt-'));
  const file = join(dir, 'b.db');
  const old = new SqliteBuffer({ path: file, sinks: ['postgres'] });
  old.append(Array.from({ length: 20_000 }, (_, i) => ({ deviceId: 'old', pointId: `p${i % 10}`, measurement: 'm', tags: {}, value: i, ts: 1_790_000_000_000 + i, quality: 'good' as const })));
  old.close();
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.alloc(4 * 4096, 0x5a), 0, 4 * 4096, 40 * 4096); // worn flash
  fs.closeSync(fd);

  const { agent, emitted, logs } = makeAgent('gw-corrupt', file);
  await agent.start();
  try {
    const error = logs.find((l) => l.code === 'EDGE_BUFFER_CORRUPT');
    expect(error).toMatchObject({ level: 50, path: file });
    expect(fs.existsSync(String(error?.movedTo))).toBe(true);
    expect(agent.deliveryCounters()?.buffer.recovered?.movedTo).toBe(error?.movedTo);
    await until('the new buffer delivering', async () => (await pgPointKeys(db.pool, db.schema, 'gw-corrupt')).size >= 60);
    await agent.stop();
    const pg = await pgPointKeys(db.pool, db.schema, 'gw-corrupt');
    expect(emitted.filter((p) => !pg.has(`${p.deviceId}/${p.pointId}@${p.ts}`))).toEqual([]);
  } finally {
    await agent.stop();
  }
});
