/**
 * The composition root: the only place that wires rooms together.
 * Start order: buffer → sinks → pipeline → drivers (and simulators) → schedules → HTTP → systemd READY.
 * Stop order: the reverse; every close is bounded, so a hung peer cannot hold the process.
 */
import type { Point } from '../buffer/types.js';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { agentBufferOptions } from './commands/buffer.js';
import { ClockGuard } from './pipeline/clock-sanity-guard.js';
import { ClockSanity, systemClockSources, type ClockSources, type ClockVerdict } from './pipeline/clock-sanity.js';
import { deliveryCounters, type DeliveryCounters } from './delivery/delivery-counters.js';
import type { AgentConfig, ResolvedDevice } from '../config/types.js';
import type { WellPumpSimulator } from '../drivers/modbus/simulator.js';
import type { Reading } from '../drivers/types.js';
import { SinkError, type Sink } from '../sinks/types.js';
import { Backoff } from './delivery/backoff.js';
import { startSimulators } from './simulators.js';
import { sleep, systemClock, type Clock } from './clock.js';
import { ModbusBusRegistry } from '../drivers/modbus/bus-registry.js';
import { createDriver } from './drivers.js';
import { PushDevices } from './pipeline/push-devices.js';
import { isPolled } from './pipeline/push-runner.js';
import { DeviceRunner } from './pipeline/device-runner.js';
import { Forwarder } from './delivery/forwarder.js';
import { HttpServer } from './ops/http.js';
import { packageVersion } from './ops/http-static.js';
import type { Logger } from './logger.js';
import { silentNotifier, type SystemdEnvironment } from './ops/notify.js';
import type { AgentPhase } from './ops/status.js';
import { AlertEngine } from './alerts/engine.js';
import { bufferAlertStore } from './alerts/store.js';
import { progressOf, ProgressMonitor, Watchdog } from './ops/watchdog.js';
import { Pipeline } from './pipeline/pipeline.js';
import { HistoryRecorder } from './pipeline/history.js';
import { createSinks, toSinkCatalog } from './delivery/sinks.js';
import { planApply } from './central/apply-plan.js';
import type { Central } from './central/central.js';
import type { WriteTarget } from './central/write-target.js';
import { comeUp, withinDeadline, type ApplyFailure, type ApplyResult } from './central/come-up.js';
import type { BootConfig } from '../config/config-state.js';
import type { Env } from '../config/types.js';
import { WriteExecutor } from './writes/executor.js';
import { LocalWriteQueue } from './writes/local-queue.js';
import { commandAudit } from './writes/audit.js';

export interface AgentOptions {
  config: AgentConfig;
  logger: Logger;
  clock?: Clock;
  /** Wall and monotonic clock sources for the clock sanity check (tests drive them). */
  clockSources?: ClockSources;
  /** Override sink construction (tests); defaults to the sinks the settings enable. */
  sinks?: Sink[];
  forwarder?: { batchSize?: number; idleMs?: number; backoff?: { initialMs: number; maxMs: number } };
  /** How long stop() waits for each stage. */
  stopGraceMs?: number;
  /** Only the polled devices (`run --once`): no embedded broker, no MQTT or streaming serial devices. */
  polledOnly?: boolean;
  /**
   * `run --demo`: a simulator whose port is in use listens on a free one, and its devices follow
   * (agent/simulators.ts); so does the HTTP server (agent/ops/http.ts). Never for a user's config.
   */
  movablePorts?: boolean;
  /** Serve /health, /ready, /metrics, /status and the status page on settings.http (the CLI does); `retryMs`: how often a failed listen is retried (30 s). */
  http?: boolean | { retryMs?: number };
  /** systemd's notify socket and watchdog (the CLI passes systemdFromEnv's); none by default. */
  systemd?: SystemdEnvironment;
  /** How long a poll may stay in flight, and a backlog wait without a delivery attempt, before the agent counts as stalled. */
  stall?: { pollMs?: number; deliveryMs?: number };
  /**
   * The ops link (agent/central), started when settings.central.url is set: how the config was
   * booted (revision, document, state dir), the environment (pinned keys, `${VAR}` in pushes) and
   * an in-process restart for the `restart` command.
   */
  central?: {
    boot: BootConfig;
    env: Env;
    restart?: () => void;
    backoff?: { initialMs: number; maxMs: number };
    /** Executes `points/write` from central (agent/writes/types.ts WriteApi); default: the agent's own executor (`writes`). */
    writeTarget?: WriteTarget;
  };
}

