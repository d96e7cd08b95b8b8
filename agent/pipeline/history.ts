// Room agent/pipeline: the path of a reading (schedule, poll or push, transform, clock guard, into the buffer); may import config, drivers, buffer, broker and agent/{clock,logger}.
/**
 * The local history's in-memory side: every transformed reading with a numeric value (booleans as
 * 0/1; bad readings and text skipped) goes into the open bucket of each tier — reported or
 * suppressed by report-by-exception alike, since the history is the gateway's own and does not
 * depend on delivery. A bucket closes when a reading falls into a later one or its time is over;
 * closed buckets are written together (`flush`, called after each pipeline commit and by a
 * fallback tick when no commit came), so the history adds no commit cadence of its own while
 * points flow. Reads merge what is stored with what is still in memory, so a chart is live.
 *
 * A crash loses the buckets not yet written (at most one step of the fine tier plus the open
 * buckets); stop writes the open ones as they are, and a restart inside a bucket merges into it.
 */
import type { HistoryBucket, HistoryKey, HistoryRow } from '../../buffer/history.js';
import type { Point } from '../../buffer/types.js';

export interface HistoryTier {
  stepMs: number;
  keepMs: number;
}

export interface HistoryWriter {
  /** Writes buckets (merging) and prunes each tier's rows older than `before[tier]`. */
  write(rows: readonly HistoryRow[], before?: readonly number[]): number;
  read(key: HistoryKey, from: number, to: number): HistoryBucket[];
}

export interface HistoryRecorderOptions {
  /** Finest first; each step a multiple of the one before. */
  tiers: readonly HistoryTier[];
  store: HistoryWriter;
  now: () => number;
  /** Configured tags of a point (to tell a captured series, like an MQTT topic's `{bed}`, apart). */
  configuredTags: (device: string, point: string) => Readonly<Record<string, string>> | undefined;
  /** A write failed: those buckets are lost (the points are not: they are in the buffer). */
  onError: (err: unknown, rows: number) => void;
  /** Prune by age at most this often. Default 60 s. */
  pruneEveryMs?: number;
}

interface Open extends HistoryBucket {
  key: string;
  tier: number;
  device: string;
  point: string;
  series: string;
}

export class HistoryRecorder {
  private readonly open = new Map<string, Open>();
  private closed: Open[] = [];
  /** Per device/point (`device\0point`): its last series and keys (seriesOf). */
  private readonly series = new Map<string, SeriesKeys>();
  private lastPrune = -Infinity;
  readonly stats = { written: 0, failed: 0, boundRemoved: 0 };

  constructor(private readonly opts: HistoryRecorderOptions) {}

  get tiers(): readonly HistoryTier[] {
    return this.opts.tiers;
  }

  record(points: readonly Point[]): void {
    const tiers = this.opts.tiers;
    for (const p of points) {
      if (p.quality === 'bad') continue;
      const v = typeof p.value === 'number' ? p.value : typeof p.value === 'boolean' ? (p.value ? 1 : 0) : NaN;
      if (!Number.isFinite(v)) continue;
      const s = this.seriesOf(p);
      for (let i = 0; i < tiers.length; i++) {
        const stepMs = (tiers[i] as HistoryTier).stepMs;
        const ts = Math.floor(p.ts / stepMs) * stepMs;
        const key = s.keys[i] as string;
        const b = this.open.get(key);
        if (b !== undefined && b.ts === ts) {
          b.n += 1;
          b.sum += v;
          if (v < b.min) b.min = v;
          if (v > b.max) b.max = v;
          continue;
        }
        const fresh: Open = { key, tier: i, device: p.deviceId, point: p.pointId, series: s.series, ts, n: 1, min: v, max: v, sum: v };
        if (b !== undefined && ts < b.ts) {
          // A late reading (a clock step back): its own bucket, merged when written.
          this.closed.push(fresh);
          continue;
        }
        if (b !== undefined) this.closed.push(b);
        this.open.set(key, fresh);
      }
    }
  }

