// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/**
 * `edge-agent fleet push`: one config file, rolled out in stages to many gateways. Each gateway gets
 * its own push — the file with that gateway's `gateway` section, signed for that gateway alone —
 * and the rollout waits for its reply before going on: canaries one by one, then batches pushed
 * together. The first rollback, refusal or timeout stops it; what was not reached is untouched.
 * A gateway whose retained `info` already shows the rev (or a newer one) is skipped, so running the
 * same command again resumes a stopped rollout where it stopped.
 */
import type { KeyObject } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { readPrivateKey, SigningKeyError } from '../../config/signing.js';
import { redactUrl } from '../logger.js';
import { connectOps, gatewayTopic, type InfoSeen, type Print } from './fleet-broker.js';
import { planStages, type BatchSize } from './fleet-stages.js';
import { readConfigDocument, signedPush } from './keys.js';

export type { BatchSize } from './fleet-stages.js';

export interface FleetPushOptions {
  central: string;
  prefix: string;
  key: string;
  rev: number;
  file: string;
  /** Gateway ids in rollout order, or every gateway seen under the prefix (sorted). */
  gateways: string[] | 'all';
  /** How many gateways go first, one at a time. */
  canary: number;
  batch: BatchSize;
  /** How long to wait for each gateway's reply. */
  timeoutMs: number;
  /** How long to collect the retained state and info before planning. */
  waitMs: number;
  json: boolean;
}

/**
 * applied: replied ok; rolled-back: the config did not come up there (the gateway runs its old rev);
 * refused: the gateway refused the push (its code says why); timed-out: no reply in time;
 * skipped: already at the rev or a newer one; offline: not online on the broker, not pushed;
 * untouched: not reached because the rollout stopped before.
 */
export type PushOutcome = 'applied' | 'rolled-back' | 'refused' | 'timed-out' | 'skipped' | 'offline' | 'untouched';

export interface PushRow {
  gateway: string;
  /** `canary 1`, `batch 2`…; null for a gateway that was not planned (skipped, offline). */
  stage: string | null;
  /** The rev it ran before (from its retained info); null when unknown. */
  fromRev: number | null;
  result: PushOutcome;
  code: string | null;
  reason: string | null;
  failures?: unknown;
}

export interface PushReport {
  rev: number;
  /** done: every gateway runs the rev; stopped: a rollback, refusal or timeout stopped it; incomplete: offline gateways were left out. */
  outcome: 'done' | 'stopped' | 'incomplete';
  stoppedAt: string | null;
  gateways: PushRow[];
}

/** Exit codes: 0 done, 1 stopped (or could not start), 3 incomplete (offline gateways left; run it again). */
export const PUSH_EXIT = { done: 0, stopped: 1, incomplete: 3 } as const;

interface Seen {
  state?: string;
  info?: InfoSeen;
}

interface Reply {
  status: string;
  code?: string | null;
  error?: string | null;
  data?: { failures?: unknown } | null;
  transaction?: unknown;
}