export class Agent {
  readonly pipeline: Pipeline;
  readonly runners = new Map<string, DeviceRunner>();
  readonly forwarders: Forwarder[] = [];
  /** The embedded MQTT broker and the devices that push readings (MQTT, streaming serial). */
  readonly push: PushDevices;
  /**
   * Local alerts (agent/alerts): evaluated in the pipeline, kept in the buffer file, published on
   * the embedded broker. `list()` and `ack(id, by)` are the API of the central link and the CLI;
   * /status, /metrics and the status page read `active()`.
   */
  readonly alerts: AlertEngine;
  /** Writes to field devices (agent/writes): `execute(req)` and `recordRefusal(req, code, message)`, for the CLI queue and the central link. */
  readonly writes: WriteExecutor;
  private readonly localWrites: LocalWriteQueue;
  private applyingNow = false;
  /** Whether the poll and delivery loops make progress (/health, the systemd watchdog). */
  readonly progress: ProgressMonitor;
  /** The local history (agent/pipeline/history.ts), while the buffer is open and buffer.history.enabled. */
  history: HistoryRecorder | undefined;
  private historyTimer: unknown;
  private http: HttpServer | undefined;
  private watchdog: Watchdog | undefined;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly opts: AgentOptions;
  /** Modbus RTU buses, one per serial port or device server, shared by the devices on it (closed by the last one). */
  private readonly buses: ModbusBusRegistry;
  private buffer: SqliteBuffer | undefined;
  /** Between pipeline and buffer: points read before the wall clock is trusted are held or flagged. */
  private clockGuard: { sanity: ClockSanity; guard: ClockGuard } | undefined;
  private sinks: Sink[] = [];
  private simulators: WellPumpSimulator[] = [];
  private catalogSync: AbortController | undefined;
  private state: 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' = 'idle';
  /** The running config; replaced by applyConfig (a config push). */
  private current: AgentConfig;
  /** The ops link (agent/central), when settings.central.url is set and the caller asked for it. */
  private central: Central | undefined;
  /** One apply at a time: a second push waits for the first to be confirmed or rolled back. */
  private applying: Promise<unknown> = Promise.resolve();

