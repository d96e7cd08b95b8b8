/**
 * Wall clocks a test can set: a Pi's clock cannot be set from a test, so the clock sanity check's
 * sources (agent/pipeline/clock-sanity.ts) are the one outer edge faked for untrusted-clock tests.
 */
import { pino } from 'pino';
import { Agent } from '../../agent/agent.js';
import type { ClockSources } from '../../agent/pipeline/clock-sanity.js';
import type { Clock } from '../../agent/clock.js';
import { loadConfig } from '../../config/index.js';

/** Real timers, a wall clock that is off by `skew` until "NTP" sets it right (skew = 0). */
export class SkewedClock implements Clock {
  skew = 0;
  now(): number {
    return Date.now() + this.skew;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    return setTimeout(fn, ms);
  }
  clearTimeout(h: unknown): void {
    clearTimeout(h as NodeJS.Timeout);
  }
}

/** The sanity check's sources for a SkewedClock: its wall clock, the real monotonic clock, one boot, no NTP client. */
export function skewedSources(clock: Clock): ClockSources {
  return {
    wall: () => clock.now(),
    mono: () => Number(process.hrtime.bigint() / 1_000_000n),
    bootId: () => 'test-boot',
    synchronized: () => undefined,
  };
}

/** An agent (YAML config `text`) on a SkewedClock, with short forwarder waits; not started. */
export function skewedAgent(text: string, clock: SkewedClock): Agent {
  return new Agent({
    config: loadConfig({ text, format: 'yaml', env: {} }),
    logger: pino({ level: 'silent' }),
    clock,
    clockSources: skewedSources(clock),
    forwarder: { idleMs: 100, backoff: { initialMs: 100, maxMs: 400 } },
    stopGraceMs: 3000,
  });
}

/** A Pi that booted offline, both clocks driven by hand: the wall clock starts in 1970 (or wherever the test puts it). */
export class HandClocks implements ClockSources {
  mono_ = 10_000;
  wall_ = 0;
  boot = 'boot-1';
  sync: boolean | undefined = undefined;
  wall(): number {
    return this.wall_;
  }
  mono(): number {
    return this.mono_;
  }
  bootId(): string {
    return this.boot;
  }
  synchronized(): boolean | undefined {
    return this.sync;
  }
  /** Time passes: both clocks run. */
  pass(ms: number): void {
    this.mono_ += ms;
    this.wall_ += ms;
  }
}
