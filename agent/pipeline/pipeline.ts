// Room agent/pipeline: the path of a reading (schedule, poll or push, transform, clock guard, into the buffer); may import config, drivers, buffer, broker and agent/{clock,logger}.
/**
 * Readings → points → buffer. Points are appended in one transaction per commit: with a commit
 * interval (`buffer.commitInterval`, the agent's default 250 ms), everything every device read
 * within it goes in one commit — one WAL append per tick of all devices rather than per device
 * cycle, which is what wears an SD card. Without one, each cycle commits by itself. Alerts judge
 * points at once, before the commit; listeners (printing, waking the forwarders) hear of them
 * after it. The pipeline also keeps the latest point per device/point (status, `run --once`).
 *
 * The crash contract this gives: a SIGKILL or power loss loses at most the readings of the last
 * interval, which no sink can have received (sinks read only committed rows); nothing committed
 * is lost or sent twice.
 */
import type { Point } from '../../buffer/types.js';
import type { Clock } from '../clock.js';
import type { ResolvedDevice, ResolvedPoint } from '../../config/types.js';
import { nextStamp } from '../../drivers/timestamps.js';
import type { Reading } from '../../drivers/types.js';
import { shouldReport, transformReading, type ExceptionState } from './transform.js';

export interface PointSink {
  /**
   * Appends points atomically. Throws if they could not be stored. `at` is what `readContext`
   * said when they were read (given when the commit is deferred).
   */
  append(points: Point[], at?: unknown): unknown;
  /**
   * What the store must know of the moment points were read, taken per cycle when commits are
   * deferred: the clock guard's verdict, so points read on an untrusted clock are held even when
   * the clock is trusted by the time they are committed.
   */
  readContext?(): unknown;
  /** Whether points read under `a` and `b` may go in one commit (default: yes). */
  sameContext?(a: unknown, b: unknown): boolean;
}

export interface PipelineStats {
  readings: number;
  bad: number;
  emitted: number;
  suppressed: number;
  appendErrors: number;
}

export interface CommitOptions {
  /** Most ms a point waits for the commit; 0: every cycle commits at once. */
  intervalMs: number;
  clock: Clock;
  /** A deferred commit failed (the points are lost, like a failed per-cycle append). */
  onError: (err: unknown, points: number) => void;
  /** Commit at once when this many points wait (bounds a commit's size and memory); default 10 000. */
  maxPoints?: number;
}

interface KnownPoint {
  cfg: ResolvedPoint;
  /** `device\0point`: the series key of its readings without captured tags (seriesKey). */
  key: string;
}

interface Pending {
  points: Point[];
  at: unknown;
  keys: string[];
  /** The exception state each key had before this cycle set it (restored when the commit fails). */
  before: Array<ExceptionState | undefined>;
}

export class Pipeline {
  readonly stats: PipelineStats = { readings: 0, bad: 0, emitted: 0, suppressed: 0, appendErrors: 0 };
  readonly latest = new Map<string, Point>();
  private readonly exception = new Map<string, ExceptionState>();
  /** The last timestamp per device and point (PostgreSQL's key without the time): the next is later (timestamps.ts). */
  private readonly lastTs = new Map<string, number>();
  private readonly listeners: Array<(points: Point[]) => void> = [];
  private readonly evaluators: Array<(points: readonly Point[]) => void> = [];
  private readonly byDevice = new WeakMap<ResolvedDevice, Map<string, KnownPoint>>();

  private pending: Pending[] = [];
  private pendingPoints = 0;
  private timer: unknown;

  constructor(
    private readonly out: PointSink,
    private readonly commit?: CommitOptions,
  ) {}

  /** Points read but not committed yet (waiting for the commit interval). */
  get uncommitted(): number {
    return this.pendingPoints;
  }