  constructor(opts: AgentOptions) {
    this.opts = opts;
    this.current = opts.config;
    this.log = opts.logger;
    this.clock = opts.clock ?? systemClock;
    const settings = (): AgentConfig['settings'] => this.config.settings;
    let commitErrors = 0;
    this.pipeline = new Pipeline(
      {
        append: (points: Point[], at?: unknown) => {
          if (this.buffer === undefined) throw new Error('buffer is not open');
          const guard = this.clockGuard?.guard;
          return guard === undefined ? this.buffer.append(points) : guard.append(points, {}, at as ClockVerdict | undefined);
        },
        readContext: () => this.clockGuard?.guard.check(),
        sameContext: (a, b) => a === undefined || b === undefined || ClockGuard.sameTreatment(a as ClockVerdict, b as ClockVerdict),
      },
      {
        // Read at every cycle: a pushed config may change it.
        get intervalMs() {
          return settings().buffer.commitInterval;
        },
        clock: this.clock,
        onError: (err, points) => {
          commitErrors += 1;
          // ERROR: these readings are lost. Rate-limited: the first, then every 100th.
          if (commitErrors === 1 || commitErrors % 100 === 0) this.log.error({ err, points, commitErrors }, 'readings could not be stored');
        },
      },
    );
    this.pipeline.onPoints(() => {
      for (const f of this.forwarders) f.wake();
      // Buckets that closed go to the file right after the commit, not on a cadence of their own.
      this.history?.flush();
    });
    this.pipeline.onTransformed((points) => this.history?.record(points));
    this.push = new PushDevices({ config: this.config, pipeline: this.pipeline, clock: this.clock, logger: this.log });
    this.alerts = new AlertEngine({
      config: this.config,
      clock: this.clock,
      logger: this.log.child({ component: 'alerts' }),
      clockCheck: () => this.clockGuard?.guard.check(),
      publish: async (topic, payload) => {
        await this.push.embeddedBroker?.publish(topic, payload, { qos: 1, retain: true });
      },
    });
    this.pipeline.onTransformed((points) => this.alerts.evaluate(points));
    this.writes = new WriteExecutor({
      target: (id) => this.runners.get(id),
      applying: () => this.applyingNow,
      process: (device, readings) => void this.pipeline.process(device, readings),
      audit: () => (this.buffer === undefined ? undefined : commandAudit(this.buffer, () => this.config, this.clockGuard?.guard)),
      appended: () => this.forwarders.forEach((f) => f.wake()),
      clock: this.clock,
      logger: this.log.child({ component: 'writes' }),
    });
    this.localWrites = new LocalWriteQueue({ store: () => this.buffer?.commands, writes: this.writes, clock: this.clock, logger: this.log.child({ component: 'writes' }) });
    this.buses = new ModbusBusRegistry({ clock: this.clock, logger: this.log.child({ component: 'modbus-bus' }) });
    this.progress = new ProgressMonitor({
      sources: progressOf(this),
      // systemd's WatchdogSec bounds one poll too; keep device timeouts well below it.
      pollStallMs: opts.stall?.pollMs ?? opts.systemd?.watchdogMs ?? 60_000,
      // Longer than the longest back-off wait (2 min) plus a write: a sink that is down is not a stall.
      deliveryStallMs: opts.stall?.deliveryMs ?? 600_000,
    });
  }

