/**
 * Strictly increasing timestamps. A point is identified centrally by device, point and
 * millisecond (PostgreSQL's natural key; InfluxDB's series + time), so two readings of one point
 * in the same millisecond would overwrite or drop each other. That happens with push devices (a
 * burst of serial lines read in one chunk, many beds publishing under one MQTT device at once) and
 * with polled ones on a saturated box (a poll that timed out and the next one, refused at once by
 * the back-off, run in one turn of the event loop). The later one is moved on by a millisecond —
 * far below what a sensor timestamp means — instead of being lost.
 *
 * Only within a second of the last one: a clock stepped back further (NTP correcting a clock that
 * ran ahead) is taken as it is, not followed a millisecond at a time for as long as it was ahead;
 * the clock guard (agent/pipeline/clock-sanity.ts) sees such jumps.
 */
export const NUDGE_WINDOW_MS = 1000;

/** The timestamp for a reading taken at `now` after one stamped `last`. */
export function nextStamp(last: number, now: number): number {
  return now > last || now < last - NUDGE_WINDOW_MS ? now : last + 1;
}

/** nextStamp for every reading of one device. */
export class DeviceTimestamps {
  private last = Number.NEGATIVE_INFINITY;

  next(now: number): number {
    this.last = nextStamp(this.last, now);
    return this.last;
  }
}
