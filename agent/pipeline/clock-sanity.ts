// Room agent/pipeline: the path of a reading (schedule, poll or push, transform, clock guard, into the buffer); may import config, drivers, buffer, broker and agent/{clock,logger}.
/**
 * Is the wall clock telling the time? A Raspberry Pi has no real-time clock: after an offline
 * boot it starts at 1970, or (Raspberry Pi OS's fake-hwclock) at the last shutdown, and jumps
 * when NTP finally syncs. Points stamped before that must not reach central with a wrong time.
 *
 * Signals, all injected so tests drive them:
 * - a wall clock before a floor (a date this build cannot predate) or absurdly far after it;
 * - an NTP client that says it has not synchronised yet (systemd-timesyncd's
 *   /run/systemd/timesync/synchronized, present once synced; absent with the directory present
 *   means "running, not yet");
 * - jumps: the wall clock moving by a different amount than the monotonic clock between two
 *   looks. The monotonic clock (CLOCK_MONOTONIC, process.hrtime) runs since boot, is never set,
 *   and is shared by every process of the boot: wall − mono is constant while nobody sets the
 *   clock, so its change is the size of a jump, and once the clock is trusted, the right time of
 *   any earlier reading of the same boot is its monotonic time plus today's offset.
 */
import fs from 'node:fs';
import type { Logger } from '../logger.js';

/** No build of this agent runs before this date: a wall clock earlier than it is unset. */
export const CLOCK_FLOOR_MS = Date.UTC(2026, 0, 1);
/** Later than this after the floor is a clock set wrong (a bad RTC, a typo in `date -s`). */
const CEILING_AFTER_FLOOR_MS = 30 * 365 * 24 * 3600_000;

export interface ClockSources {
  /** Epoch ms (Date.now). */
  wall(): number;
  /** Monotonic ms since boot, comparable across processes of the same boot. */
  mono(): number;
  /** Identifies the boot: monotonic times of another boot are not comparable. */
  bootId(): string;
  /** true: the NTP client says synchronised; false: it says not yet; undefined: nothing says. */
  synchronized(): boolean | undefined;
}

const TIMESYNC_DIR = '/run/systemd/timesync';

export function systemClockSources(): ClockSources {
  let bootId: string | undefined;
  return {
    wall: () => Date.now(),
    mono: () => Number(process.hrtime.bigint() / 1_000_000n),
    bootId: () => (bootId ??= readBootId()),
    synchronized: () => {
      if (fs.existsSync(`${TIMESYNC_DIR}/synchronized`)) return true;
      return fs.existsSync(TIMESYNC_DIR) ? false : undefined;
    },
  };
}

function readBootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown-boot';
  }
}

export type UntrustedReason = 'before-floor' | 'after-ceiling' | 'not-synchronized';

export interface ClockVerdict {
  trusted: boolean;
  reason: UntrustedReason | undefined;
  wall: number;
  mono: number;
  bootId: string;
  /** wall − mono now. */
  offsetMs: number;
  /** wall − mono when the current epoch (the time since the last jump) began. */
  epochOffsetMs: number;
  /** The jump seen at this look (wall delta − monotonic delta), 0 if none. */
  jumpMs: number;
  /**
   * wall − mono read once, at the look where the clock became trusted (or last jumped while
   * trusted): the one offset every correction of that release uses, so held points and alerts
   * stamped together move by the same milliseconds, whichever look corrects them. (wall − mono
   * read at two looks can differ by a millisecond: Date.now and hrtime round apart.)
   */
  trustedOffsetMs: number;
}

export interface ClockSanityOptions {
  sources: ClockSources;
  logger: Logger;
  floorMs?: number;
  /** A difference between wall and monotonic deltas above this is a jump. Default 2 s. */
  jumpThresholdMs?: number;
  /** How often (monotonic ms) to ask the NTP client again. Default 30 s. */
  syncCheckEveryMs?: number;
}

export interface ClockSanityStats {
  trusted: boolean;
  reason: UntrustedReason | null;
  jumps: number;
  lastJumpMs: number | null;
}

export class ClockSanity {
  readonly stats: ClockSanityStats = { trusted: true, reason: null, jumps: 0, lastJumpMs: null };
  private readonly opts: Required<Omit<ClockSanityOptions, 'logger' | 'sources'>>;
  private last: { wall: number; mono: number } | undefined;
  private epochOffsetMs = 0;
  private sync: { value: boolean | undefined; at: number } | undefined;
  private verdict: boolean | undefined;
  private trustedOffsetMs = 0;

  constructor(private readonly o: ClockSanityOptions) {
    this.opts = { floorMs: o.floorMs ?? CLOCK_FLOOR_MS, jumpThresholdMs: o.jumpThresholdMs ?? 2000, syncCheckEveryMs: o.syncCheckEveryMs ?? 30_000 };
  }

  /** Looks at the clocks now. Cheap: call it on every append. */
  check(): ClockVerdict {
    const { sources } = this.o;
    const wall = sources.wall();
    const mono = sources.mono();
    let jumpMs = 0;
    if (this.last === undefined) {
      this.epochOffsetMs = wall - mono;
    } else {
      const drift = wall - this.last.wall - (mono - this.last.mono);
      if (Math.abs(drift) > this.opts.jumpThresholdMs) {
        jumpMs = drift;
        this.epochOffsetMs = wall - mono;
        this.stats.jumps += 1;
        this.stats.lastJumpMs = drift;
        this.o.logger.warn(
          { code: 'EDGE_CLOCK_JUMP', jumpMs: drift, from: new Date(this.last.wall + (mono - this.last.mono)).toISOString(), to: safeIso(wall) },
          'wall clock jumped',
        );
      }
    }
    this.last = { wall, mono };
    if (this.sync === undefined || mono - this.sync.at >= this.opts.syncCheckEveryMs || jumpMs !== 0) {
      this.sync = { value: sources.synchronized(), at: mono };
    }
    const reason: UntrustedReason | undefined =
      wall < this.opts.floorMs ? 'before-floor' : wall > this.opts.floorMs + CEILING_AFTER_FLOOR_MS ? 'after-ceiling' : this.sync.value === false ? 'not-synchronized' : undefined;
    const trusted = reason === undefined;
    if (trusted && (this.verdict !== true || jumpMs !== 0)) this.trustedOffsetMs = wall - mono;
    if (trusted !== this.verdict) {
      if (!trusted) {
        this.o.logger.warn({ code: 'EDGE_CLOCK_UNTRUSTED', reason, wall: safeIso(wall) }, 'wall clock not trusted: points are held (or flagged) until it is');
      } else if (this.verdict === false) {
        this.o.logger.info({ wall: safeIso(wall) }, 'wall clock trusted again');
      }
      this.verdict = trusted;
    }
    this.stats.trusted = trusted;
    this.stats.reason = reason ?? null;
    return { trusted, reason, wall, mono, bootId: sources.bootId(), offsetMs: wall - mono, epochOffsetMs: this.epochOffsetMs, jumpMs, trustedOffsetMs: this.trustedOffsetMs };
  }
}

function safeIso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
