/**
 * Rate-limited warnings: a device that prints garbage ten times a second must not write ten
 * journal lines a second for weeks. The first occurrence is logged at once; after that at most
 * one line per interval, saying how many were not logged in between.
 */
import type { DriverClock, DriverLogger } from './modbus/deps.js';

export class RateLimitedLog {
  private lastAt = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(
    private readonly log: DriverLogger,
    private readonly clock: Pick<DriverClock, 'now'>,
    private readonly intervalMs = 60_000,
  ) {}

  warn(obj: Record<string, unknown>, msg: string): void {
    const now = this.clock.now();
    if (now - this.lastAt < this.intervalMs) {
      this.suppressed += 1;
      return;
    }
    this.lastAt = now;
    const extra = this.suppressed > 0 ? { notLogged: this.suppressed } : {};
    this.suppressed = 0;
    this.log.warn({ ...obj, ...extra }, msg);
  }
}
