/**
 * A simulated fleet on one central: N `edge-agent run` processes, each polling one 100-point meter
 * every second over Modbus TCP (simulators in this process, a few agents per server), delivering
 * through one PgBouncer (transaction pooling, generated ini) to the local PostgreSQL and to one
 * VictoriaMetrics, linked to one private Mosquitto. Midway the central side goes away — PgBouncer
 * and VictoriaMetrics both stopped — for `outageSeconds`, then comes back.
 *
 * Figures: points/s delivered to PostgreSQL in the steady window against points/s offered (N × 100),
 * PostgreSQL server connections in use (pg_stat_activity rows whose client port is one of
 * PgBouncer's server connections, the largest sample), p99 delivery lag (a column the bench adds,
 * `arrived DEFAULT clock_timestamp()`, minus the point's ts, over the steady window), the agents'
 * summed RSS (largest sample), and the catch-up time after the outage (until every agent's /status
 * shows at most one poll pending on each sink). Then the agents stop (draining), and every point each
 * one committed (its buffer's last seq) is counted in PostgreSQL and, for the numeric points, in
 * VictoriaMetrics: lost = committed − still waiting − dead-lettered − dropped − stored; duplicated =
 * rows sharing a series and a timestamp (PostgreSQL); in VictoriaMetrics such samples are resends.
 * Where points are missing, the first gateways' gaps are printed (PostgreSQL against VictoriaMetrics).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openFile } from '../buffer/open.js';
import type { RunningModbusServer } from '../drivers/modbus/server.js';
import { quoteIdent } from '../sinks/postgres-sql.js';
import { Mosquitto } from '../test/helpers/mosquitto.js';
import { PgBouncer } from '../test/helpers/pgbouncer.js';
import { freePort, VictoriaMetrics, type ExportedSeries } from '../test/helpers/victoria.js';
import { benchConfig, POINTS_PER_DEVICE } from './layout.js';
import { startMeterServer } from './meter-source.js';

export interface FleetBenchOptions {
  dir: string;
  pgUrl: string;
  agents: number;
  /** The steady window measured before the outage. */
  seconds: number;
  outageSeconds: number;
  /** PgBouncer's default_pool_size. */
  poolSize: number;
  /** Log every row PostgreSQL is offered (a trigger) to tell rows lost on the way from rows folded onto one key. */
  trace?: boolean;
  progress: (msg: string) => void;
}

export interface FleetResult {
  fleet_agents: number;
  fleet_offered_points_per_s: number;
  fleet_delivered_points_per_s: number;
  fleet_pg_server_connections_max: number;
  fleet_pool_size: number;
  fleet_lag_ms_p99: number;
  fleet_rss_mb_sum: number;
  fleet_rss_mb_per_agent: number;
  fleet_outage_seconds: number;
  fleet_catchup_seconds: number;
  fleet_points_committed: number;
  /** Not yet delivered to PostgreSQL when the agents stopped (the bounded drain on SIGTERM ran out): kept in the buffer, not lost. */
  fleet_points_still_buffered: number;
  /** Rejected by PostgreSQL as invalid: kept as dead letters on the gateway (none expected). */
  fleet_pg_dead_lettered: number;
  /** Dropped at the buffer's bound or refused (none expected: the bound is far). */
  fleet_points_dropped: number;
  fleet_pg_lost: number;
  fleet_pg_duplicated: number;
  fleet_vm_lost: number;
  /**
   * Samples VictoriaMetrics holds twice (same series and time): a batch written again after an
   * answer was lost (at least once). InfluxDB keeps one point per series and time, so there it
   * is no duplicate; VictoriaMetrics, the test's stand-in, stores both.
   */
  fleet_vm_resent: number;
  fleet_vm_samples: number;
}

/** Agents per simulator: one Modbus TCP server answers this many meters. */
const AGENTS_PER_SERVER = 10;

