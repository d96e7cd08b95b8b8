/**
 * Write audit events (points carrying `command`, from agent/writes) → `<schema>.commands`, one row
 * per attempt. An attempt has one final event, so the natural key (gateway, command id) with
 * ON CONFLICT DO NOTHING makes a batch delivered again change nothing.
 */
import type { CommandRecord, Point } from '../buffer/types.js';
import { cleanJson, isoOrNull } from './postgres-rows.js';

export function commandsDdl(s: string): string {
  return `
CREATE TABLE IF NOT EXISTS ${s}.commands (
  gateway_id      text NOT NULL,
  command_id      text NOT NULL,
  device_id       text NOT NULL,
  point_id        text NOT NULL,
  requested       jsonb NOT NULL,
  raw_written     jsonb,
  previous        jsonb,
  readback        jsonb,
  outcome         text NOT NULL,
  code            text,
  message         text,
  requested_by    text NOT NULL,
  origin          text NOT NULL,
  key_fingerprint text,
  request_id      text,
  requested_at    timestamptz NOT NULL,
  done_at         timestamptz,
  PRIMARY KEY (gateway_id, command_id)
);
CREATE INDEX IF NOT EXISTS commands_point ON ${s}.commands (gateway_id, device_id, point_id, requested_at);`;
}

const COLUMNS = `command_id text, device_id text, point_id text, requested jsonb, raw_written jsonb, previous jsonb, readback jsonb, outcome text,
  code text, message text, requested_by text, origin text, key_fingerprint text, request_id text, requested_at timestamptz, done_at timestamptz`;
const NAMES = 'command_id, device_id, point_id, requested, raw_written, previous, readback, outcome, code, message, requested_by, origin, key_fingerprint, request_id, requested_at, done_at';

/** $1 gateway_id, $2 a JSON array of rows (commandRowsJson). */
export function insertCommands(s: string): string {
  return `
INSERT INTO ${s}.commands (gateway_id, ${NAMES})
SELECT $1, ${NAMES} FROM jsonb_to_recordset($2::jsonb) AS x(${COLUMNS})
ON CONFLICT (gateway_id, command_id) DO NOTHING`;
}


export function commandRowsJson(events: readonly Point[]): string {
  const seen = new Map<string, CommandRecord>();
  for (const p of events) if (p.command !== undefined) seen.set(p.command.id, p.command);
  const rows = [...seen.values()].map((c) => ({
    command_id: c.id,
    device_id: c.device,
    point_id: c.point,
    requested: c.requested,
    raw_written: c.raw,
    previous: c.previous,
    readback: c.readback,
    outcome: c.outcome,
    code: c.code,
    message: c.message,
    requested_by: c.by,
    origin: c.origin,
    key_fingerprint: c.keyFingerprint,
    request_id: c.requestId,
    requested_at: isoOrNull(c.requestedAt),
    done_at: isoOrNull(c.doneAt),
  }));
  return cleanJson(rows);
}
