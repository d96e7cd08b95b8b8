/**
 * Figure 5: a long run of the agent as it runs in the field — its own process (`edge-agent run`),
 * 10 meters × 100 points polled every second over Modbus TCP, forwarding to InfluxDB and
 * PostgreSQL. Sampled from /proc every few seconds: resident memory (VmRSS) and the bytes the
 * process sent to storage (write_bytes: the SD-card wear) and the CPU time it used (utime + stime),
 * each divided by the points it appended.
 *
 * rss_mb is the largest sample of the whole run. rss_growth_pct compares the median of the last
 * tenth of the run with the median of the second tenth (the first tenth is warm-up: JIT, pools,
 * caches filling).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { openFile } from '../buffer/open.js';
import { quoteIdent } from '../sinks/postgres-sql.js';
import { freePort } from '../test/helpers/victoria.js';
import type { AgentProgram } from './agent-program.js';
import { growthPct, median } from './figures.js';
import { benchConfig } from './layout.js';
import { startMeterServer } from './meter-source.js';
import { cpuMs, cpuPer1000, procField } from './proc.js';

export interface RssResult {
  rss_mb: number;
  rss_growth_pct: number;
  rss_first_mb: number;
  rss_last_mb: number;
  disk_bytes_per_point: number;
  /** CPU (user + system) of the agent process per 1000 points appended, over the same window as the disk figure. */
  cpu_ms_per_1000_points: number;
  points: number;
  minutes: number;
  samples: number;
}

const DEVICES = 10;

export async function benchRss(o: {
  dir: string;
  minutes: number;
  pgUrl: string;
  influxUrl: string;
  progress: (msg: string) => void;
  /** The agent as users run it (bench/agent-program.ts). */
  program: AgentProgram;
}): Promise<RssResult> {
  const server = await startMeterServer();
  const schema = `bench_${Math.random().toString(16).slice(2, 10)}`;
  const file = path.join(o.dir, 'rss.db');
  const { doc } = benchConfig({
    bufferPath: file,
    devices: Array.from({ length: DEVICES }, (_, i) => ({
      id: `meter-${i + 1}`,
      connection: { protocol: 'tcp', host: '127.0.0.1', port: server.port, unitId: i + 1, timeout: '1s' },
    })),
    everyMs: 1000,
    influxUrl: o.influxUrl,
    postgres: { url: o.pgUrl, schema },
    httpPort: await freePort(),
  });
  const configFile = path.join(o.dir, 'rss-agent.json');
  fs.writeFileSync(configFile, JSON.stringify(doc, null, 2));
  const child = spawn(process.execPath, [...o.program.flags('run'), o.program.cli, 'run', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the agent');

  const totalMs = o.minutes * 60_000;
  const everyMs = Math.max(1000, Math.min(5000, totalMs / 60));
  const samples: Array<{ at: number; rssKb: number; written: number; cpuMs: number; seq: number }> = [];
  let reader: ReturnType<typeof openFile> | undefined;
  const lastSeq = (): number => {
    try {
      reader ??= fs.existsSync(file) ? openFile(file, { readonly: true }) : undefined;
      // The counter is saved with deletes; between them the newest row carries it.
      const saved = (reader?.prepare("SELECT value FROM meta WHERE key = 'last_seq'").pluck().get() as number | undefined) ?? 0;
      return Math.max(saved, (reader?.prepare('SELECT max(seq) FROM points').pluck().get() as number | null | undefined) ?? 0);
    } catch {
      return 0;
    }
  };
  try {
    const start = Date.now();
    let lastReport = start;
    while (Date.now() - start < totalMs) {
      await new Promise((r) => setTimeout(r, everyMs));
      if (child.exitCode !== null) throw new Error(`agent exited with ${child.exitCode}:\n${output}`);
      samples.push({ at: Date.now() - start, rssKb: procField(pid, 'status', 'VmRSS'), written: procField(pid, 'io', 'write_bytes'), cpuMs: cpuMs(pid), seq: lastSeq() });
      if (Date.now() - lastReport >= 60_000) {
        lastReport = Date.now();
        const s = samples.at(-1)!;
        o.progress(`rss: ${Math.round(s.at / 60_000)} min, ${(s.rssKb / 1024).toFixed(1)} MB, ${s.seq} points`);
      }
    }
  } finally {
    reader?.close();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    await server.close();
    const pool = new pg.Pool({ connectionString: o.pgUrl, max: 1 });
    pool.on('error', () => {});
    await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => {});
    await pool.end();
  }
  const tenth = totalMs / 10;
  const first = samples.filter((s) => s.at >= tenth && s.at < 2 * tenth);
  const last = samples.filter((s) => s.at >= totalMs - tenth);
  // Disk: from the end of warm-up to the end, bytes written per point appended meanwhile.
  const from = first[0] ?? samples[0]!;
  const to = samples.at(-1)!;
  const rssFirst = median(first.map((s) => s.rssKb)) / 1024;
  const rssLast = median(last.map((s) => s.rssKb)) / 1024;
  return {
    rss_mb: Math.max(...samples.map((s) => s.rssKb)) / 1024,
    rss_growth_pct: growthPct(rssFirst, rssLast),
    rss_first_mb: rssFirst,
    rss_last_mb: rssLast,
    disk_bytes_per_point: to.seq > from.seq ? (to.written - from.written) / (to.seq - from.seq) : Number.NaN,
    cpu_ms_per_1000_points: cpuPer1000(from.cpuMs, to.cpuMs, from.seq, to.seq),
    points: to.seq,
    minutes: o.minutes,
    samples: samples.length,
  };
}
