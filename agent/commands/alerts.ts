// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/**
 * `edge-agent alerts list | ack ID`: the alerts a gateway holds active, from the state the agent
 * keeps in its buffer file, and the operator's acknowledgement. Works beside the running service:
 * `ack` queues the acknowledgement in the file, the agent applies it within a second (publishing
 * the change on the broker and sending it central), and the command waits to say how it went.
 */
import os from 'node:os';
import type { BufferInspector } from '../../buffer/inspect.js';
import type { AlertRecord } from '../../buffer/types.js';
import type { Env } from '../../config/types.js';
import { age, alignColumns, openBufferFile } from './buffer.js';

export const ALERTS_SUBCOMMANDS = ['list', 'ack'] as const;

export interface AlertsCommandOptions {
  file: string;
  env: Env;
  json: boolean;
  /** `ack`: the alert id (or device/point/rule). */
  id?: string | undefined;
  /** `ack`: who acknowledges; default cli:<user>@<host>. */
  by?: string | undefined;
  /** `ack`: how long to wait for the running agent to apply it. Default 5 s. */
  waitMs?: number;
  now?: () => number;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

export async function alertsCommand(sub: string, opts: AlertsCommandOptions): Promise<number> {
  const out = opts.out ?? ((l: string) => console.log(l));
  const err = opts.err ?? ((l: string) => console.error(l));
  const now = opts.now ?? Date.now;
  const opened = openBufferFile(opts.file, opts.env, { write: sub === 'ack' }, err);
  if (opened === undefined) return 1;
  const { inspector } = opened;
  try {
    const active = activeAlerts(inspector);
    if (sub === 'list') {
      if (opts.json) out(JSON.stringify(active, null, 2));
      else for (const l of alertTable(active, now())) out(l);
      return 0;
    }
    const id = opts.id ?? '';
    const target = active.find((a) => a.id === id || a.id.slice(0, a.id.lastIndexOf('@')) === id);
    if (target === undefined) {
      err(`edge-agent: EDGE_ALERT_NOT_FOUND: no active alert "${id}" (edge-agent alerts list shows the active ones)`);
      return 1;
    }
    const by = opts.by ?? `cli:${os.userInfo().username}@${os.hostname()}`;
    const request = inspector.alertState.requestAck(target.id, by, now());
    const deadline = Date.now() + (opts.waitMs ?? 5000);
    for (;;) {
      const outcome = inspector.alertState.ackOutcome(request);
      if (outcome?.result === 'ok') {
        out(opts.json ? JSON.stringify({ ok: true, id: target.id, by }) : `acknowledged ${target.id} (by ${by})`);
        return 0;
      }
      if (outcome?.result !== null && outcome?.result !== undefined) {
        err(`edge-agent: ${outcome.result}: the agent refused to acknowledge ${target.id}`);
        return 1;
      }
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    out(
      opts.json
        ? JSON.stringify({ ok: true, id: target.id, by, queued: true })
        : `recorded the acknowledgement of ${target.id}; the agent did not apply it yet (is it running?): it does at its next start`,
    );
    return 0;
  } finally {
    inspector.close();
  }
}

function activeAlerts(inspector: BufferInspector): AlertRecord[] {
  const out: AlertRecord[] = [];
  for (const { record } of inspector.alertState.all()) {
    try {
      out.push(JSON.parse(record) as AlertRecord);
    } catch {
      // A damaged record: the agent drops it at its next start.
    }
  }
  return out.sort((a, b) => a.raisedAt - b.raisedAt);
}

function alertTable(list: AlertRecord[], now: number): string[] {
  if (list.length === 0) return ['no active alerts'];
  const rows: string[][] = [['id', 'severity', 'since', 'state', 'value', 'message']];
  for (const a of list) {
    const state = a.state === 'returned' ? 'returned, latched' : 'active';
    const acked = a.acknowledgedAt === null ? '' : `, acknowledged by ${a.acknowledgedBy ?? '?'}`;
    rows.push([a.id, a.severity, `${age(now - a.raisedAt)} ago`, state + acked, a.value === null ? '—' : String(a.value), a.message]);
  }
  return alignColumns(rows);
}
