// Room agent/ops: the agent's face to a technician and systemd (HTTP, status, metrics, watchdog, notify, page); may import every room but commands, never agent.ts.
/**
 * The live state of a running agent, as one JSON-ready snapshot: devices and their health, the
 * latest value of every point, active alerts, the buffer and each sink. `/status`, `/metrics` and
 * the status page all read it, so a figure means the same thing everywhere. Times are epoch ms,
 * like every timestamp in the agent; `now` is the gateway's clock, so a viewer can show ages
 * without trusting its own clock.
 */
import type { BrokerStats } from '../../broker/broker.js';
import type { BufferStats, Point, Quality, Value, CommandRecord } from '../../buffer/types.js';
import { formatDuration } from '../../config/duration.js';
import type { AgentConfig, ResolvedDevice } from '../../config/types.js';
import { planRequests } from '../../drivers/modbus/plan.js';
import type { DeliveryCounters, SinkCounters } from '../delivery/delivery-counters.js';
import type { DeviceHealth } from '../pipeline/device-runner.js';
import type { HttpStats } from './http-limits.js';
import type { ForwarderStats } from '../delivery/forwarder.js';
import type { PipelineStats } from '../pipeline/pipeline.js';
import type { HistoryRecorder } from '../pipeline/history.js';
import type { Stall, Verdict } from './watchdog.js';
import { withoutCredentials } from '../central/url.js';
import type { LinkStatus } from '../central/link.js';
import type { LastApply } from '../central/last-apply.js';
import type { ActiveAlert, AlertSource } from '../alerts/active.js';

export type { ActiveAlert, AlertSource } from '../alerts/active.js';
export { noAlerts } from '../alerts/active.js';


export type AgentPhase = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/** What the status, metrics and watchdog read of the agent (the Agent class fits). */
export interface AgentView {
  readonly config: AgentConfig;
  readonly phase: AgentPhase;
  readonly runners: ReadonlyMap<string, { readonly health: DeviceHealth }>;
  readonly forwarders: ReadonlyArray<{ readonly name: string; readonly stats: ForwarderStats }>;
  readonly pipeline: { readonly latest: ReadonlyMap<string, Point>; readonly stats: PipelineStats };
  readonly alerts: AlertSource;
  /** Undefined while the buffer is not open. */
  bufferStats(): BufferStats | undefined;
  /** The buffer's and each sink's delivery figures (agent/delivery/delivery-counters.ts); undefined while the buffer is not open. */
  deliveryCounters(): DeliveryCounters | undefined;
  /** The local history (GET /history) while it runs; absent or undefined when off. */
  readonly history?: HistoryRecorder | undefined;
  /** Writes to devices (agent/writes): the newest attempts from the audit; absent where nothing writes. */
  readonly writes?: { recent(limit: number): readonly WriteStatus[] } | undefined;
  /** The ops link (agent/central) while it runs; absent or undefined otherwise. */
  readonly centralLink?: { status(): CentralStatus } | undefined;
  /** The embedded broker and the push devices (MQTT, streaming serial), for their counters. */
  readonly push?: {
    readonly embeddedBroker: { readonly stats: BrokerStats } | undefined;
    readonly runners: ReadonlyMap<string, { snapshot(): { driver: object } }>;
  };
}

/**
 * The link to central ops: `disabled` without central.url; `connecting` until the first attempt
 * settles; `online`; `offline` with the last error (a refused password, a certificate that does
 * not verify, an outage). `url` never carries credentials. `rev`, `origin` and `lastApply` are the
 * running config's revision and the outcome of the last push (null while the link is not running).
 */
export interface CentralStatus extends Omit<LinkStatus, 'state' | 'url' | 'since'> {
  state: 'disabled' | LinkStatus['state'];
  url: string | null;
  since: number | null;
  rev: number | null;
  origin: 'file' | 'pushed' | null;
  lastApply: LastApply | null;
}

export type DeviceState = 'ok' | 'failing' | 'waiting' | 'stalled';

export interface PointStatus {
  id: string;
  /** Tags this series was captured with (an MQTT topic's `{ward}`), beyond the configured ones. */
  series?: Record<string, string>;
  value: Value | null;
  unit?: string;
  /** Null until the first reading. */
  quality: Quality | null;
  ts: number | null;
  error?: string;
}

export interface DeviceStatus {
  id: string;
  driver: string;
  /** `every 10s`, `cron 0 * * * *`, or null for a device that pushes its readings. */
  schedule: string | null;
  state: DeviceState;
  /** Null for a device without a polling runner (pushed readings). */
  health: DeviceHealth | null;
  /** Requests one poll sends, as planned (Modbus); null where the driver does not say. */
  requestsPerPoll: number | null;
  /** MQTT devices: messages refused whole (larger than maxPayload, JSON deeper than maxDepth), never parsed. */
  payloadRefused?: { tooLarge: number; tooDeep: number };
  points: PointStatus[];
}

