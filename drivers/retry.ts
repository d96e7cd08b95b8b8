/**
 * Delays between attempts to reopen a serial port or reconnect to a broker: exponential with
 * jitter, capped, reset by a success. (MQTT.js would retry at a fixed period; FACTS.)
 */
export class RetryDelay {
  private attempt = 0;

  constructor(
    private readonly initialMs = 1000,
    private readonly maxMs = 60_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** How many failures in a row so far. */
  get failures(): number {
    return this.attempt;
  }

  /** The delay before the next attempt: between half and all of initial × 2^n, capped. */
  next(): number {
    const full = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.round(full / 2 + (full / 2) * this.random());
  }

  reset(): void {
    this.attempt = 0;
  }
}
