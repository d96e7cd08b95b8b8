// Room agent/pipeline: the path of a reading (schedule, poll or push, transform, clock guard, into the buffer); may import config, drivers, buffer, broker and agent/{clock,logger}.
/**
 * Between the pipeline and the buffer: points read while the wall clock is not trusted are never
 * sent silently with that time. By config (`buffer.untrustedClock`):
 * - `restamp` (default): they are stored under a hold (not delivered), tagged with the boot and
 *   the wall − monotonic offset of the moment; once the clock is trusted, their timestamps are
 *   shifted by the correction (today's offset − theirs) and they go out. Held rows survive a
 *   restart; rows of an earlier boot (monotonic clock restarted) or held longer than `maxHoldMs`
 *   cannot be corrected and are released flagged instead.
 * - `flag`: they are stored and sent at once with quality `uncertain` and EDGE_CLOCK_UNTRUSTED.
 * Alert events take the same path (agent/alerts/store.ts); the times inside their records that
 * were stamped meanwhile are marked by the engine and corrected with the rows (buffer/alert-times.ts).
 */
import type { AlertStateRow } from '../../buffer/alert-state.js';
import type { HoldRelease, HoldTag } from '../../buffer/holds.js';
import type { CommandRecord, Hold, Point } from '../../buffer/types.js';
import type { Clock } from '../clock.js';
import type { ClockSanity, ClockVerdict } from './clock-sanity.js';
import type { Logger } from '../logger.js';

export const CLOCK_UNTRUSTED = 'EDGE_CLOCK_UNTRUSTED';
/** codec.ts quality code for 'uncertain'. */
const UNCERTAIN = 2;

export interface HoldingBuffer {
  append(points: readonly Point[], opts?: { hold?: HoldTag; alertState?: readonly AlertStateRow[]; commands?: readonly CommandRecord[] }): number;
  holdList(): Hold[];
  releaseHold(hold: Hold, how: HoldRelease): number;
}

export interface ClockGuardOptions {
  sanity: ClockSanity;
  buffer: HoldingBuffer;
  mode: 'restamp' | 'flag';
  logger: Logger;
  /** Held longer than this (monotonic) without a trusted clock: released flagged. Default 24 h. */
  maxHoldMs?: number;
}

export interface ClockGuardStats {
  /** Points stored under a hold while the clock was untrusted. */
  held: number;
  /** Held points whose timestamps were corrected. */
  restamped: number;
  /** Points sent flagged (flag mode, or holds that could not be corrected). */
  flagged: number;
}

export class ClockGuard {
  readonly stats: ClockGuardStats = { held: 0, restamped: 0, flagged: 0 };
  private mayHaveHolds = true; // the file may hold rows of an earlier run
  private timer: unknown;
  private clock: Clock | undefined;

  constructor(private readonly opts: ClockGuardOptions) {}

  /**
   * `alertState` (alert events' state rows) is written in the same transaction, whatever the clock.
   * `verdict`: the clock as it was when the points were read (a deferred commit); default: now.
   */
  append(points: readonly Point[], extra: { alertState?: readonly AlertStateRow[]; commands?: readonly CommandRecord[] } = {}, verdict?: ClockVerdict): number {
    const v = verdict ?? this.check();
    if (v.trusted) return this.opts.buffer.append(points, extra);
    if (this.opts.mode === 'flag') {
      for (const p of points) flag(p);
      this.stats.flagged += points.length;
      return this.opts.buffer.append(points, extra);
    }
    if (points.length === 0) return this.opts.buffer.append(points, extra);
    this.mayHaveHolds = true;
    this.stats.held += points.length;
    return this.opts.buffer.append(points, { ...extra, hold: { bootId: v.bootId, offsetMs: v.epochOffsetMs, sinceMono: v.mono } });
  }

  /** Whether points read under verdicts `a` and `b` are stored alike (one commit may take both). */
  static sameTreatment(a: ClockVerdict, b: ClockVerdict): boolean {
    if (a.trusted || b.trusted) return a.trusted === b.trusted;
    return a.bootId === b.bootId && a.epochOffsetMs === b.epochOffsetMs;
  }

  /** Looks at the clock and lets held rows go when it can. Called on every append and by the timer. */
  check(): ClockVerdict {
    const v = this.opts.sanity.check();
    if (this.mayHaveHolds) this.releaseHolds(v);
    return v;
  }

  /** Re-checks every `everyMs` so held rows go out even when no new point arrives. */
  start(clock: Clock, everyMs = 5000): void {
    this.clock = clock;
    const tick = () => {
      try {
        this.check();
      } catch (err) {
        this.opts.logger.error({ err }, 'clock check failed');
      }
      this.timer = clock.setTimeout(tick, everyMs);
    };
    this.timer = clock.setTimeout(tick, everyMs);
  }

  stop(): void {
    if (this.timer !== undefined) this.clock?.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private releaseHolds(v: ClockVerdict): void {
    const holds = this.opts.buffer.holdList();
    if (holds.length === 0) {
      this.mayHaveHolds = false;
      return;
    }
    const maxHold = this.opts.maxHoldMs ?? 24 * 3600_000;
    for (const h of holds) {
      const otherBoot = h.bootId !== v.bootId;
      if (v.trusted && !otherBoot) {
        const shiftMs = v.trustedOffsetMs - h.offsetMs;
        const rows = this.opts.buffer.releaseHold(h, { shiftMs });
        this.stats.restamped += rows;
        this.opts.logger.info({ rows, shiftMs, firstSeq: h.firstSeq, lastSeq: h.lastSeq }, 'points read before the clock was trusted: re-stamped and released');
      } else if (otherBoot || v.mono - h.sinceMono > maxHold) {
        // Their monotonic times belong to another boot (or the clock never came good): no correction is possible.
        const rows = this.opts.buffer.releaseHold(h, { flag: { quality: UNCERTAIN, error: CLOCK_UNTRUSTED } });
        this.stats.flagged += rows;
        this.opts.logger.warn(
          { code: CLOCK_UNTRUSTED, rows, firstSeq: h.firstSeq, lastSeq: h.lastSeq, why: otherBoot ? 'read during an earlier boot' : 'held too long' },
          'points read before the clock was trusted cannot be re-stamped: released flagged uncertain',
        );
      }
    }
  }
}

/** Quality only ever gets worse: bad stays bad with its own error; good becomes uncertain. */
function flag(p: Point): void {
  if (p.quality === 'good') p.quality = 'uncertain';
  p.error ??= CLOCK_UNTRUSTED;
}