export async function fleetPush(opts: FleetPushOptions, out: Print, err: Print): Promise<number> {
  const read = readConfigDocument(opts.file);
  if ('errors' in read) {
    for (const line of read.errors) err(line);
    return 1;
  }
  let key: KeyObject;
  try {
    key = readPrivateKey(opts.key);
  } catch (e) {
    if (e instanceof SigningKeyError || e instanceof TypeError) {
      err(`edge-agent: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const client = await connectOps(opts.central, err);
  if (client === undefined) return 1;
  try {
    const report = await rollout(client, opts, read.doc, key);
    print(report, opts, out);
    return PUSH_EXIT[report.outcome];
  } finally {
    await client.endAsync();
  }
}

async function rollout(client: MqttClient, opts: FleetPushOptions, doc: Record<string, unknown>, key: KeyObject): Promise<PushReport> {
  const p = opts.prefix;
  const seen = new Map<string, Seen>();
  const waiting = new Map<string, (r: Reply) => void>();
  const tx = `fleet-push-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  client.on('message', (topic, payload) => {
    const at = gatewayTopic(p, topic);
    if (at === undefined) return;
    const s = seen.get(at.gateway) ?? {};
    seen.set(at.gateway, s);
    try {
      if (at.rest === 'state') s.state = payload.toString();
      else if (at.rest === 'info') s.info = JSON.parse(payload.toString()) as InfoSeen;
      else if (at.rest === 'response/config/set') {
        const reply = JSON.parse(payload.toString()) as Reply;
        if (reply.transaction === `${tx}-${at.gateway}`) waiting.get(at.gateway)?.(reply);
      }
    } catch {
      // A malformed retained message: that gateway reads as unknown (and is not pushed).
    }
  });
  await client.subscribeAsync([`${p}/+/state`, `${p}/+/info`, `${p}/+/response/config/set`], { qos: 1 });
  await new Promise((r) => setTimeout(r, opts.waitMs));

  const targets = opts.gateways === 'all' ? [...seen.keys()].filter((g) => seen.get(g)?.state !== undefined || seen.get(g)?.info !== undefined).sort() : opts.gateways;
  const rows = new Map<string, PushRow>();
  const toPush: string[] = [];
  for (const gw of targets) {
    const s = seen.get(gw);
    const fromRev = typeof s?.info?.rev === 'number' ? s.info.rev : null;
    const row: PushRow = { gateway: gw, stage: null, fromRev, result: 'untouched', code: null, reason: null };
    rows.set(gw, row);
    if (fromRev !== null && fromRev >= opts.rev) Object.assign(row, { result: 'skipped', reason: fromRev === opts.rev ? `runs rev ${fromRev} already` : `runs rev ${fromRev}, newer` });
    else if (s?.state !== 'online') Object.assign(row, { result: 'offline', reason: s === undefined ? `nothing under ${p}/${gw}/ on the broker` : `state ${s.state ?? 'unknown'}` });
    else toPush.push(gw);
  }

  const pushOne = async (gw: string): Promise<void> => {
    const row = rows.get(gw) as PushRow;
    const config = forGateway(doc, gw, seen.get(gw)?.info);
    const payload = { ...signedPush(key, { rev: opts.rev, config, gateway: gw }), transaction: `${tx}-${gw}` };
    const reply = new Promise<Reply | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), opts.timeoutMs);
      waiting.set(gw, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
    await client.publishAsync(`${p}/${gw}/request/config/set`, JSON.stringify(payload), { qos: 1 });
    const r = await reply;
    waiting.delete(gw);
    if (r === undefined) Object.assign(row, { result: 'timed-out', reason: `no reply within ${Math.round(opts.timeoutMs / 1000)} s` });
    else if (r.status === 'ok') row.result = 'applied';
    // The same rev arrived by another push meanwhile: that gateway is where the rollout wants it.
    else if (r.code === 'EDGE_CONFIG_REV_CURRENT') Object.assign(row, { result: 'skipped', code: r.code, reason: r.error ?? null });
    else {
      Object.assign(row, { result: r.code === 'EDGE_CONFIG_ROLLED_BACK' ? 'rolled-back' : 'refused', code: r.code ?? null, reason: r.error ?? null });
      if (r.data?.failures !== undefined) row.failures = r.data.failures;
    }
  };

  let stoppedAt: string | null = null;
  for (const stage of planStages(toPush, targets.length, opts.canary, opts.batch)) {
    for (const gw of stage.gateways) (rows.get(gw) as PushRow).stage = stage.name;
    await Promise.all(stage.gateways.map(pushOne));
    const bad = stage.gateways.find((gw) => !['applied', 'skipped'].includes((rows.get(gw) as PushRow).result));
    if (bad !== undefined) {
      stoppedAt = bad;
      break;
    }
  }
  const list = targets.map((g) => rows.get(g) as PushRow);
  const outcome = stoppedAt !== null ? 'stopped' : list.every((r) => r.result === 'applied' || r.result === 'skipped') ? 'done' : 'incomplete';
  return { rev: opts.rev, outcome, stoppedAt, gateways: list };
}

/** The file with this gateway's `gateway` section: its id, and its site and tags (from its info) where the file gives none. */
function forGateway(doc: Record<string, unknown>, gw: string, info: InfoSeen | undefined): Record<string, unknown> {
  const running = info?.config?.settings?.gateway ?? {};
  const given = typeof doc.gateway === 'object' && doc.gateway !== null ? (doc.gateway as Record<string, unknown>) : {};
  const keep = Object.fromEntries(Object.entries(running).filter(([k, v]) => (k === 'site' || k === 'tags') && v !== undefined && v !== ''));
  return { ...doc, gateway: { ...keep, ...given, id: gw } };
}

function print(report: PushReport, opts: FleetPushOptions, out: Print): void {
  if (opts.json) {
    out(JSON.stringify(report, null, 2));
    return;
  }
  if (report.gateways.length === 0) {
    out(`no gateway to push to under ${opts.prefix}/ on ${redactUrl(opts.central)}`);
    return;
  }
  out(['gateway', 'stage', 'result', 'rev', 'reason'].join('\t'));
  for (const r of report.gateways) {
    const rev = r.result === 'applied' ? `${r.fromRev ?? '?'} → ${report.rev}` : String(r.fromRev ?? '—');
    out([r.gateway, r.stage ?? '—', r.result, rev, [r.code, r.reason].filter((x) => x !== null).join(': ') || '—'].join('\t'));
  }
  const counts = new Map<string, number>();
  for (const r of report.gateways) counts.set(r.result, (counts.get(r.result) ?? 0) + 1);
  const summary = [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
  if (report.outcome === 'stopped') {
    const at = report.gateways.find((r) => r.gateway === report.stoppedAt);
    out(`rollout of rev ${report.rev} stopped at ${report.stoppedAt}: ${summary}.`);
    // A gateway never takes a rev it rolled back (a replay would roll back again): it needs a higher one.
    if (at?.result === 'rolled-back') out(`${at.gateway} refuses rev ${report.rev} from now on: once fixed, give it rev ${report.rev + 1} alone (--gateways ${at.gateway} --rev ${report.rev + 1}), then run this rollout again: gateways at rev ${report.rev} or above are skipped.`);
    else out('Fix it and run the same command again: gateways at the rev are skipped.');
  }
  else if (report.outcome === 'incomplete') out(`rollout of rev ${report.rev} incomplete: ${summary}. Run it again once the offline gateways are online.`);
  else out(`rollout of rev ${report.rev} done: ${summary}`);
}