  /** Closes buckets whose time is over and writes every closed bucket (with `all`, the open ones too: stop). */
  flush(all = false): void {
    const now = this.opts.now();
    // values(), not entries(): this runs after every commit over every open bucket, and each
    // entry would be an array of its own. Deleting the entry being visited is safe in a Map.
    for (const b of this.open.values()) {
      if (all || b.ts + (this.opts.tiers[b.tier] as HistoryTier).stepMs <= now) {
        this.closed.push(b);
        this.open.delete(b.key);
      }
    }
    const prune = now - this.lastPrune >= (this.opts.pruneEveryMs ?? 60_000);
    if (this.closed.length === 0 && !prune) return;
    const rows = this.closed;
    this.closed = [];
    try {
      this.stats.boundRemoved += this.opts.store.write(rows, prune ? this.opts.tiers.map((t) => now - t.keepMs) : undefined);
      this.stats.written += rows.length;
      if (prune) this.lastPrune = now;
    } catch (err) {
      this.stats.failed += rows.length;
      this.opts.onError(err, rows.length);
    }
  }

  /** Buckets of one series and tier in [from, to), oldest first: stored, waiting and open ones merged. */
  read(key: HistoryKey, from: number, to: number): HistoryBucket[] {
    const byTs = new Map<number, HistoryBucket>();
    for (const b of this.opts.store.read(key, from, to)) byTs.set(b.ts, { ...b });
    const memKey = `${key.tier}\u0000${key.device}\u0000${key.point}\u0000${key.series}`;
    const open = this.open.get(memKey);
    for (const b of open === undefined ? this.closed : [...this.closed, open]) {
      if (b.key !== memKey || b.ts < from || b.ts >= to) continue;
      const have = byTs.get(b.ts);
      if (have === undefined) byTs.set(b.ts, { ts: b.ts, n: b.n, min: b.min, max: b.max, sum: b.sum });
      else byTs.set(b.ts, merge(have, b));
    }
    return [...byTs.values()].sort((a, b) => a.ts - b.ts);
  }

  /**
   * The series of a point and its bucket key per tier. Remembered per device/point against the
   * point's tags object and its configured tags (the same objects poll after poll, until a config
   * push or a reading with captured tags brings new ones), so a reading costs two lookups instead
   * of building the series and the keys again.
   */
  private seriesOf(p: Point): SeriesKeys {
    const configured = this.opts.configuredTags(p.deviceId, p.pointId);
    const id = `${p.deviceId}\u0000${p.pointId}`;
    const hit = this.series.get(id);
    if (hit !== undefined && hit.tags === p.tags && hit.configured === configured) return hit;
    const series = capturedSeries(p.tags, configured ?? {});
    const keys = this.opts.tiers.map((_, i) => `${i}\u0000${p.deviceId}\u0000${p.pointId}\u0000${series}`);
    const entry: SeriesKeys = { tags: p.tags, configured, series, keys };
    this.series.set(id, entry);
    return entry;
  }
}

interface SeriesKeys {
  tags: Readonly<Record<string, string>>;
  configured: Readonly<Record<string, string>> | undefined;
  series: string;
  keys: string[];
}

/** The tags a reading captured beyond the configured ones, as JSON in key order ('' when none). */
function capturedSeries(tags: Readonly<Record<string, string>>, configured: Readonly<Record<string, string>>): string {
  let captured: Array<[string, string]> | undefined;
  for (const [k, v] of Object.entries(tags)) {
    if (configured[k] !== v) (captured ??= []).push([k, v]);
  }
  if (captured === undefined) return '';
  captured.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return JSON.stringify(Object.fromEntries(captured));
}

export function merge(a: HistoryBucket, b: HistoryBucket): HistoryBucket {
  return { ts: a.ts, n: a.n + b.n, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max), sum: a.sum + b.sum };
}

/** Buckets of `fromStep` folded into buckets of `step` (a multiple of it). */
export function rebucket(buckets: readonly HistoryBucket[], step: number): HistoryBucket[] {
  const out: HistoryBucket[] = [];
  for (const b of buckets) {
    const ts = Math.floor(b.ts / step) * step;
    const last = out[out.length - 1];
    if (last !== undefined && last.ts === ts) out[out.length - 1] = merge(last, { ...b, ts });
    else out.push({ ...b, ts });
  }
  return out;
}
