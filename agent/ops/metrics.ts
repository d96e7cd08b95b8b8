// Room agent/ops: the agent's face to a technician and systemd (HTTP, status, metrics, watchdog, notify, page); may import every room but commands, never agent.ts.
/**
 * `/metrics` in the Prometheus text format (prom-client). Every figure is taken from the same
 * status snapshot as `/status`, at scrape time: counters are the agent's own running totals
 * (reset with the process, as Prometheus expects of counters). Names follow Prometheus' rules —
 * `_total` for counters, base units (seconds, bytes) — and Vector's vocabulary: sent, failed,
 * dropped, dead-lettered. Process figures are prom-client's defaults (`process_*`, `nodejs_*`).
 *
 * One registry per agent (no global state): tests may run several agents in one process.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { AgentStatus } from './status.js';

type Labels = Record<string, string>;
type Sample = [labels: Labels, value: number];

interface Family {
  metric: Counter | Gauge;
  kind: 'counter' | 'gauge';
  samples: (s: AgentStatus) => Sample[];
}

const seconds = (ms: number | null): number | undefined => (ms === null ? undefined : ms / 1000);

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly families: Family[] = [];

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const d = (fn: (dev: AgentStatus['devices'][number]) => number | undefined | null) => (s: AgentStatus) =>
      s.devices.flatMap((dev): Sample[] => {
        const v = fn(dev);
        return v === undefined || v === null ? [] : [[{ device: dev.id }, v]];
      });
    const k = (fn: (sink: AgentStatus['sinks'][number]) => number | undefined | null) => (s: AgentStatus) =>
      s.sinks.flatMap((sink): Sample[] => {
        const v = fn(sink);
        return v === undefined || v === null ? [] : [[{ sink: sink.name }, v]];
      });
    const one = (fn: (s: AgentStatus) => number | undefined) => (s: AgentStatus): Sample[] => {
      const v = fn(s);
      return v === undefined ? [] : [[{}, v]];
    };

    // The agent
    this.gauge('edge_agent_info', 'Always 1; the labels say which gateway and version', ['gateway', 'site', 'version'], (s) => [
      [{ gateway: s.gateway.id, site: s.gateway.site, version: s.version }, 1],
    ]);
    this.gauge('edge_agent_running', '1 while the agent runs (drivers started, not stopping)', [], one((s) => (s.phase === 'running' ? 1 : 0)));
    this.gauge('edge_agent_progressing', '1 while the poll and delivery loops make progress (what the watchdog pings on)', [], one((s) => (s.progress.ok ? 1 : 0)));

    // Devices: the poll loop
    this.gauge('edge_device_up', '1 when the device answered its last poll (some point read), 0 when it failed', ['device'], d((x) => (x.health === null || x.health.lastPollAt === null ? undefined : x.health.consecutiveFailures === 0 ? 1 : 0)));
    this.counter('edge_device_polls_total', 'Polls completed', ['device'], d((x) => x.health?.polls));
    this.counter('edge_device_poll_overruns_total', 'Scheduled polls skipped because the previous one was still running', ['device'], d((x) => x.health?.overruns));
    this.counter('edge_device_points_read_total', 'Points read with a usable value', ['device'], d((x) => x.health?.pointsRead));
    this.counter('edge_device_points_failed_total', 'Points whose read failed (quality bad)', ['device'], d((x) => x.health?.pointsFailed));
    this.gauge('edge_device_poll_duration_seconds', 'How long the last poll took', ['device'], d((x) => seconds(x.health?.lastLatencyMs ?? null)));
    this.gauge('edge_device_requests_per_poll', 'Requests one poll sends to the device (as planned)', ['device'], d((x) => x.requestsPerPoll));
    this.gauge('edge_device_consecutive_failures', 'Polls in a row that read nothing', ['device'], d((x) => x.health?.consecutiveFailures));
    this.gauge('edge_device_last_success_timestamp_seconds', 'When the device last answered (Unix time)', ['device'], d((x) => seconds(x.health?.lastSuccessAt ?? null)));

    // The pipeline
    this.counter('edge_points_emitted_total', 'Points appended to the buffer (reported)', [], one((s) => s.pipeline.emitted));
    this.counter('edge_points_suppressed_total', 'Points not reported by exception (inside the deadband)', [], one((s) => s.pipeline.suppressed));
    this.counter('edge_buffer_append_errors_total', 'Poll cycles whose points could not be stored', [], one((s) => s.pipeline.appendErrors));

    // The buffer (agent/delivery/delivery-counters.ts)
    this.gauge('edge_buffer_rows', 'Rows in the buffer (not yet acknowledged by every sink)', [], one((s) => s.buffer?.rows));
    this.gauge('edge_buffer_bytes', 'Size of the buffer database', [], one((s) => s.buffer?.bytes));
    this.gauge('edge_buffer_max_rows', 'The buffer bound in rows', [], one((s) => s.buffer?.maxRows));
    this.gauge('edge_buffer_max_bytes', 'The buffer bound in bytes', [], one((s) => s.buffer?.maxBytes));
    this.gauge('edge_buffer_held_rows', 'Rows waiting for a trusted clock before delivery', [], one((s) => s.buffer?.held));
    this.counter('edge_buffer_appended_rows_total', 'Rows appended to the buffer', [], one((s) => s.buffer?.appended));
    this.counter('edge_buffer_dropped_rows_total', 'Rows dropped from the buffer (evicted by its bound or refused), each counted once', [], one((s) => s.buffer?.dropped));
    this.counter('edge_buffer_disk_full_total', 'Appends that met a full disk', [], one((s) => s.buffer?.diskFullEvents));
    this.gauge('edge_buffer_pending_rows', 'Rows the sink has not acknowledged', ['sink'], k((x) => x.pending));
    this.gauge('edge_buffer_lag_seconds', 'Age of the oldest row the sink has not acknowledged; 0 when caught up', ['sink'], k((x) => x.lagSeconds));
    this.counter('edge_buffer_sink_dropped_rows_total', 'Rows dropped from the buffer before this sink had them', ['sink'], k((x) => x.dropped));

    // Sinks: the delivery loop
    this.gauge('edge_sink_up', '1 when the last write to the sink succeeded, 0 when it failed (absent before any)', ['sink'], k((x) => (x.reachable === null ? undefined : x.reachable ? 1 : 0)));
    this.counter('edge_sink_points_sent_total', 'Points the sink acknowledged', ['sink'], k((x) => x.sent));
    this.counter('edge_sink_points_failed_total', 'Points in writes that failed (kept and retried; each retry counts)', ['sink'], k((x) => x.failed));
    this.counter('edge_sink_points_dead_lettered_total', 'Points the sink rejected as invalid, moved to dead letters', ['sink'], k((x) => x.deadLettered));
    this.gauge('edge_sink_dead_letters', 'Dead letters stored for the sink now', ['sink'], k((x) => x.deadLetters));
    this.gauge('edge_sink_consecutive_failures', 'Write attempts in a row that failed', ['sink'], k((x) => x.consecutiveFailures));
    this.gauge('edge_sink_last_delivery_timestamp_seconds', 'When the sink last acknowledged a batch (Unix time)', ['sink'], k((x) => seconds(x.lastDeliveryAt)));

    // The wall clock (a Pi has no RTC: points read before NTP syncs are held, then re-stamped or flagged)
    this.gauge('edge_clock_trusted', '1 when the wall clock is trusted', [], one((s) => (s.clock === null ? undefined : s.clock.trusted ? 1 : 0)));
    this.counter('edge_clock_jumps_total', 'Wall-clock jumps seen', [], one((s) => s.clock?.jumps));

    // The ops link (prom-client shows a label-less gauge as 0 when unset: so does a disabled link)
    this.gauge('edge_central_up', '1 when the MQTT link to central ops is online; 0 when it is not, or no central.url is set', [], one((s) => (s.central.state === 'online' ? 1 : 0)));
    this.gauge('edge_central_failed_attempts', 'Connection attempts to central ops that failed since the last connect', [], one((s) => s.central.attempts));

    // The doors: what the embedded broker, the MQTT devices and the HTTP server refused (issue 17)
    this.counter('edge_broker_refused_total', 'What broker.limits refused, by limit: packetTooLarge, connections, connectionsPerUser, subscriptions, retained, inflight, queued, publishRate', ['reason'], (s) =>
      s.broker === null ? [] : Object.entries(s.broker.refused).map(([reason, n]): Sample => [{ reason }, n]));
    this.counter('edge_broker_auth_failures_total', 'MQTT clients refused at CONNECT (unknown user, wrong password, anonymous)', [], one((s) => s.broker?.authFailures));
    this.counter('edge_broker_acl_denied_total', 'PUBLISH and SUBSCRIBE refused by the ACL', ['action'], (s) =>
      s.broker === null ? [] : [[{ action: 'publish' }, s.broker.publishDenied], [{ action: 'subscribe' }, s.broker.subscribeDenied]]);
    this.counter('edge_broker_messages_in_total', 'PUBLISH packets accepted from clients', [], one((s) => s.broker?.messagesIn));
    this.gauge('edge_broker_clients', 'MQTT clients connected now', [], one((s) => s.broker?.clients));
    this.gauge('edge_broker_retained_messages', 'Retained messages clients left on the broker', [], one((s) => s.broker?.retained));
    this.gauge('edge_broker_retained_bytes', 'Payload bytes of those retained messages', [], one((s) => s.broker?.retainedBytes));
    this.counter('edge_mqtt_messages_refused_total', 'MQTT messages refused whole and never parsed: too_large (maxPayload), too_deep (maxDepth)', ['device', 'reason'], (s) =>
      s.devices.flatMap((dev): Sample[] => (dev.payloadRefused === undefined ? [] : [[{ device: dev.id, reason: 'too_large' }, dev.payloadRefused.tooLarge], [{ device: dev.id, reason: 'too_deep' }, dev.payloadRefused.tooDeep]])));
    this.counter('edge_http_connections_total', 'HTTP connections accepted', [], one((s) => s.http?.connections));
    this.counter('edge_http_refused_total', 'What the http limits refused: evicted (an idle or slow connection closed to make room), full, headerTooLarge, urlTooLong, timeout, malformed', ['reason'], (s) =>
      s.http === undefined ? [] : Object.entries(s.http.refused).map(([reason, n]): Sample => [{ reason }, n]));

    // Alerts
    this.gauge('edge_alerts_active', 'Alerts active now, by severity', ['severity'], (s) => {
      const counts = new Map<string, number>([['critical', 0], ['warning', 0], ['info', 0]]);
      for (const a of s.alerts) counts.set(a.severity, (counts.get(a.severity) ?? 0) + 1);
      return [...counts].map(([severity, n]): Sample => [{ severity }, n]);
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for this snapshot. */
  async render(status: AgentStatus): Promise<string> {
    for (const f of this.families) {
      f.metric.reset();
      for (const [labels, value] of f.samples(status)) {
        if (!Number.isFinite(value)) continue;
        if (f.kind === 'counter') (f.metric as Counter).inc(labels, Math.max(0, value));
        else (f.metric as Gauge).set(labels, value);
      }
    }
    // prom-client writes a figure it has no sample for yet as `Nan` (the event-loop delay right
    // after the first load, before the monitor's first 10 ms tick) — not a number Prometheus
    // parses. A sample not yet measured is left out, as for every other figure here.
    const text = await this.registry.metrics();
    return text.replace(/^[^#\n][^\n]* Nan\n/gm, '');
  }

  private counter(name: string, help: string, labelNames: string[], samples: Family['samples']): void {
    this.families.push({ metric: new Counter({ name, help, labelNames, registers: [this.registry] }), kind: 'counter', samples });
  }

  private gauge(name: string, help: string, labelNames: string[], samples: Family['samples']): void {
    this.families.push({ metric: new Gauge({ name, help, labelNames, registers: [this.registry] }), kind: 'gauge', samples });
  }
}
