/**
 * Figure 1: readings → Pipeline.process (transforms, local alert evaluation, report-by-exception)
 * → clock guard → durable SQLite commit, exactly as the agent wires them;
 * against the ceiling of raw batched inserts of the same rows, in the same batch size (one device
 * cycle per transaction), with the same pragmas and schema. Rounds alternate so that a noisy
 * neighbour hits both sides alike; each figure is the median of its rounds.
 */
import path from 'node:path';
import type Database from 'better-sqlite3';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { openFile } from '../buffer/open.js';
import { ROW_COLUMNS } from '../buffer/rows.js';
import { configure, limitPageCache, migrate } from '../buffer/schema.js';
import { agentBufferOptions } from '../agent/commands/buffer.js';
import { ClockGuard } from '../agent/pipeline/clock-sanity-guard.js';
import { ClockSanity, systemClockSources } from '../agent/pipeline/clock-sanity.js';
import { createLogger } from '../agent/logger.js';
import { Pipeline } from '../agent/pipeline/pipeline.js';
import { AlertEngine } from '../agent/alerts/engine.js';
import { bufferAlertStore } from '../agent/alerts/store.js';
import { systemClock } from '../agent/clock.js';
import { median, perSecond } from './figures.js';
import { benchConfig, modbusDevices, readingCycles } from './layout.js';

export interface IngestResult {
  ingest_points_per_s: number;
  sqlite_ceiling_rows_per_s: number;
  /** Points per transaction on both sides (one device cycle). */
  batch: number;
  alert_rules: number;
  rounds: number;
}

export function benchIngest(dir: string, opts: { rounds: number; roundMs: number }): IngestResult {
  const logger = createLogger({ level: 'silent' });
  const { config, alertRules } = benchConfig({
    bufferPath: path.join(dir, 'ingest.db'),
    devices: [{ id: 'meter-1', connection: { protocol: 'tcp', host: '127.0.0.1', port: 502 } }],
    everyMs: 1000,
  });
  const device = modbusDevices(config)[0]!;
  const buffer = new SqliteBuffer(agentBufferOptions(config.settings, ['influx', 'postgres'], logger));
  const sanity = new ClockSanity({ sources: systemClockSources(), logger });
  const guard = new ClockGuard({ sanity, buffer, mode: config.settings.buffer.untrustedClock, logger });
  const pipeline = new Pipeline({ append: (points) => guard.append(points) });
  // Wired as the Agent wires it: every transformed point is judged before it is stored.
  const alerts = new AlertEngine({ config, clock: systemClock, logger });
  pipeline.onTransformed((points) => alerts.evaluate(points));
  alerts.start(bufferAlertStore(buffer, () => {}));
  const cycles = readingCycles(device, 64);
  let cycle = 0;
  const t0 = Date.now() - 365 * 86_400_000;

  const ceilingDb = openFile(path.join(dir, 'ceiling.db'));
  limitPageCache(ceilingDb);
  configure(ceilingDb, { synchronous: config.settings.buffer.synchronous, busyTimeoutMs: 5000 });
  migrate(ceilingDb);
  const ingestRates: number[] = [];
  const ceilingRates: number[] = [];
  let ceilingSeq = 0;
  let rows: unknown[][] | undefined;
  try {
    for (let round = 0; round < opts.rounds; round++) {
      // The pipeline side.
      let points = 0;
      const start = performance.now();
      let elapsed = 0;
      do {
        for (let k = 0; k < 50; k++) {
          const readings = cycles[cycle % cycles.length]!;
          const ts = t0 + cycle * 1000;
          for (const r of readings) r.ts = ts;
          points += pipeline.process(device, readings).length;
          cycle++;
        }
        elapsed = performance.now() - start;
      } while (elapsed < opts.roundMs);
      ingestRates.push(perSecond(points, elapsed));

      // The ceiling: the very rows the buffer stored, inserted raw.
      rows ??= storedRows(path.join(dir, 'ingest.db'), device.points.length * 64);
      ceilingRates.push(insertRaw(ceilingDb, rows, device.points.length, opts.roundMs, () => ++ceilingSeq));
    }
  } finally {
    alerts.stop();
    buffer.close();
    ceilingDb.close();
  }
  return {
    ingest_points_per_s: median(ingestRates),
    sqlite_ceiling_rows_per_s: median(ceilingRates),
    batch: device.points.length,
    alert_rules: alertRules,
    rounds: opts.rounds,
  };
}

/** The first `n` rows of the buffer's points table, as stored (column values after seq). */
function storedRows(file: string, n: number): unknown[][] {
  const db = openFile(file, { readonly: true });
  try {
    return db.prepare(`SELECT ${ROW_COLUMNS} FROM points ORDER BY seq LIMIT ?`).raw(true).all(n) as unknown[][];
  } finally {
    db.close();
  }
}

/** Rows per second of batched raw inserts for about `ms`: one immediate transaction per `batch` rows. */
function insertRaw(db: Database.Database, rows: unknown[][], batch: number, ms: number, nextSeq: () => number): number {
  const insert = db.prepare(`INSERT INTO points (seq, ${ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const tx = db.transaction((from: number) => {
    for (let i = 0; i < batch; i++) insert.run(nextSeq(), ...(rows[(from + i) % rows.length] as unknown[]));
  });
  let done = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let k = 0; k < 50; k++) {
      tx.immediate(done);
      done += batch;
    }
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return perSecond(done, elapsed);
}
