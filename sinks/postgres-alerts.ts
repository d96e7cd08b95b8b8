/**
 * Alert events (points carrying `alert`, from the agent's local alert engine) → `<schema>.alerts`,
 * one row per alert occurrence. Each event carries the whole alert with a version that grows with
 * every event, and the upsert only moves a row forward: a batch delivered again, or an older event
 * arriving after a newer one, changes nothing.
 */
import type { AlertRecord, Point } from '../buffer/types.js';
import { cleanJson, isoOrNull } from './postgres-rows.js';

export function alertsDdl(s: string): string {
  return `
CREATE TABLE IF NOT EXISTS ${s}.alerts (
  gateway_id      text NOT NULL,
  alert_id        text NOT NULL,
  device_id       text NOT NULL,
  point_id        text NOT NULL,
  rule_id         text NOT NULL,
  severity        text NOT NULL,
  state           text NOT NULL,
  message         text NOT NULL,
  value           double precision,
  value_text      text,
  threshold       double precision,
  threshold_text  text,
  unit            text,
  raised_at       timestamptz NOT NULL,
  cleared_at      timestamptz,
  acknowledged_at timestamptz,
  acknowledged_by text,
  latch           boolean NOT NULL DEFAULT false,
  tags            jsonb NOT NULL DEFAULT '{}',
  version         integer NOT NULL,
  event_at        timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (gateway_id, alert_id)
);
CREATE INDEX IF NOT EXISTS alerts_open ON ${s}.alerts (gateway_id, state) WHERE state <> 'cleared';`;
}

const COLUMNS = `alert_id text, device_id text, point_id text, rule_id text, severity text, state text, message text,
  value float8, value_text text, threshold float8, threshold_text text, unit text, raised_at timestamptz, cleared_at timestamptz,
  acknowledged_at timestamptz, acknowledged_by text, latch boolean, tags jsonb, version int, event_at timestamptz`;
const NAMES = 'alert_id, device_id, point_id, rule_id, severity, state, message, value, value_text, threshold, threshold_text, unit, raised_at, cleared_at, acknowledged_at, acknowledged_by, latch, tags, version, event_at';
// raised_at is updated too: an alert raised on an untrusted clock and sent flagged (buffer.untrustedClock: flag)
// gets its corrected time with the next event once the clock is trusted.
const UPDATED = NAMES.split(', ').filter((c) => !['alert_id', 'device_id', 'point_id', 'rule_id'].includes(c));

/** $1 gateway_id, $2 a JSON array of rows (alertRowsJson). */
export function upsertAlerts(s: string): string {
  return `
INSERT INTO ${s}.alerts AS a (gateway_id, ${NAMES})
SELECT $1, ${NAMES} FROM jsonb_to_recordset($2::jsonb) AS x(${COLUMNS})
ON CONFLICT (gateway_id, alert_id) DO UPDATE SET ${UPDATED.map((c) => `${c} = excluded.${c}`).join(', ')}, updated_at = now()
WHERE a.version < excluded.version`;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const text = (v: unknown): string | null => (v === null || v === undefined || typeof v === 'number' ? null : String(v));

/**
 * The newest event of each alert in the batch, as the JSON rows of the upsert (one statement
 * cannot update the same row twice). PostgreSQL text cannot hold U+0000: it becomes U+FFFD.
 */
export function alertRowsJson(events: readonly Point[]): string {
  const newest = new Map<string, { p: Point; a: AlertRecord }>();
  for (const p of events) {
    const a = p.alert;
    if (a === undefined) continue;
    const seen = newest.get(a.id);
    if (seen === undefined || seen.a.version < a.version) newest.set(a.id, { p, a });
  }
  const rows = [...newest.values()].map(({ p, a }) => ({
    alert_id: a.id,
    device_id: a.deviceId,
    point_id: a.pointId,
    rule_id: a.ruleId,
    severity: a.severity,
    state: a.state,
    message: a.message,
    value: num(a.value),
    value_text: text(a.value),
    threshold: num(a.threshold),
    threshold_text: text(a.threshold),
    unit: p.unit ?? null,
    raised_at: isoOrNull(a.raisedAt),
    cleared_at: isoOrNull(a.clearedAt),
    acknowledged_at: isoOrNull(a.acknowledgedAt),
    acknowledged_by: a.acknowledgedBy,
    latch: a.latch,
    tags: p.tags,
    version: a.version,
    event_at: isoOrNull(p.ts),
  }));
  return cleanJson(rows);
}
