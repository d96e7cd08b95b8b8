// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/**
 * `edge-agent fleet status`: every gateway under the prefix on the central broker, from what the
 * gateways leave there — retained `state` (online/offline, also their last will) and `info`
 * (version, config rev, last apply) — plus, for each online gateway, a `buffer/stats` request for
 * its sink lag and the `health` it publishes on connect (active alerts) when one is seen.
 */
import type { MqttClient } from 'mqtt';
import { redactUrl } from '../logger.js';

export interface GatewayRow {
  gateway: string;
  state: 'online' | 'offline' | 'unknown';
  version: string | null;
  rev: number | null;
  lastApply: { outcome: string; rev?: number; at?: number } | null;
  /** Per sink: points not yet delivered, and the age of the oldest in seconds; null when the gateway did not answer. */
  sinks: Record<string, { lagRows: number; lagSeconds: number | null }> | null;
  /** Active alerts, from the last health report seen; null when none was seen. */
  alerts: number | null;
}

export interface FleetStatusOptions {
  central: string;
  prefix: string;
  /** How long to collect retained messages and answers. */
  waitMs: number;
  json: boolean;
}

type Print = (line: string) => void;

export async function fleetStatus(opts: FleetStatusOptions, out: Print, err: Print): Promise<number> {
  const { connectAsync } = await import('mqtt');
  let client: MqttClient;
  try {
    client = await connectAsync(opts.central, { clientId: `edge-fleet-${process.pid}-${Math.random().toString(16).slice(2, 8)}`, reconnectPeriod: 0, connectTimeout: 10_000 });
  } catch (e) {
    err(`edge-agent: cannot connect to ${redactUrl(opts.central)}: ${(e as Error).message}`);
    return 1;
  }
  const rows = new Map<string, GatewayRow>();
  const row = (gw: string): GatewayRow => {
    let r = rows.get(gw);
    if (r === undefined) {
      r = { gateway: gw, state: 'unknown', version: null, rev: null, lastApply: null, sinks: null, alerts: null };
      rows.set(gw, r);
    }
    return r;
  };
  const asked = new Set<string>();
  const tx = `fleet-${process.pid}`;
  const p = opts.prefix;
  client.on('message', (topic, payload) => {
    const parts = topic.split('/');
    const base = p.split('/').length;
    const gw = parts[base];
    const rest = parts.slice(base + 1).join('/');
    if (gw === undefined || topic.slice(0, p.length + 1) !== `${p}/`) return;
    const text = payload.toString();
    try {
      if (rest === 'state') {
        row(gw).state = text === 'online' ? 'online' : text === 'offline' ? 'offline' : 'unknown';
        if (text === 'online' && !asked.has(gw)) {
          asked.add(gw);
          client.publish(`${p}/${gw}/request/buffer/stats`, JSON.stringify({ transaction: tx }), { qos: 1 });
        }
      } else if (rest === 'info') {
        const info = JSON.parse(text) as { version?: string; rev?: number; lastApply?: GatewayRow['lastApply'] };
        Object.assign(row(gw), { version: info.version ?? null, rev: info.rev ?? null, lastApply: info.lastApply ?? null });
      } else if (rest === 'health') {
        const h = JSON.parse(text) as { alerts?: unknown[] };
        row(gw).alerts = Array.isArray(h.alerts) ? h.alerts.length : null;
      } else if (rest === 'response/buffer/stats') {
        const env = JSON.parse(text) as { status: string; transaction?: unknown; data?: { sinks?: Record<string, { lagRows: number; lagMs: number | null }> } };
        if (env.transaction !== tx || env.status !== 'ok') return;
        row(gw).sinks = Object.fromEntries(
          Object.entries(env.data?.sinks ?? {}).map(([name, s]) => [name, { lagRows: s.lagRows, lagSeconds: s.lagMs === null ? null : Math.round(s.lagMs / 1000) }]),
        );
      }
    } catch {
      // A malformed retained message is one gateway's problem: shown as unknown, never fatal.
    }
  });
  await client.subscribeAsync([`${p}/+/state`, `${p}/+/info`, `${p}/+/health`, `${p}/+/response/buffer/stats`], { qos: 1 });
  await new Promise((r) => setTimeout(r, opts.waitMs));
  await client.endAsync();
  const list = [...rows.values()].sort((a, b) => a.gateway.localeCompare(b.gateway));
  if (opts.json) {
    out(JSON.stringify({ gateways: list }, null, 2));
    return 0;
  }
  if (list.length === 0) {
    out(`no gateway under ${p}/ on ${redactUrl(opts.central)}`);
    return 0;
  }
  out(['gateway', 'state', 'version', 'rev', 'last apply', 'sink lag', 'alerts'].join('\t'));
  for (const r of list) {
    const lag = r.sinks === null ? '—' : Object.entries(r.sinks).map(([n, s]) => `${n} ${s.lagRows} (${s.lagSeconds ?? 0}s)`).join(', ') || 'no sink';
    const apply = r.lastApply === null ? '—' : `${r.lastApply.outcome}${r.lastApply.rev === undefined ? '' : ` rev ${r.lastApply.rev}`}`;
    out([r.gateway, r.state, r.version ?? '—', r.rev ?? '—', apply, lag, r.alerts ?? '—'].join('\t'));
  }
  const online = list.filter((r) => r.state === 'online').length;
  out(`${list.length} gateways: ${online} online, ${list.length - online} offline or unknown`);
  return 0;
}
