/**
 * Capped exponential back-off with jitter for reconnecting to a device. The jitter keeps a
 * gateway's devices (and a fleet of gateways after a shared outage) from retrying in lockstep;
 * the floor at half the ceiling keeps an unlucky draw from hammering a device that is down.
 */
export interface BackoffOptions {
  /** First delay ceiling. Default 1 s. */
  initialMs?: number;
  /** Largest delay ceiling. Default 60 s. */
  maxMs?: number;
  /** Injected for deterministic tests; returns [0, 1). */
  random?: () => number;
}

export class ReconnectBackoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 1000;
    this.maxMs = opts.maxMs ?? 60_000;
    this.random = opts.random ?? Math.random;
  }

  /** Consecutive failures since the last success. */
  get failures(): number {
    return this.attempt;
  }

  /** The wait before the next attempt: between half and all of initial·2^failures, capped. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt += 1;
    return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
  }

  reset(): void {
    this.attempt = 0;
  }
}