  get config(): AgentConfig {
    return this.current;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  get phase(): AgentPhase {
    return this.state;
  }

  /** What the buffer holds; undefined while it is not open. */
  bufferStats(): ReturnType<SqliteBuffer['stats']> | undefined {
    return this.buffer?.stats();
  }

  /** Per-sink sent/failed/dropped/dead-lettered/lag, buffer and clock figures (delivery-counters.ts); undefined while the buffer is not open. */
  deliveryCounters(): DeliveryCounters | undefined {
    return this.buffer === undefined ? undefined : deliveryCounters(this.buffer, this.forwarders, this.clock.now(), this.clockGuard);
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.state = 'starting';
    const { settings } = this.config;
    try {
      this.sinks = this.opts.sinks ?? (await createSinks(settings, this.log));
      this.buffer = new SqliteBuffer(agentBufferOptions(settings, this.sinks.map((s) => s.name), this.log));
      const clockLog = this.log.child({ component: 'clock' });
      const sanity = new ClockSanity({ sources: this.opts.clockSources ?? systemClockSources(), logger: clockLog });
      this.clockGuard = { sanity, guard: new ClockGuard({ sanity, buffer: this.buffer, mode: settings.buffer.untrustedClock, logger: clockLog }) };
      this.clockGuard.guard.start(this.clock);
      this.log.info({ path: settings.buffer.path, sinks: this.sinks.map((s) => s.name) }, 'buffer open');
      this.startHistory(this.buffer);
      for (const sink of this.sinks) {
        await sink.start();
        this.startForwarder(sink);
      }
      if (this.sinks.length === 0) {
        this.log.warn('no sink configured (sinks.influx.url / sinks.postgres.url): points are kept in the buffer until one is');
      }
      this.startCatalogSync();
      // Before the devices: a demo simulator that had to move takes its devices with it.
      this.current = await startSimulators(this.config, this.simulators, { clock: this.clock, logger: this.log, movable: this.opts.movablePorts === true });
      // The embedded broker exists before the devices (MQTT devices subscribe in-process) and listens after them.
      if (!this.opts.polledOnly) await this.push.prepare();
      // After the broker exists (active alerts are republished there), before the first reading.
      const buffer = this.buffer;
      const guard = this.clockGuard.guard;
      this.alerts.start(bufferAlertStore(buffer, () => this.forwarders.forEach((f) => f.wake()), guard));
      for (const device of this.config.devices) await this.startDevice(device);
      if (!this.opts.polledOnly) await this.push.listen();
      // Attempts a crash cut short are recorded as interrupted before any new write is taken.
      this.writes.start();
      if (!this.opts.polledOnly) this.localWrites.start();
      this.state = 'running';
      await this.startSurface();
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

  /**
   * Applies a new config to the running agent (a config push). Only the devices whose resolved
   * config changed are stopped and started again; the others keep polling. The buffer stays open
   * and the forwarders keep delivering; a sink whose settings changed is rebuilt, its cursor in the
   * buffer untouched, so nothing buffered is lost. With `check`, each new or changed device must
   * start and answer (a good reading, a connected broker, an open port) within `timeoutMs`;
   * `failures` lists those that did not, and the caller rolls back. One apply at a time.
   */
  applyConfig(next: AgentConfig, opts: { timeoutMs: number; check: boolean }): Promise<ApplyResult> {
    const run = this.applying.then(async () => {
      this.applyingNow = true;
      try {
        return await this.applyNow(next, opts);
      } finally {
        this.applyingNow = false;
      }
    });
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async applyNow(next: AgentConfig, opts: { timeoutMs: number; check: boolean }): Promise<ApplyResult> {
    if (this.state !== 'running') throw new Error(`cannot apply a config while the agent is ${this.state}`);
    const prev = this.current;
    const plan = planApply(prev, next, this.opts.sinks === undefined);
    const grace = this.opts.stopGraceMs ?? 5000;
    const deadline = this.clock.now() + opts.timeoutMs;
    // Stopping a runner lets its poll in flight finish: what it read is committed first.
    await Promise.all(
      [...plan.removed, ...plan.changed].map(async (id) => {
        const runner = this.runners.get(id);
        this.runners.delete(id);
        if (runner !== undefined) await this.bounded(`device ${id}`, runner.stop(), grace);
        await this.push.stopDevice(id, (what, p) => this.bounded(what, p, grace));
        this.pipeline.forgetDevice(id);
      }),
    );
    this.current = next;
    this.alerts.reconfigure(next);
    if (next.settings.log.level !== prev.settings.log.level) this.log.level = next.settings.log.level;
    const failures: ApplyFailure[] = [];
    const starting = next.devices.filter((d) => plan.added.includes(d.id) || plan.changed.includes(d.id));
    for (const device of starting) {
      const error = await withinDeadline(this.startDevice(device), deadline, this.clock);
      if (error !== undefined) failures.push({ subject: `devices.${device.id}`, code: 'EDGE_DEVICE_START_FAILED', error });
    }
    for (const name of plan.sinks) {
      const error = await withinDeadline(this.replaceSink(name, next, grace), deadline, this.clock);
      if (error !== undefined) failures.push({ subject: `sinks.${name}`, code: 'EDGE_SINK_START_FAILED', error });
    }
    if (opts.check && failures.length === 0) {
      failures.push(...(await comeUp(starting.map((d) => this.runners.get(d.id) ?? this.push.runners.get(d.id)), deadline, this.clock)));
    }
    if (starting.length > 0 || plan.removed.length > 0) {
      this.catalogSync?.abort();
      this.startCatalogSync();
    }
    this.log.info({ ...plan, failures: failures.length }, 'config applied');
    return { ...plan, failures };
  }

  /** Rebuilds one sink from new settings: its forwarder stops (the batch in flight stays in the buffer) and a new one picks up at the same cursor. */
  private async replaceSink(name: string, next: AgentConfig, grace: number): Promise<void> {
    const i = this.forwarders.findIndex((f) => f.name === name);
    const old = this.forwarders[i];
    if (old !== undefined) {
      this.forwarders.splice(i, 1);
      await old.stop(grace);
    }
    const oldSink = this.sinks.find((s) => s.name === name);
    if (oldSink !== undefined) await this.bounded(`sink ${name}`, oldSink.stop(), grace);
    const sink = (await createSinks(next.settings, this.log)).find((s) => s.name === name);
    if (sink === undefined) throw new Error(`sink ${name} is not enabled by the new settings`);
    this.sinks = [...this.sinks.filter((s) => s.name !== name), sink];
    await sink.start();
    this.startForwarder(sink);
  }

  private startForwarder(sink: Sink): void {
    if (this.buffer === undefined) throw new Error('buffer is not open');
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
    // STOPPING=1 at once; HTTP goes first (the reverse of the start order).
    const toldSystemd = this.watchdog?.stop();
    this.localWrites.stop();
    this.writes.stop();
    this.watchdog = undefined;
    if (this.http !== undefined) await this.bounded('http', this.http.stop(), grace);
    this.http = undefined;
    if (this.central !== undefined) await this.bounded('central link', this.central.stop(), grace);
    this.central = undefined;
    this.catalogSync?.abort();
    await this.push.stop((what, p) => this.bounded(what, p, grace));
    // Polls first: a poll in flight finishes and its readings are committed to the buffer.
    await Promise.all([...this.runners.values()].map((r) => this.bounded(`device ${r.device.id}`, r.stop(), grace)));
    this.runners.clear();
    await Promise.all(this.simulators.map((s) => this.bounded('simulator', s.stop(), grace)));
    this.simulators = [];
    // What the last interval read goes in now, before the forwarders drain.
    this.pipeline.flush();
    this.stopHistory();
    // Then deliveries: each sink gets a bounded time to finish the batch it is writing.
    await Promise.all(this.forwarders.map((f) => f.stop(grace)));
    this.forwarders.length = 0;
    await Promise.all(this.sinks.map((s) => this.bounded(`sink ${s.name}`, s.stop(), grace)));
    this.alerts.stop();
    this.clockGuard?.guard.stop();
    this.clockGuard = undefined;
    this.buffer?.close();
    this.buffer = undefined;
    if (toldSystemd !== undefined) await this.bounded('systemd notify', toldSystemd, grace);
    this.state = 'stopped';
    this.log.info('agent stopped');
  }

  /**
   * The local history, kept in the buffer file. Its settings are read at start (a push that
   * changes them takes effect at the next restart). A tick each fine step writes buckets whose
   * time is over when no commit came to carry them (every reading suppressed, a device down).
   */
  private startHistory(buffer: SqliteBuffer): void {
    const h = this.config.settings.buffer.history;
    if (!h.enabled) return;
    const tags = new WeakMap<AgentConfig, Map<string, Readonly<Record<string, string>>>>();
    let failures = 0;
    this.history = new HistoryRecorder({
      tiers: [
        { stepMs: h.step, keepMs: h.keep },
        { stepMs: h.longStep, keepMs: h.longKeep },
      ],
      store: buffer.history,
      now: () => this.clock.now(),
      configuredTags: (device, point) => {
        const config = this.config;
        let byPoint = tags.get(config);
        if (byPoint === undefined) {
          byPoint = new Map(config.devices.flatMap((d) => d.points.map((p): [string, Readonly<Record<string, string>>] => [`${d.id}\u0000${p.id}`, p.tags])));
          tags.set(config, byPoint);
        }
        return byPoint.get(`${device}\u0000${point}`);
      },
      onError: (err, rows) => {
        failures += 1;
        // WARN: the trend has a gap; the points themselves are in the buffer.
        if (failures === 1 || failures % 100 === 0) this.log.warn({ err, rows, failures }, 'history buckets could not be written');
      },
    });
    const tick = (): void => {
      this.history?.flush();
      this.historyTimer = this.clock.setTimeout(tick, h.step);
    };
    this.historyTimer = this.clock.setTimeout(tick, h.step);
  }

  private stopHistory(): void {
    if (this.historyTimer !== undefined) this.clock.clearTimeout(this.historyTimer);
    this.historyTimer = undefined;
    this.history?.flush(true);
    this.history = undefined;
  }

  /**
   * HTTP, then READY=1 and the watchdog: the last things up, the first ones down. A port that
   * is taken is logged and retried by the server; it does not stop the agent.
   */
  private async startSurface(): Promise<void> {
    await this.startCentral();
    if (!this.opts.http && this.opts.systemd === undefined) return;
    if (this.opts.http) {
      const { host, port, token, ...limits } = this.config.settings.http;
      const logger = this.log.child({ component: 'http' });
      const retryMs = typeof this.opts.http === 'object' ? this.opts.http.retryMs : undefined;
      this.http = new HttpServer({ host, port, token, limits, view: this, monitor: this.progress, version: packageVersion(), logger, clock: this.clock, retryMs, movable: this.opts.movablePorts === true });
      await this.http.start();
    }
    this.watchdog = new Watchdog({
      monitor: this.progress,
      notifier: this.opts.systemd?.notifier ?? silentNotifier,
      watchdogMs: this.opts.systemd?.watchdogMs,
      clock: this.clock,
      logger: this.log.child({ component: 'watchdog' }),
      describe: () => {
        const sinks = this.forwarders.map((f) => f.name);
        return `polling ${this.runners.size} device${this.runners.size === 1 ? '' : 's'}; ${sinks.length === 0 ? 'no sink' : `sinks: ${sinks.join(', ')}`}`;
      },
    });
    this.watchdog.ready();
  }

  /**
   * The ops link: connects in the background; an unreachable broker never holds the agent. Its
   * module (and MQTT.js) is imported only when a central URL is set.
   */
  private async startCentral(): Promise<void> {
    const c = this.opts.central;
    const { boot } = c ?? {};
    if (c === undefined || boot === undefined || boot.state === undefined || this.current.settings.central.url === '') return;
    const { Central } = await import('./central/central.js');
    this.central = new Central({
      agent: this,
      running: { rev: boot.rev, origin: boot.origin, document: boot.document, localCentral: boot.localCentral },
      state: boot.state,
      notes: boot.notes,
      interruptedRev: boot.interruptedRev,
      env: c.env,
      version: packageVersion(),
      clock: this.clock,
      logger: this.log.child({ component: 'central' }),
      restart: c.restart,
      ...(c.backoff === undefined ? {} : { backoff: c.backoff }),
      // Central checks the signature, expiry and nonce; the executor the limits, rate, device and audit.
      writes: { target: c.writeTarget ?? this.writes, nonces: this.buffer?.nonces },
    });
    this.central.start();
  }

  /** The ops link, while it runs (status and tests). */
  get centralLink(): Central | undefined {
    return this.central;
  }

  private async startDevice(device: ResolvedDevice): Promise<void> {
    if (!isPolled(device)) {
      if (!this.opts.polledOnly) await this.push.start(device);
      return;
    }
    const log = this.log.child({ component: 'device', device: device.id });
    const driver = await createDriver(device, { clock: this.clock, logger: log, buses: this.buses });
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
              // A configuration-class failure (password, database, privilege) is an operator's to fix: ERROR with the fix.
              const e = err instanceof SinkError ? err : undefined;
              const fields = { sink: sink.name, code: e?.code, err: (err as Error).message, retryInMs: delay, ...(e?.fix === undefined ? {} : { fix: e.fix }) };
              if (e?.needsOperator === true) this.log.error(fields, `device catalog sync refused; retrying${e.fix === undefined ? '' : `; fix: ${e.fix}`}`);
              else this.log.warn(fields, 'device catalog sync failed; retrying');
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