  /** Called with every cycle's emitted points after they were stored (e.g. to print or wake forwarders). */
  onPoints(listener: (points: Point[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Called with every transformed point of a cycle, reported or suppressed by exception, before
   * it is stored: local alerts judge every reading, and must not depend on the buffer taking it.
   */
  onTransformed(evaluator: (points: readonly Point[]) => void): void {
    this.evaluators.push(evaluator);
  }

  /**
   * The device's points by id, with their series key base, built once per device config (a
   * pushed config brings new device objects, which the WeakMap then forgets with the old ones),
   * not on every poll.
   */
  private pointsOf(device: ResolvedDevice): Map<string, KnownPoint> {
    let byId = this.byDevice.get(device);
    if (byId === undefined) {
      byId = new Map(device.points.map((p): [string, KnownPoint] => [p.id, { cfg: p, key: `${device.id}\u0000${p.id}` }]));
      this.byDevice.set(device, byId);
    }
    return byId;
  }

  /** Forget report-by-exception state of devices that left the config. */
  forgetDevice(deviceId: string): void {
    const prefix = `${deviceId}\u0000`;
    for (const key of this.exception.keys()) if (key.startsWith(prefix)) this.exception.delete(key);
    for (const key of this.latest.keys()) if (key.startsWith(prefix)) this.latest.delete(key);
    for (const key of this.lastTs.keys()) if (key.startsWith(prefix)) this.lastTs.delete(key);
  }

  /** Transforms a cycle of readings of one device and stores the points to report. */
  process(device: ResolvedDevice, readings: readonly Reading[]): Point[] {
    const byId = this.pointsOf(device);
    const out: Point[] = [];
    const keys: string[] = [];
    const all: Point[] = [];
    for (const reading of readings) {
      const known = byId.get(reading.pointId);
      if (known === undefined) continue;
      const cfg = known.cfg;
      this.stats.readings += 1;
      const point = transformReading(reading, cfg);
      const tsKey = `${device.id}\u0000${cfg.id}`;
      const last = this.lastTs.get(tsKey);
      if (last !== undefined) point.ts = nextStamp(last, point.ts);
      this.lastTs.set(tsKey, point.ts);
      all.push(point);
      if (point.quality === 'bad') this.stats.bad += 1;
      const key = seriesKey(known.key, reading.tags);
      this.latest.set(key, point);
      if (!shouldReport(cfg, point, this.exception.get(key))) {
        this.stats.suppressed += 1;
        continue;
      }
      out.push(point);
      keys.push(key);
    }
    for (const e of this.evaluators) e(all);
    if (out.length === 0) return out;
    if (this.commit !== undefined && this.commit.intervalMs > 0) {
      // Judged against what this cycle reports now, so the next cycle inside the interval sees it.
      const before = keys.map((k) => this.exception.get(k));
      out.forEach((p, i) => this.exception.set(keys[i] as string, { value: p.value, quality: p.quality, ts: p.ts }));
      this.pending.push({ points: out, at: this.out.readContext?.(), keys, before });
      this.pendingPoints += out.length;
      if (this.pendingPoints >= (this.commit.maxPoints ?? 10_000)) this.flush();
      else this.timer ??= this.commit.clock.setTimeout(() => this.flush(), this.commit.intervalMs);
      return out;
    }
    try {
      this.out.append(out);
    } catch (err) {
      this.stats.appendErrors += 1;
      throw err;
    }
    // Only points that were stored count as reported; a failed append must not hide the next value.
    out.forEach((p, i) => this.exception.set(keys[i] as string, { value: p.value, quality: p.quality, ts: p.ts }));
    this.stats.emitted += out.length;
    for (const l of this.listeners) l(out);
    return out;
  }

  /**
   * Commits every waiting point in one append (the timer does this; stop and config applies call
   * it so nothing waits past them). A failed commit is reported and its points' exception state
   * put back, so the next reading of each is reported rather than suppressed.
   */
  flush(): void {
    if (this.timer !== undefined) this.commit?.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batches = this.pending;
    this.pending = [];
    this.pendingPoints = 0;
    // One commit for the lot, unless the clock verdict changed inside the interval (rare).
    const same = this.out.sameContext ?? (() => true);
    let from = 0;
    for (let i = 1; i <= batches.length; i++) {
      if (i < batches.length && same((batches[from] as Pending).at, (batches[i] as Pending).at)) continue;
      this.commitGroup(batches.slice(from, i));
      from = i;
    }
  }

  private commitGroup(batches: Pending[]): void {
    const first = batches[0] as Pending;
    const points = batches.length === 1 ? first.points : batches.flatMap((b) => b.points);
    try {
      this.out.append(points, first.at);
    } catch (err) {
      this.stats.appendErrors += 1;
      // Newest first, so a key two cycles set ends at what it was before either.
      for (let j = batches.length - 1; j >= 0; j--) {
        const b = batches[j] as Pending;
        for (let i = b.keys.length - 1; i >= 0; i--) {
          const k = b.keys[i] as string;
          const prev = b.before[i];
          if (prev === undefined) this.exception.delete(k);
          else this.exception.set(k, prev);
        }
      }
      this.commit?.onError(err, points.length);
      return;
    }
    this.stats.emitted += points.length;
    for (const l of this.listeners) l(points);
  }

}

/**
 * The report-by-exception (and `latest`) key: `base` (device and point), plus the tags captured per
 * reading, so each bed under `ward/{ward}/bed/{bed}/vitals` has its own deadband. It starts
 * with `device\0` so that forgetDevice finds it.
 */
function seriesKey(base: string, tags: Readonly<Record<string, string>> | undefined): string {
  if (tags === undefined) return base;
  const names = Object.keys(tags).sort();
  return names.length === 0 ? base : `${base}\u0000${JSON.stringify(names.map((k) => [k, tags[k]]))}`;
}