interface Agent {
  id: string;
  buffer: string;
  httpPort: number;
  child: ChildProcess;
  exited: Promise<number | null>;
  output: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssKb(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * What the agent's buffer says of PostgreSQL's share: points committed (its seq counter), those
 * still waiting past the sink's cursor (not lost: delivered at the next start), those the sink
 * rejected (dead letters: kept on the gateway, visible on /status) and those dropped at the bound.
 */
function bufferAccount(file: string): { committed: number; waiting: number; deadLettered: number; dropped: number } {
  const db = openFile(file, { readonly: true });
  try {
    const one = (sql: string) => (db.prepare(sql).pluck().get() as number | null | undefined) ?? 0;
    const last = Math.max(one("SELECT value FROM meta WHERE key = 'last_seq'"), one('SELECT max(seq) FROM points'));
    return {
      committed: last,
      waiting: one("SELECT count(*) FROM points WHERE seq > coalesce((SELECT seq FROM cursors WHERE sink = 'postgres'), 0)"),
      deadLettered: one("SELECT dead_lettered FROM sink_counters WHERE sink = 'postgres'"),
      dropped: one("SELECT value FROM meta WHERE key = 'dropped'"),
    };
  } finally {
    db.close();
  }
}

export async function benchFleet(o: FleetBenchOptions): Promise<FleetResult> {
  const schema = `bench_fleet_${Math.random().toString(16).slice(2, 10)}`;
  const prefix = `fleetbench${process.pid}`;
  const servers: RunningModbusServer[] = [];
  for (let i = 0; i < Math.ceil(o.agents / AGENTS_PER_SERVER); i++) servers.push(await startMeterServer());
  const [bouncer, vm, broker] = await Promise.all([PgBouncer.start({ poolSize: o.poolSize }), VictoriaMetrics.start(), Mosquitto.start()]);
  const pool = new pg.Pool({ connectionString: o.pgUrl, max: 2 });
  pool.on('error', () => {});
  const cli = fileURLToPath(new URL('../agent/cli.js', import.meta.url));
  const agents: Agent[] = [];
  try {
    for (let i = 0; i < o.agents; i++) {
      const id = `fleet-${String(i).padStart(3, '0')}`;
      const buffer = path.join(o.dir, `${id}.db`);
      const httpPort = await freePort();
      const server = servers[Math.floor(i / AGENTS_PER_SERVER)] as RunningModbusServer;
      const { doc } = benchConfig({
        bufferPath: buffer,
        devices: [{ id: 'meter-1', connection: { protocol: 'tcp', host: '127.0.0.1', port: server.port, unitId: 1, timeout: '1s' } }],
        everyMs: 1000,
        influxUrl: vm.url,
        postgres: { url: bouncer.url(), schema },
        httpPort,
      });
      doc.gateway = { id, site: `site-${i}`, tags: { region: 'bench' } };
      doc.central = { url: broker.url, prefix, allowUnsigned: true, stateDir: path.join(o.dir, `${id}-central`) };
      const file = path.join(o.dir, `${id}.json`);
      fs.writeFileSync(file, JSON.stringify(doc));
      const child = spawn(process.execPath, [cli, 'run', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      const a: Agent = { id, buffer, httpPort, child, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))), output: '' };
      const keep = (b: Buffer) => (a.output = (a.output + b.toString()).slice(-2000));
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      agents.push(a);
    }
    const q = <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => pool.query<R>(sql, params).then((r) => r.rows);
    const table = `${quoteIdent(schema)}.points`;
    o.progress(`fleet: ${o.agents} agents started; waiting until every one delivers`);
    if (o.trace === true) await traceOffered(q, schema, table);
    for (const deadline = Date.now() + 300_000; ; ) {
      const dead = agents.find((a) => a.child.exitCode !== null);
      if (dead !== undefined) throw new Error(`agent ${dead.id} exited with ${dead.child.exitCode}:\n${dead.output}`);
      const n = await q<{ n: number }>(`SELECT count(DISTINCT gateway_id)::int AS n FROM ${table}`).then((r) => r[0]?.n ?? 0).catch(() => 0);
      if (n === o.agents) break;
      if (Date.now() > deadline) throw new Error(`only ${n} of ${o.agents} agents delivered within 5 min`);
      await sleep(1000);
    }
    // When each row arrived, by PostgreSQL's clock: the agents name their columns, so the default fills it.
    await q(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS arrived timestamptz DEFAULT clock_timestamp()`);
    const t0 = Date.now();
    let pgConnections = 0;
    let rssSum = 0;
    const sample = async () => {
      rssSum = Math.max(rssSum, agents.reduce((s, a) => s + (a.child.pid === undefined ? 0 : rssKb(a.child.pid)), 0));
      try {
        const ports = (await bouncer.show<{ local_port: string }>('SERVERS')).map((s) => Number(s.local_port));
        if (ports.length === 0) return;
        const n = await q<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE client_port = ANY($1::int[])', [ports]);
        pgConnections = Math.max(pgConnections, n[0]?.n ?? 0);
      } catch {
        // PgBouncer is down (the outage): nothing to count.
      }
    };
    o.progress(`fleet: steady window of ${o.seconds} s`);
    while (Date.now() - t0 < o.seconds * 1000) {
      await sample();
      await sleep(2000);
    }
    const t1 = Date.now();
    const steady = (await q<{ n: number; p99: number | null }>(
      `SELECT count(*)::int AS n, (percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM arrived - ts) * 1000))::float8 AS p99
         FROM ${table} WHERE arrived >= to_timestamp($1 / 1000.0) AND arrived < to_timestamp($2 / 1000.0)`,
      [t0, t1],
    ))[0];

    o.progress(`fleet: central outage of ${o.outageSeconds} s (PgBouncer and VictoriaMetrics stopped)`);
    await Promise.all([bouncer.stop(), vm.stop()]);
    for (const end = Date.now() + o.outageSeconds * 1000; Date.now() < end; ) {
      await sample();
      await sleep(2000);
    }
    await Promise.all([bouncer.restart(), vm.restart()]);
    const back = Date.now();
    o.progress('fleet: central back; waiting for every agent to catch up');
    let catchup = Number.NaN;
    for (const deadline = back + 900_000; Date.now() < deadline; ) {
      await sample();
      const pending = await Promise.all(agents.map((a) => pendingOf(a.httpPort)));
      if (pending.every((p) => p <= POINTS_PER_DEVICE)) {
        catchup = (Date.now() - back) / 1000;
        break;
      }
      await sleep(1000);
    }
    o.progress(`fleet: caught up in ${catchup.toFixed(1)} s; stopping the agents (they drain on SIGTERM)`);
    for (const a of agents) a.child.kill('SIGTERM');
    await Promise.all(agents.map((a) => Promise.race([a.exited, sleep(60_000).then(() => a.child.kill('SIGKILL'))])));

    let total = 0;
    let waiting = 0;
    let deadLettered = 0;
    let dropped = 0;
    const perGateway = new Map<string, number>();
    for (const a of agents) {
      const c = bufferAccount(a.buffer);
      perGateway.set(a.id, c.committed - c.waiting - c.deadLettered - c.dropped);
      total += c.committed;
      waiting += c.waiting;
      deadLettered += c.deadLettered;
      dropped += c.dropped;
    }
    const stored = await q<{ g: string; n: number; keys: number }>(
      `SELECT gateway_id AS g, count(*)::int AS n, count(DISTINCT (device_id, point_id, ts))::int AS keys FROM ${table} GROUP BY 1`,
    );
    let pgLost = 0;
    let pgDup = 0;
    const lossy: string[] = [];
    for (const [g, n] of perGateway) {
      const row = stored.find((r) => r.g === g);
      const lost = Math.max(0, n - (row?.keys ?? 0));
      if (lost > 0) lossy.push(g);
      pgLost += lost;
      pgDup += (row?.n ?? 0) - (row?.keys ?? 0);
    }
    // VictoriaMetrics stores numbers only: compare it with the numeric points PostgreSQL holds, series by series.
    const numeric = await q<{ k: string; n: number }>(`SELECT gateway_id || '/' || device_id || '/' || point_id AS k, count(*)::int AS n FROM ${table} WHERE value IS NOT NULL GROUP BY 1`);
    const series = await vm.query(`{gateway=~"fleet-.+"}`);
    const inVm = new Map<string, { n: number; distinct: number }>();
    let vmSamples = 0;
    for (const s of series) {
      const key = `${s.metric.gateway}/${s.metric.device}/${s.metric.point}`;
      const seen = inVm.get(key) ?? { n: 0, distinct: 0 };
      seen.n += s.timestamps.length;
      seen.distinct += new Set(s.timestamps).size;
      inVm.set(key, seen);
      vmSamples += s.timestamps.length;
    }
    let vmLost = 0;
    let vmDup = 0;
    for (const { k, n } of numeric) vmLost += Math.max(0, n - (inVm.get(k)?.distinct ?? 0));
    for (const v of inVm.values()) vmDup += v.n - v.distinct;
    if (lossy.length > 0) o.progress(`fleet: points missing in PostgreSQL on ${lossy.length} gateways:\n${await describeLoss(q, schema, table, lossy.slice(0, 5), series, o.trace === true)}`);

    return {
      fleet_agents: o.agents,
      fleet_offered_points_per_s: o.agents * POINTS_PER_DEVICE,
      fleet_delivered_points_per_s: ((steady?.n ?? 0) * 1000) / (t1 - t0),
      fleet_pg_server_connections_max: pgConnections,
      fleet_pool_size: o.poolSize,
      fleet_lag_ms_p99: steady?.p99 ?? Number.NaN,
      fleet_rss_mb_sum: rssSum / 1024,
      fleet_rss_mb_per_agent: rssSum / 1024 / o.agents,
      fleet_outage_seconds: o.outageSeconds,
      fleet_catchup_seconds: catchup,
      fleet_points_committed: total,
      fleet_points_still_buffered: waiting,
      fleet_pg_dead_lettered: deadLettered,
      fleet_points_dropped: dropped,
      fleet_pg_lost: pgLost,
      fleet_pg_duplicated: pgDup,
      fleet_vm_lost: vmLost,
      fleet_vm_resent: vmDup,
      fleet_vm_samples: vmSamples,
    };
  } finally {
    for (const a of agents) if (a.child.exitCode === null) a.child.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all([bouncer.remove(), vm.remove(), broker.remove()]);
    await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => {});
    await pool.end();
  }
}

/** The most points any sink of the agent has waiting; Infinity while it does not answer. */
async function pendingOf(port: number): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(5000) });
    const s = (await res.json()) as { sinks?: Array<{ pending: number }> };
    return Math.max(0, ...(s.sinks ?? []).map((k) => k.pending));
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Once the agents have made the points table: a trigger copies every row offered to it (conflicting ones too) into `offered`. */
async function traceOffered(q: <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => Promise<R[]>, schema: string, table: string): Promise<void> {
  const s = quoteIdent(schema);
  for (const deadline = Date.now() + 300_000; ; ) {
    const [r] = await q<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`${s}.points`]).catch(() => [{ t: null }]);
    if (r?.t != null) break;
    if (Date.now() > deadline) throw new Error('the agents made no points table within 5 min');
    await sleep(50);
  }
  await q(`CREATE TABLE ${s}.offered (gateway_id text, device_id text, point_id text, ts timestamptz, value double precision, quality text, error text, at timestamptz DEFAULT clock_timestamp())`);
  await q(`CREATE FUNCTION ${s}.log_offered() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN
    INSERT INTO ${s}.offered (gateway_id, device_id, point_id, ts, value, quality, error) VALUES (NEW.gateway_id, NEW.device_id, NEW.point_id, NEW.ts, NEW.value, NEW.quality, NEW.error);
    RETURN NEW; END $f$`);
  await q(`CREATE TRIGGER log_offered BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${s}.log_offered()`);
}

/**
 * Where a gateway's points are missing: per point, the fewest and most rows PostgreSQL holds (a
 * poll reads every point, so they differ only where single points are missing); the times
 * VictoriaMetrics has for a point that PostgreSQL lacks; with the trace, keys offered more than
 * once with different readings (folded by ON CONFLICT DO NOTHING).
 */
async function describeLoss(
  q: <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => Promise<R[]>,
  schema: string,
  table: string,
  gateways: string[],
  series: ExportedSeries[],
  traced: boolean,
): Promise<string> {
  const lines: string[] = [];
  for (const g of gateways) {
    const counts = await q<{ point: string; n: number }>(`SELECT device_id || '/' || point_id AS point, count(*)::int AS n FROM ${table} WHERE gateway_id = $1 GROUP BY 1 ORDER BY 2`, [g]);
    const times = await q<{ point: string; ts: string }>(`SELECT device_id || '/' || point_id AS point, (extract(epoch FROM ts) * 1000)::bigint::text AS ts FROM ${table} WHERE gateway_id = $1`, [g]);
    const inPg = new Set(times.map((t) => `${t.point}@${t.ts}`));
    const vmOnly: string[] = [];
    for (const s of series) {
      if (s.metric.gateway !== g) continue;
      for (const t of s.timestamps) if (!inPg.has(`${s.metric.device}/${s.metric.point}@${t}`)) vmOnly.push(`${s.metric.point}@${new Date(t).toISOString()}`);
    }
    const fewest = counts[0];
    const most = counts[counts.length - 1];
    let line = `  ${g}: rows per point ${fewest?.n ?? 0} (${fewest?.point ?? '-'}) … ${most?.n ?? 0} (${most?.point ?? '-'}); in VictoriaMetrics only: ${vmOnly.length} ${vmOnly.slice(0, 3).join(', ')}`;
    if (traced) {
      const [t] = await q<{ offered: number; keys: number; folded: number }>(
        `SELECT count(*)::int AS offered, count(DISTINCT (device_id, point_id, ts))::int AS keys,
                (SELECT count(*)::int FROM (SELECT 1 FROM ${quoteIdent(schema)}.offered WHERE gateway_id = $1 GROUP BY device_id, point_id, ts HAVING count(DISTINCT (value, quality, error)) > 1) x) AS folded
           FROM ${quoteIdent(schema)}.offered WHERE gateway_id = $1`,
        [g],
      );
      line += `; offered ${t?.offered ?? 0} rows on ${t?.keys ?? 0} keys, ${t?.folded ?? 0} keys offered with different readings`;
      const folded = await q<{ point: string; ts: Date; value: number | null; quality: string; error: string | null; at: Date }>(
        `SELECT device_id || '/' || point_id AS point, ts, value, quality, error, at FROM ${quoteIdent(schema)}.offered o
          WHERE gateway_id = $1 AND (device_id, point_id, ts) IN (
            SELECT device_id, point_id, ts FROM ${quoteIdent(schema)}.offered WHERE gateway_id = $1 GROUP BY 1, 2, 3 HAVING count(DISTINCT (value, quality, error)) > 1 LIMIT 3)
          ORDER BY point, ts, at`,
        [g],
      );
      for (const f of folded) line += `\n    ${f.point} ts ${f.ts.toISOString()} value ${f.value} ${f.quality} ${f.error ?? ''} offered ${f.at.toISOString()}`;
    }
    lines.push(line);
  }
  return lines.join('\n');
}
