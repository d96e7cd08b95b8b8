// Room agent/delivery: forwarding buffered points to the sinks (forwarders, sink wiring, counters, back-off); may import sinks, buffer, config, agent/pipeline and agent/{clock,logger}.
/** Capped exponential back-off with full jitter (AWS architecture blog's "full jitter"). */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor?: number;
  /** Injected for deterministic tests. */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions) {}

  /** The delay before the next attempt; grows with each call until `reset()`. */
  next(): number {
    const factor = this.opts.factor ?? 2;
    const ceiling = Math.min(this.opts.maxMs, this.opts.initialMs * factor ** this.attempt);
    this.attempt += 1;
    const random = this.opts.random ?? Math.random;
    // Never below half the ceiling, so a failing peer is not hammered by an unlucky draw.
    return Math.round(ceiling / 2 + random() * (ceiling / 2));
  }

  get failures(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
