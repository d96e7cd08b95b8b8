/**
 * Counting and reporting dropped points. Every dropped row is counted per sink (rows that sink had
 * not acknowledged yet) and logged as a warning — at most once per interval, with the totals since
 * the last line, so a long outage at the bound writes a line a minute, not a line a poll.
 */
import type { BufferLogger } from './types.js';

export type DropReason = 'bound' | 'rejected' | 'disk-full' | 'write-failed' | 'dead-letters-full';

const MESSAGES: Record<DropReason, string> = {
  bound: 'buffer at its bound: oldest points dropped',
  rejected: 'buffer at its bound: new points refused',
  'disk-full': 'disk full: points dropped',
  'write-failed': 'buffer write failed: points dropped',
  'dead-letters-full': 'too many dead letters: the oldest dropped',
};

interface Window {
  rows: number;
  bySink: Record<string, number>;
  reasons: Partial<Record<DropReason, number>>;
}

export class DropReporter {
  /** Rows dropped since the process started (each row once). */
  total = 0;
  /** Per sink since the process started. */
  readonly bySink = new Map<string, number>();
  private window: Window = { rows: 0, bySink: {}, reasons: {} };
  private lastLogAt: number | undefined;

  constructor(
    private readonly log: BufferLogger,
    private readonly now: () => number,
    private readonly everyMs: number,
  ) {}

  note(reason: DropReason, rows: number, bySink: ReadonlyMap<string, number>): void {
    if (rows <= 0) return;
    this.total += rows;
    this.window.rows += rows;
    this.window.reasons[reason] = (this.window.reasons[reason] ?? 0) + rows;
    for (const [sink, n] of bySink) {
      if (n <= 0) continue;
      this.bySink.set(sink, (this.bySink.get(sink) ?? 0) + n);
      this.window.bySink[sink] = (this.window.bySink[sink] ?? 0) + n;
    }
    const t = this.now();
    if (this.lastLogAt === undefined || t - this.lastLogAt >= this.everyMs) this.flush(reason);
  }

  /** Logs what was dropped since the last line, if anything (also called on close). */
  flush(reason?: DropReason): void {
    const w = this.window;
    if (w.rows === 0) return;
    const main = reason ?? (Object.keys(w.reasons)[0] as DropReason);
    const code = main === 'disk-full' ? 'EDGE_BUFFER_DISK_FULL' : main === 'write-failed' ? 'EDGE_BUFFER_WRITE_FAILED' : 'EDGE_BUFFER_POINTS_DROPPED';
    this.log.warn({ code, dropped: w.rows, bySink: w.bySink, reasons: w.reasons, droppedSinceStart: this.total }, MESSAGES[main]);
    this.lastLogAt = this.now();
    this.window = { rows: 0, bySink: {}, reasons: {} };
  }
}
