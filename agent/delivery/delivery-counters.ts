// Room agent/delivery: forwarding buffered points to the sinks (forwarders, sink wiring, counters, back-off); may import sinks, buffer, config, agent/pipeline and agent/{clock,logger}.
/**
 * One plain object with the delivery figures, for the metrics endpoint and the status API:
 * per sink sent, failed, dropped, dead-lettered and lag; the buffer's size and bound; the clock.
 * Counters (sent, failed, dropped, deadLettered, appended) count since the process started;
 * gauges (lag, rows, bytes, held) are read now.
 */
import type { SqliteBuffer } from '../../buffer/sqlite-buffer.js';
import type { ClockGuard } from '../pipeline/clock-sanity-guard.js';
import type { ClockSanity } from '../pipeline/clock-sanity.js';
import type { Forwarder } from './forwarder.js';

export interface SinkCounters {
  /** Points the sink accepted. */
  sent: number;
  /** Points in failed write attempts (retries count again). */
  failed: number;
  /** Points evicted or refused by the buffer before this sink had them. */
  dropped: number;
  /** Points this sink rejected as invalid (now dead letters). */
  deadLettered: number;
  /** Dead letters stored for this sink now (gauge). */
  deadLetters: number;
  /** Rows waiting for this sink (gauge). */
  lagRows: number;
  /** Age of the oldest point waiting for this sink, ms; null when caught up (gauge). */
  lagMs: number | null;
  consecutiveFailures: number;
  lastDeliveryAt: number | null;
  lastError: { code: string; message: string; at: number } | null;
}

export interface DeliveryCounters {
  buffer: {
    rows: number;
    bytes: number;
    maxRows: number;
    maxBytes: number;
    /** Rows waiting for a trusted clock. */
    held: number;
    appended: number;
    /** Rows dropped (each once). */
    dropped: number;
    diskFullEvents: number;
    /** Set when the file was corrupt at start and replaced. */
    recovered: { movedTo: string; reason: string } | null;
  };
  clock: { trusted: boolean; reason: string | null; jumps: number; held: number; restamped: number; flagged: number } | null;
  sinks: Record<string, SinkCounters>;
}

export function deliveryCounters(
  buffer: SqliteBuffer,
  forwarders: readonly Forwarder[],
  now: number,
  clock?: { sanity: ClockSanity; guard: ClockGuard },
): DeliveryCounters {
  const s = buffer.stats();
  const c = buffer.counters();
  const sinks: Record<string, SinkCounters> = {};
  for (const f of forwarders) {
    const b = s.sinks[f.name];
    sinks[f.name] = {
      sent: f.stats.sent,
      failed: f.stats.failed,
      dropped: c.droppedBySink[f.name] ?? 0,
      deadLettered: f.stats.deadLettered,
      deadLetters: b?.deadLetters ?? 0,
      lagRows: b?.pending ?? 0,
      lagMs: b?.oldestTs == null ? null : Math.max(0, now - b.oldestTs),
      consecutiveFailures: f.stats.consecutiveFailures,
      lastDeliveryAt: f.stats.lastDeliveryAt,
      lastError: f.stats.lastError,
    };
  }
  return {
    buffer: {
      rows: s.rows,
      bytes: s.bytes,
      maxRows: buffer.bound.maxRows,
      maxBytes: buffer.bound.maxBytes,
      held: s.held,
      appended: c.appended,
      dropped: c.dropped,
      diskFullEvents: c.diskFullEvents,
      recovered: buffer.recovered ?? null,
    },
    clock:
      clock === undefined
        ? null
        : { ...pick(clock.sanity.stats), held: clock.guard.stats.held, restamped: clock.guard.stats.restamped, flagged: clock.guard.stats.flagged },
    sinks,
  };
}

function pick(s: ClockSanity['stats']): { trusted: boolean; reason: string | null; jumps: number } {
  return { trusted: s.trusted, reason: s.reason, jumps: s.jumps };
}
