// Room agent/pipeline: the path of a reading (schedule, poll or push, transform, clock guard, into the buffer); may import config, drivers, buffer, broker and agent/{clock,logger}.
/**
 * Readings → points → buffer. Each poll cycle's points are appended in one transaction, so the
 * buffer commits once per cycle, never once per point. The pipeline also keeps the latest point
 * per device/point (for status views and `run --once`).
 */
import type { Point } from '../../buffer/types.js';
import type { ResolvedDevice, ResolvedPoint } from '../../config/types.js';
import type { Reading } from '../../drivers/types.js';
import { shouldReport, transformReading, type ExceptionState } from './transform.js';

export interface PointSink {
  /** Appends a cycle's points atomically. Throws if they could not be stored. */
  append(points: Point[]): unknown;
}

export interface PipelineStats {
  readings: number;
  bad: number;
  emitted: number;
  suppressed: number;
  appendErrors: number;
}

export class Pipeline {
  readonly stats: PipelineStats = { readings: 0, bad: 0, emitted: 0, suppressed: 0, appendErrors: 0 };
  readonly latest = new Map<string, Point>();
  private readonly exception = new Map<string, ExceptionState>();
  private readonly listeners: Array<(points: Point[]) => void> = [];
  private readonly evaluators: Array<(points: readonly Point[]) => void> = [];
  private readonly byDevice = new WeakMap<ResolvedDevice, Map<string, ResolvedPoint>>();

  constructor(private readonly out: PointSink) {}

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
   * The device's points by id, built once per device config (a pushed config brings new device
   * objects, which the WeakMap then forgets with the old ones), not on every poll.
   */
  private pointsOf(device: ResolvedDevice): Map<string, ResolvedPoint> {
    let byId = this.byDevice.get(device);
    if (byId === undefined) {
      byId = new Map(device.points.map((p): [string, ResolvedPoint] => [p.id, p]));
      this.byDevice.set(device, byId);
    }
    return byId;
  }

  /** Forget report-by-exception state of devices that left the config. */
  forgetDevice(deviceId: string): void {
    const prefix = `${deviceId}\u0000`;
    for (const key of this.exception.keys()) if (key.startsWith(prefix)) this.exception.delete(key);
    for (const key of this.latest.keys()) if (key.startsWith(prefix)) this.latest.delete(key);
  }

  /** Transforms a cycle of readings of one device and stores the points to report. */
  process(device: ResolvedDevice, readings: readonly Reading[]): Point[] {
    const byId = this.pointsOf(device);
    const out: Point[] = [];
    const keys: string[] = [];
    const all: Point[] = [];
    for (const reading of readings) {
      const cfg = byId.get(reading.pointId);
      if (cfg === undefined) continue;
      this.stats.readings += 1;
      const point = transformReading(reading, cfg);
      all.push(point);
      if (point.quality === 'bad') this.stats.bad += 1;
      const key = seriesKey(device.id, cfg.id, reading.tags);
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
}

/**
 * The report-by-exception (and `latest`) key: device and point, plus the tags captured per
 * reading, so each bed under `ward/{ward}/bed/{bed}/vitals` has its own deadband. It starts
 * with `device\0` so that forgetDevice finds it.
 */
function seriesKey(deviceId: string, pointId: string, tags: Readonly<Record<string, string>> | undefined): string {
  const base = `${deviceId}\u0000${pointId}`;
  if (tags === undefined) return base;
  const names = Object.keys(tags).sort();
  return names.length === 0 ? base : `${base}\u0000${JSON.stringify(names.map((k) => [k, tags[k]]))}`;
}
