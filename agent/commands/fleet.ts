// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/**
 * `edge-agent fleet status`: every gateway under the prefix on the central broker, from what the
 * gateways leave there — retained `state` (online/offline, also their last will) and `info`
 * (version, config rev, last apply) and `health` (active alerts, as of its `now`) — plus, for each
 * online gateway, a `buffer/stats` request for its sink lag.
 */
import { redactUrl } from '../logger.js';
import { connectOps, gatewayTopic, type InfoSeen, type Print } from './fleet-broker.js';

export interface GatewayRow {
  gateway: string;
  state: 'online' | 'offline' | 'unknown';
  version: string | null;
  rev: number | null;
  lastApply: { outcome: string; rev?: number; at?: number } | null;
  /** Per sink: points not yet delivered, and the age of the oldest in seconds; null when the gateway did not answer. */
  sinks: Record<string, { lagRows: number; lagSeconds: number | null }> | null;
  /** Active alerts, from the last (retained) health report: how many, the worst severity, and when reported; null when none was seen. */
  alerts: { active: number; worst: string | null; at: number | null } | null;
}

/** Worst first; a severity the agent does not know ranks below these. */
const SEVERITIES = ['critical', 'warning', 'info'];

export function worstSeverity(severities: readonly string[]): string | null {
  let best: string | null = null;
  const rank = (s: string) => (SEVERITIES.includes(s) ? SEVERITIES.indexOf(s) : SEVERITIES.length);
  for (const s of severities) if (best === null || rank(s) < rank(best)) best = s;
  return best;
}

export interface FleetStatusOptions {
  central: string;
  prefix: string;
  /** How long to collect retained messages and answers. */
  waitMs: number;
  json: boolean;
}

export async function fleetStatus(opts: FleetStatusOptions, out: Print, err: Print): Promise<number> {
  const client = await connectOps(opts.central, err);
  if (client === undefined) return 1;
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
    const at = gatewayTopic(p, topic);
    if (at === undefined) return;
    const { gateway: gw, rest } = at;
    const text = payload.toString();
    try {
      if (rest === 'state') {
        row(gw).state = text === 'online' ? 'online' : text === 'offline' ? 'offline' : 'unknown';
        if (text === 'online' && !asked.has(gw)) {
          asked.add(gw);
          client.publish(`${p}/${gw}/request/buffer/stats`, JSON.stringify({ transaction: tx }), { qos: 1 });
        }
      } else if (rest === 'info') {
        const info = JSON.parse(text) as InfoSeen;
        Object.assign(row(gw), { version: info.version ?? null, rev: info.rev ?? null, lastApply: info.lastApply ?? null });
      } else if (rest === 'health') {
        const h = JSON.parse(text) as { now?: number; alerts?: Array<{ severity?: unknown }> };
        if (!Array.isArray(h.alerts)) return;
        const severities = h.alerts.map((a) => (typeof a?.severity === 'string' ? a.severity : 'unknown'));
        row(gw).alerts = { active: severities.length, worst: worstSeverity(severities), at: typeof h.now === 'number' ? h.now : null };
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
    const alerts = r.alerts === null ? '—' : r.alerts.active === 0 ? '0' : `${r.alerts.active} (${r.alerts.worst})`;
    out([r.gateway, r.state, r.version ?? '—', r.rev ?? '—', apply, lag, alerts].join('\t'));
  }
  const online = list.filter((r) => r.state === 'online').length;
  out(`${list.length} gateways: ${online} online, ${list.length - online} offline or unknown`);
  return 0;
}
