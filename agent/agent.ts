/**
 * The composition root: the only place that wires rooms together.
 * Start order: buffer → sinks → pipeline → drivers (and simulators) → schedules.
 * Stop order: the reverse; every close is bounded, so a hung peer cannot hold the process.
 */
import type { Point } from '../buffer/types.js';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import type { AgentConfig, ResolvedDevice } from '../config/types.js';
import { WellPumpSimulator } from '../drivers/modbus/simulator.js';
import type { Reading } from '../drivers/types.js';
import type { Sink } from '../sinks/types.js';
import { Backoff } from './backoff.js';
import { sleep, systemClock, type Clock } from './clock.js';
import { createDriver } from './drivers.js';
import { DeviceRunner } from './device-runner.js';
import { Forwarder } from './forwarder.js';
import type { Logger } from './logger.js';
import { Pipeline } from './pipeline.js';
import { createSinks, toSinkCatalog } from './sinks.js';

export interface AgentOptions {
  config: AgentConfig;
  logger: Logger;
  clock?: Clock;
  /** Override sink construction (tests); defaults to the sinks the settings enable. */
  sinks?: Sink[];
  forwarder?: { batchSize?: number; idleMs?: number; backoff?: { initialMs: number; maxMs: number } };
  /** How long stop() waits for each stage. */
  stopGraceMs?: number;
}

export class Agent {
  readonly config: AgentConfig;
  readonly pipeline: Pipeline;
  readonly runners = new Map<string, DeviceRunner>();
  readonly forwarders: Forwarder[] = [];
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly opts: AgentOptions;
  private buffer: SqliteBuffer | undefined;
  private sinks: Sink[] = [];
  private simulators: WellPumpSimulator[] = [];
  private catalogSync: AbortController | undefined;
  private state: 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' = 'idle';

  constructor(opts: AgentOptions) {
    this.opts = opts;
    this.config = opts.config;
    this.log = opts.logger;
    this.clock = opts.clock ?? systemClock;
    this.pipeline = new Pipeline({
      append: (points: Point[]) => {
        if (this.buffer === undefined) throw new Error('buffer is not open');
        return this.buffer.append(points);
      },
    });
    this.pipeline.onPoints(() => {
      for (const f of this.forwarders) f.wake();
    });
  }

  get running(): boolean {
    return this.state === 'running';
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.state = 'starting';
    const { settings } = this.config;
    try {
      this.sinks = this.opts.sinks ?? createSinks(settings, this.log);
      this.buffer = new SqliteBuffer({ path: settings.buffer.path, sinks: this.sinks.map((s) => s.name) });
      this.log.info({ path: settings.buffer.path, sinks: this.sinks.map((s) => s.name) }, 'buffer open');
      for (const sink of this.sinks) {
        await sink.start();
        const f = new Forwarder({
          sink,
          outbox: this.buffer,
          clock: this.clock,
          logger: this.log.child({ component: 'forwarder', sink: sink.name }),
          ...this.opts.forwarder,
        });
        this.forwarders.push(f);
        f.start();
      }
      if (this.sinks.length === 0) {
        this.log.warn('no sink configured (sinks.influx.url / sinks.postgres.url): points are kept in the buffer until one is');
      }
      this.startCatalogSync();
      for (const sim of this.config.simulators) {
        const s = new WellPumpSimulator({ host: sim.host, port: sim.port, unitId: sim.unitId, clock: this.clock });
        await s.start();
        this.simulators.push(s);
        this.log.info({ simulator: sim.type, host: sim.host, port: s.port }, 'simulator listening');
      }
      for (const device of this.config.devices) await this.startDevice(device);
      this.state = 'running';
      this.log.info(
        { devices: this.config.devices.length, points: this.config.devices.reduce((n, d) => n + d.points.length, 0), source: this.config.source },
        'agent started',
      );
    } catch (err) {
      this.log.error({ err }, 'agent failed to start');
      await this.stop();
      throw err;
    }
  }

  /** Reads every device once without storing anything (`run --once`). */
  async pollAllOnce(signal: AbortSignal): Promise<Array<{ device: ResolvedDevice; readings: Reading[] }>> {
    const out: Array<{ device: ResolvedDevice; readings: Reading[] }> = [];
    await Promise.all(
      [...this.runners.values()].map(async (r) => {
        const { readings } = await r.pollOnce(signal, false);
        out.push({ device: r.device, readings });
      }),
    );
    return out;
  }

  async stop(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'stopping';
    const grace = this.opts.stopGraceMs ?? 5000;
    this.catalogSync?.abort();
    // Polls first: a poll in flight finishes and its readings are committed to the buffer.
    await Promise.all([...this.runners.values()].map((r) => this.bounded(`device ${r.device.id}`, r.stop(), grace)));
    this.runners.clear();
    await Promise.all(this.simulators.map((s) => this.bounded('simulator', s.stop(), grace)));
    this.simulators = [];
    // Then deliveries: each sink gets a bounded time to finish the batch it is writing.
    await Promise.all(this.forwarders.map((f) => f.stop(grace)));
    this.forwarders.length = 0;
    await Promise.all(this.sinks.map((s) => this.bounded(`sink ${s.name}`, s.stop(), grace)));
    this.buffer?.close();
    this.buffer = undefined;
    this.state = 'stopped';
    this.log.info('agent stopped');
  }

  private async startDevice(device: ResolvedDevice): Promise<void> {
    const log = this.log.child({ component: 'device', device: device.id });
    const driver = createDriver(device, { clock: this.clock, logger: log });
    const runner = new DeviceRunner(device, driver, this.pipeline, this.clock, log);
    this.runners.set(device.id, runner);
    await runner.start();
  }

  /** Mirrors the device catalog to the sinks that keep one, retrying in the background until it lands. */
  private startCatalogSync(): void {
    const catalog = toSinkCatalog(this.config);
    const ctl = new AbortController();
    this.catalogSync = ctl;
    for (const sink of this.sinks) {
      if (sink.syncCatalog === undefined) continue;
      const backoff = new Backoff({ initialMs: 1000, maxMs: 120_000 });
      const attempt = async (): Promise<void> => {
        while (!ctl.signal.aborted) {
          try {
            await sink.syncCatalog?.(catalog);
            this.log.info({ sink: sink.name }, 'device catalog synced');
            return;
          } catch (err) {
            const delay = backoff.next();
            if (backoff.failures === 1 || backoff.failures % 10 === 0) {
              this.log.warn({ sink: sink.name, err: (err as Error).message, retryInMs: delay }, 'device catalog sync failed; retrying');
            }
            await sleep(this.clock, delay, ctl.signal);
          }
        }
      };
      void attempt();
    }
  }

  private async bounded(what: string, p: Promise<void>, ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    });
    try {
      const r = await Promise.race([p.then(() => 'done' as const), timeout]);
      if (r === 'timeout') this.log.warn({ what, ms }, 'stop timed out; going on');
    } catch (err) {
      this.log.warn({ what, err }, 'stop failed; going on');
    } finally {
      clearTimeout(timer);
    }
  }
}