/** Counters count since the agent started; `pending`, `lagSeconds` and `deadLetters` are read now. */
export interface SinkStatus {
  name: string;
  /** True when the last attempt succeeded, false when it failed, null before any attempt. */
  reachable: boolean | null;
  /** Rows the sink has not acknowledged. */
  pending: number;
  /** Age of the oldest row the sink has not acknowledged, in seconds; 0 when caught up. */
  lagSeconds: number;
  sent: number;
  /** Points in write attempts that failed (each retry counts again). */
  failed: number;
  /** Points the sink rejected as invalid (moved to dead letters). */
  deadLettered: number;
  /** Dead letters stored for this sink now. */
  deadLetters: number;
  /** Rows dropped from the buffer before this sink had them. */
  dropped: number;
  consecutiveFailures: number;
  lastDeliveryAt: number | null;
  lastError: ForwarderStats['lastError'];
}

export type BufferStatus = DeliveryCounters['buffer'];
export type ClockStatus = DeliveryCounters['clock'];

export interface AgentStatus {
  gateway: { id: string; site: string };
  version: string;
  phase: AgentPhase;
  now: number;
  uptimeSeconds: number;
  /** Whether the poll and delivery loops make progress (the watchdog's verdict). */
  progress: { ok: boolean; stalled: Stall[] };
  devices: DeviceStatus[];
  alerts: ActiveAlert[];
  buffer: BufferStatus | null;
  sinks: SinkStatus[];
  /** Whether the wall clock is trusted (a Pi without RTC before NTP); null when not watched. */
  clock: ClockStatus;
  pipeline: PipelineStats;
  central: CentralStatus;
  /** The embedded broker's counters (refusals of broker.limits among them); null without one. */
  broker: BrokerStats | null;
  /** The HTTP server's connections and refusals of the http limits (filled in by the server itself). */
  http?: HttpStats;
  /** The last writes to devices, newest first (the status page shows them). */
  writes: WriteStatus[];
}

/** One write attempt as the status shows it (buffer/types.ts CommandRecord). */
export type WriteStatus = Pick<CommandRecord, 'id' | 'device' | 'point' | 'requested' | 'readback' | 'outcome' | 'code' | 'by' | 'origin' | 'requestedAt'>;

export interface StatusOptions {
  view: AgentView;
  version: string;
  /** Latest progress verdict (the watchdog's monitor); all well when absent. */
  progress?: () => Verdict;
  now?: () => number;
}

export class StatusReader {
  private readonly opts: StatusOptions;
  private readonly requests = new WeakMap<ResolvedDevice, number | null>();

  constructor(opts: StatusOptions) {
    this.opts = opts;
  }

  read(): AgentStatus {
    const { view } = this.opts;
    const now = (this.opts.now ?? Date.now)();
    const progress = this.opts.progress?.() ?? { ok: true, stalled: [] };
    const delivery = view.deliveryCounters();
    const stalledDevices = new Set(progress.stalled.filter((s) => s.loop === 'poll').map((s) => s.subject));
    const latest = latestByDevice(view.pipeline.latest);
    return {
      gateway: { id: view.config.settings.gateway.id, site: view.config.settings.gateway.site },
      version: this.opts.version,
      phase: view.phase,
      now,
      uptimeSeconds: Math.round(process.uptime()),
      progress: { ok: progress.ok, stalled: progress.stalled },
      devices: view.config.devices.map((d) => this.device(d, view.runners.get(d.id)?.health ?? null, latest.get(d.id) ?? [], stalledDevices.has(d.id))),
      alerts: [...view.alerts.active()],
      buffer: delivery === undefined ? null : { ...delivery.buffer },
      sinks: delivery === undefined ? [] : Object.entries(delivery.sinks).map(([name, c]) => sinkStatus(name, c)),
      clock: delivery?.clock ?? null,
      pipeline: { ...view.pipeline.stats },
      central: centralStatus(view),
      broker: brokerStatus(view),
      writes: (view.writes?.recent(10) ?? []).map((w) => ({ id: w.id, device: w.device, point: w.point, requested: w.requested, readback: w.readback, outcome: w.outcome, code: w.code, by: w.by, origin: w.origin, requestedAt: w.requestedAt })),
    };
  }

  private device(d: ResolvedDevice, health: DeviceHealth | null, latest: readonly Point[], stalled: boolean): DeviceStatus {
    return {
      id: d.id,
      driver: d.driver,
      schedule: d.schedule === undefined ? null : d.schedule.kind === 'every' ? `every ${formatDuration(d.schedule.everyMs)}` : `cron ${d.schedule.cron}`,
      state: stalled ? 'stalled' : deviceState(health, latest),
      health: health === null ? null : { ...health },
      requestsPerPoll: this.requestsPerPoll(d),
      ...payloadRefused(this.opts.view, d),
      points: pointStatuses(d, latest),
    };
  }

