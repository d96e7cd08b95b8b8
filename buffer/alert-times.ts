/**
 * Correcting the times of an alert record stamped while the wall clock was not trusted. The agent
 * marks each such time with the clock's frame (boot, wall − monotonic offset); once the offset of
 * a trusted clock on the same boot is known, the right time is the stamped one shifted by the
 * difference of the offsets — the same correction the held points of that frame get. A time
 * stamped on another boot cannot be corrected (the monotonic clock restarted): its mark is
 * dropped and the time stays as it was stamped. Used by the buffer when it releases a hold and by
 * the alert engine for its own state, so both come to the same times.
 */
import type { AlertRecord, AlertTimeField } from './types.js';

export const ALERT_TIME_FIELDS: readonly AlertTimeField[] = ['raisedAt', 'clearedAt', 'acknowledgedAt'];

/** The record with its marked times corrected to a trusted clock whose offset on `bootId` is `offsetMs`; the same object when nothing is marked. */
export function confirmAlertTimes(record: AlertRecord, trusted: { bootId: string; offsetMs: number }): AlertRecord {
  const marks = record.unconfirmedTimes;
  if (marks === undefined) return record;
  const out: AlertRecord = { ...record };
  delete out.unconfirmedTimes;
  for (const field of ALERT_TIME_FIELDS) {
    const mark = marks[field];
    const t = record[field];
    if (mark === undefined || t === null || mark.bootId !== trusted.bootId) continue;
    // Each offset rounded on its own, as holds.ts stores a point hold's: then an alert's time and the
    // points held with it move by the same whole milliseconds, whichever path corrected them.
    out[field] = t + Math.round(trusted.offsetMs) - Math.round(mark.offsetMs);
  }
  return out;
}

/**
 * The same on an alert row's `value_text` (rows.ts: `{value, alert}` as JSON): the new text, or
 * undefined when nothing changes (no marks, or a damaged row, which is left for rows.ts to read).
 */
export function confirmAlertText(text: string | null, trusted: { bootId: string; offsetMs: number }): string | undefined {
  let parsed: { value?: unknown; alert?: AlertRecord } | null;
  try {
    parsed = JSON.parse(text ?? 'null') as typeof parsed;
  } catch {
    return undefined;
  }
  const alert = parsed?.alert;
  if (alert?.unconfirmedTimes === undefined) return undefined;
  return JSON.stringify({ ...parsed, alert: confirmAlertTimes(alert, trusted) });
}
