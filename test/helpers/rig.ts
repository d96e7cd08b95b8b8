/**
 * The real peers the store-and-forward tests run against: a PostgreSQL schema of their own, a
 * Modbus slave serving fixed registers, and on request VictoriaMetrics (the InfluxDB write API)
 * (with `influx`), and TCP proxies in front of both, so a test can take a sink away and give it
 * back without touching the server itself.
 */
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import { RegisterImage, startImageServer } from './modbus-server.js';
import { createTestSchema, PGURL, type TestSchema } from './postgres.js';
import { TcpProxy } from './tcp-proxy.js';
import { VictoriaMetrics } from './victoria.js';

export interface Rig {
  db: TestSchema;
  slave: RunningModbusServer;
  /** In front of PostgreSQL: `down()` is an outage. */
  pgProxy: TcpProxy;
  /** With `influx`: VictoriaMetrics and a proxy in front of it. */
  vm: VictoriaMetrics | undefined;
  vmProxy: TcpProxy | undefined;
  close(): Promise<void>;
}
export type InfluxRig = Rig & { vm: VictoriaMetrics; vmProxy: TcpProxy };

export interface RigOptions {
  /** Name part of the PostgreSQL schema. */
  name: string;
  /** The slave's holding registers; default: `registers` uint16 registers holding their own address. */
  image?: RegisterImage;
  registers?: number;
  influx?: boolean;
}

export async function startRig(opts: RigOptions & { influx: true }): Promise<InfluxRig>;
export async function startRig(opts: RigOptions): Promise<Rig>;
export async function startRig(opts: RigOptions): Promise<Rig> {
  const [vm, db] = await Promise.all([opts.influx ? VictoriaMetrics.start() : undefined, createTestSchema(opts.name)]);
  let image = opts.image;
  if (image === undefined) {
    image = new RegisterImage();
    for (let a = 0; a < (opts.registers ?? 30); a++) image.setValue('holding', a, a, 'uint16');
  }
  const slave = await startImageServer(image);
  const pg = new URL(PGURL);
  const pgProxy = new TcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
  const vmProxy = vm === undefined ? undefined : new TcpProxy({ host: '127.0.0.1', port: vm.port });
  await Promise.all([pgProxy.up(), vmProxy?.up()]);
  return {
    db,
    slave,
    vm,
    pgProxy,
    vmProxy,
    async close() {
      await Promise.all([pgProxy.down(), vmProxy?.down()]);
      await slave.close();
      await vm?.remove();
      await db.drop();
    },
  };
}