  /**
   * Planned from the register map, so it is known before the first poll. Where a driver comes to
   * report what it really sent (splits of rejected requests included), read that here instead.
   */
  private requestsPerPoll(d: ResolvedDevice): number | null {
    let n = this.requests.get(d);
    if (n === undefined) {
      n = d.driver === 'modbus' ? planRequests(d.points, { maxGap: d.maxGap, coalesce: d.coalesce }).requests.length : null;
      this.requests.set(d, n);
    }
    return n;
  }
}

function deviceState(health: DeviceHealth | null, latest: readonly Point[]): DeviceState {
  if (health === null) return latest.length > 0 ? 'ok' : 'waiting';
  if (health.consecutiveFailures > 0) return 'failing';
  return health.lastPollAt === null ? 'waiting' : 'ok';
}

/** The pipeline keys its latest points by device, point and captured tags; group them by device. */
function latestByDevice(latest: ReadonlyMap<string, Point>): Map<string, Point[]> {
  const out = new Map<string, Point[]>();
  for (const p of latest.values()) {
    const list = out.get(p.deviceId);
    if (list === undefined) out.set(p.deviceId, [p]);
    else list.push(p);
  }
  return out;
}

/** Every configured point in config order, each with its latest value (one row per captured series). */
function pointStatuses(d: ResolvedDevice, latest: readonly Point[]): PointStatus[] {
  const out: PointStatus[] = [];
  for (const cfg of d.points) {
    const series = latest.filter((p) => p.pointId === cfg.id).sort((a, b) => seriesLabel(a, cfg.tags).localeCompare(seriesLabel(b, cfg.tags)));
    if (series.length === 0) {
      out.push({ id: cfg.id, value: null, ...(cfg.unit === undefined ? {} : { unit: cfg.unit }), quality: null, ts: null });
      continue;
    }
    for (const p of series) {
      const captured = capturedTags(p.tags, cfg.tags);
      out.push({
        id: cfg.id,
        ...(captured === undefined ? {} : { series: captured }),
        value: p.value,
        ...(p.unit === undefined ? {} : { unit: p.unit }),
        quality: p.quality,
        ts: p.ts,
        ...(p.error === undefined ? {} : { error: p.error }),
      });
    }
  }
  return out;
}

function capturedTags(tags: Readonly<Record<string, string>>, configured: Readonly<Record<string, string>>): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) if (configured[k] !== v) out[k] = v;
  return Object.keys(out).length === 0 ? undefined : out;
}

function seriesLabel(p: Point, configured: Readonly<Record<string, string>>): string {
  return JSON.stringify(capturedTags(p.tags, configured) ?? {});
}

function brokerStatus(view: AgentView): BrokerStats | null {
  const stats = view.push?.embeddedBroker?.stats;
  return stats === undefined ? null : { ...stats, refused: { ...stats.refused } };
}

function payloadRefused(view: AgentView, d: ResolvedDevice): { payloadRefused?: { tooLarge: number; tooDeep: number } } {
  if (d.driver !== 'mqtt') return {};
  const driver = view.push?.runners.get(d.id)?.snapshot().driver as { tooLarge?: number; tooDeep?: number } | undefined;
  return { payloadRefused: { tooLarge: driver?.tooLarge ?? 0, tooDeep: driver?.tooDeep ?? 0 } };
}

function centralStatus(view: AgentView): CentralStatus {
  const running = view.centralLink?.status();
  if (running !== undefined) return running;
  const { url } = view.config.settings.central;
  return {
    state: url === '' ? 'disabled' : 'offline',
    url: url === '' ? null : withoutCredentials(url),
    since: null,
    attempts: 0,
    retryInMs: null,
    lastConnectedAt: null,
    lastError: null,
    rev: null,
    origin: null,
    lastApply: null,
  };
}

function sinkStatus(name: string, c: SinkCounters): SinkStatus {
  const attempted = c.lastDeliveryAt !== null || c.lastError !== null;
  return {
    name,
    reachable: !attempted ? null : c.consecutiveFailures === 0,
    pending: c.lagRows,
    lagSeconds: c.lagMs === null ? 0 : c.lagMs / 1000,
    sent: c.sent,
    failed: c.failed,
    deadLettered: c.deadLettered,
    deadLetters: c.deadLetters,
    dropped: c.dropped,
    consecutiveFailures: c.consecutiveFailures,
    lastDeliveryAt: c.lastDeliveryAt,
    lastError: c.lastError,
  };
}
