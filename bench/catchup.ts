/**
 * Figure 3: catching up after an outage while polling goes on. The real Agent starts on a buffer
 * holding a backlog, polls 10 meters × 100 points every second over Modbus TCP, and forwards to
 * InfluxDB (VictoriaMetrics) and PostgreSQL at once. Measured: the time until both sinks have
 * the whole backlog, and how late each poll started after its wall-clock tick meanwhile.
 */
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pg from 'pg';
import pino from 'pino';
import { Agent } from '../agent/agent.js';
import { createLogger } from '../agent/logger.js';
import { quoteIdent } from '../sinks/postgres-sql.js';
import { fillBuffer } from './backlog.js';
import { percentile, pollSlips, secondsPerMillion } from './figures.js';
import { benchConfig, modbusDevices } from './layout.js';
import { startMeterServer } from './meter-source.js';

export interface CatchupResult {
  catchup_seconds_per_million: number;
  poll_slip_ms_p99: number;
  poll_slip_ms_max: number;
  poll_ticks_missed: number;
  /** How long the event loop was blocked at worst (and at the 99th percentile) meanwhile: what delays polls. */
  event_loop_delay_ms_max: number;
  event_loop_delay_ms_p99: number;
  poll_interval_ms: number;
  backlog: number;
  polls: number;
  catchup_ms: number;
}

export const CATCHUP_DEVICES = 10;
export const POLL_EVERY_MS = 1000;

export async function benchCatchup(o: { dir: string; pgUrl: string; influxUrl: string; backlog: number; startTs: number }): Promise<CatchupResult> {
  const server = await startMeterServer();
  const schema = `bench_${Math.random().toString(16).slice(2, 10)}`;
  const file = path.join(o.dir, 'catchup.db');
  const { config } = benchConfig({
    bufferPath: file,
    devices: Array.from({ length: CATCHUP_DEVICES }, (_, i) => ({
      id: `meter-${i + 1}`,
      connection: { protocol: 'tcp', host: '127.0.0.1', port: server.port, unitId: i + 1, timeout: '1s' },
    })),
    everyMs: POLL_EVERY_MS,
    influxUrl: o.influxUrl,
    postgres: { url: o.pgUrl, schema },
  });
  const lastSeq = fillBuffer(file, ['influx', 'postgres'], modbusDevices(config), o.backlog, o.startTs);
  // Logs to stderr: stdout carries the report.
  const logger = createLogger({ level: 'warn', destination: pino.destination({ fd: 2, sync: false }) });
  const agent = new Agent({ config, logger });
  const starts = new Map<string, number[]>();
  let t0 = 0;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  try {
    await agent.start();
    loopDelay.enable();
    t0 = performance.now();
    for (const runner of agent.runners.values()) {
      const driver = runner.driver;
      const read = driver.read.bind(driver);
      const mine: number[] = [];
      starts.set(runner.device.id, mine);
      driver.read = (points, signal) => {
        mine.push(Date.now());
        return read(points, signal);
      };
    }
    let catchupMs = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      const sinks = agent.bufferStats()?.sinks ?? {};
      if (Object.values(sinks).every((s) => !s.enabled || s.cursor >= lastSeq)) {
        catchupMs = performance.now() - t0;
        break;
      }
      if (performance.now() - t0 > 15 * 60_000) throw new Error('catch-up did not finish in 15 minutes');
    }
    // Per device: each has its own schedule, and one device's polls must not fill another's gaps.
    const slips: number[] = [];
    let missedTicks = 0;
    let polls = 0;
    for (const mine of starts.values()) {
      const d = pollSlips(mine, POLL_EVERY_MS);
      slips.push(...d.slips);
      missedTicks += d.missedTicks;
      polls += mine.length;
    }
    return {
      catchup_seconds_per_million: secondsPerMillion(lastSeq, catchupMs),
      poll_slip_ms_p99: percentile(slips, 99),
      poll_slip_ms_max: Math.max(...slips),
      poll_ticks_missed: missedTicks,
      event_loop_delay_ms_max: loopDelay.max / 1e6,
      event_loop_delay_ms_p99: loopDelay.percentile(99) / 1e6,
      poll_interval_ms: POLL_EVERY_MS,
      backlog: lastSeq,
      polls,
      catchup_ms: catchupMs,
    };
  } finally {
    loopDelay.disable();
    await agent.stop();
    await server.close();
    const pool = new pg.Pool({ connectionString: o.pgUrl, max: 1 });
    pool.on('error', () => {});
    await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => {});
    await pool.end();
  }
}
