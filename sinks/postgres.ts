/**
 * PostgreSQL sink: points into `<schema>.points` (natural key, ON CONFLICT DO NOTHING, so a
 * re-sent batch adds nothing), and the gateway's device catalog into the catalog tables.
 *
 * The database may be down when the agent starts, so nothing connects in start(): the tables are
 * created lazily before the first write or catalog sync, and again whenever that failed.
 *
 * Pooler-safe (postgres-tx.ts): unnamed statements only, one transaction per write with its
 * timeout set by `SET LOCAL`, no startup parameter a pooler could refuse.
 */
import pg from 'pg';
import type { BufferedPoint, Point } from '../buffer/types.js';
import { classifyPgError, needsSchema } from './postgres-errors.js';
import { alertRowsJson, upsertAlerts } from './postgres-alerts.js';
import { commandRowsJson, insertCommands } from './postgres-commands.js';
import { pointColumns } from './postgres-rows.js';
import { MAX_IDENT_BYTES, TABLES, catalogSql, ddl, insertPoints, quoteIdent } from './postgres-sql.js';
import { syncCatalog } from './postgres-catalog.js';
import { inTransaction } from './postgres-tx.js';
import { SinkError, silentLogger, type Sink, type SinkCatalog, type SinkLogger } from './types.js';

export interface PostgresSinkOptions {
  /** postgres://user:password@host:port/database (libpq-style parameters such as sslmode work). */
  url: string;
  /** Schema holding our tables; created if missing. */
  schema: string;
  /** Written as gateway_id on every row, and the catalog's scope: other gateways' rows are never touched. */
  gatewayId: string;
  /** Sink name, also the buffer cursor name. Default 'postgres'. */
  name?: string;
  /** Connections; two suffice (one writer, one catalog sync). Default 2. */
  poolMax?: number;
  connectTimeoutMs?: number;
  /** statement_timeout of every transaction (`SET LOCAL`); the client gives up a little later. Default 30 s. */
  queryTimeoutMs?: number;
  logger?: SinkLogger;
}

export interface PostgresSinkStats {
  /** Rows sent in successful writes (duplicates the server skipped included). */
  sent: number;
  /** Rows actually inserted: `sent - inserted` were already there (re-sent after a lost ack). */
  inserted: number;
  requests: number;
}

export class PostgresSink implements Sink {
  readonly name: string;
  readonly stats: PostgresSinkStats = { sent: 0, inserted: 0, requests: 0 };
  private readonly opts: PostgresSinkOptions;
  private readonly log: SinkLogger;
  private readonly schema: string;
  private readonly insertSql: string;
  private readonly alertsSql: string;
  private readonly commandsSql: string;
  private readonly statementTimeoutMs: number;
  private pool: pg.Pool | undefined;
  /** The DDL in flight or done; reset on failure so the next call tries again. */
  private ready: Promise<void> | undefined;

  constructor(opts: PostgresSinkOptions) {
    if (opts.schema === '' || Buffer.byteLength(opts.schema) > MAX_IDENT_BYTES) {
      throw new SinkError(`postgres schema must be 1..${MAX_IDENT_BYTES} bytes: '${opts.schema}'`, { kind: 'config', code: 'EDGE_SINK_CONFIG' });
    }
    if (opts.gatewayId === '') throw new SinkError('postgres sink needs a gateway id', { kind: 'config', code: 'EDGE_SINK_CONFIG' });
    this.opts = opts;
    this.name = opts.name ?? 'postgres';
    this.log = opts.logger ?? silentLogger;
    this.schema = quoteIdent(opts.schema);
    this.insertSql = insertPoints(this.schema);
    this.alertsSql = upsertAlerts(this.schema);
    this.commandsSql = insertCommands(this.schema);
    this.statementTimeoutMs = opts.queryTimeoutMs ?? 30_000;
  }

  /** Creates the pool; connects nothing. */
  async start(): Promise<void> {
    if (this.pool !== undefined) return;
    const pool = new pg.Pool({
      connectionString: this.opts.url,
      max: this.opts.poolMax ?? 2,
      connectionTimeoutMillis: this.opts.connectTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      // No `statement_timeout` here: node-postgres would send it as a startup parameter, which
      // PgBouncer refuses ("unsupported startup parameter"). Each transaction sets it instead.
      // Client-side backstop for a server that stops answering without closing the socket.
      query_timeout: this.statementTimeoutMs + 5_000,
      keepAlive: true,
      application_name: 'edge-agent',
    });
    // An idle client losing its connection (server restart, NAT timeout) is emitted here; without
    // a listener it would be an uncaught 'error' event and kill the agent. The pool drops that
    // client by itself; the next query opens a new one.
    pool.on('error', (err) => this.log.warn({ err: err.message }, 'idle postgres connection lost'));
    this.pool = pool;
  }

  async stop(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    this.ready = undefined;
    if (pool !== undefined) await pool.end();
  }

  /**
   * One INSERT … SELECT FROM unnest(…) per batch, whatever the batch size. Alert events in the
   * batch go to the alerts table (postgres-alerts.ts) in a second statement of the same
   * transaction, so a batch is accepted whole or not at all.
   */
  async write(batch: readonly (Point | BufferedPoint)[]): Promise<void> {
    if (batch.length === 0) return;
    const pool = this.started();
    const alerts = batch.filter((p) => p.alert !== undefined);
    const commands = batch.filter((p) => p.command !== undefined);
    const points = alerts.length === 0 && commands.length === 0 ? batch : batch.filter((p) => p.alert === undefined && p.command === undefined);
    const params = points.length === 0 ? undefined : [this.opts.gatewayId, ...pointColumns(points)];
    await this.ensureSchema(pool);
    try {
      // Unnamed statements: a named one lives on one server connection, and under transaction
      // pooling the next transaction may land on another (42P05 / 26000).
      const res = await inTransaction(pool, this.statementTimeoutMs, async (client) => {
        const inserted = params === undefined ? undefined : await client.query(this.insertSql, params);
        if (alerts.length > 0) await client.query(this.alertsSql, [this.opts.gatewayId, alertRowsJson(alerts)]);
        if (commands.length > 0) await client.query(this.commandsSql, [this.opts.gatewayId, commandRowsJson(commands)]);
        return inserted;
      });
      this.stats.sent += batch.length;
      this.stats.inserted += res?.rowCount ?? 0;
      this.stats.requests += 1;
    } catch (err) {
      if (needsSchema(err)) this.ready = undefined;
      throw classifyPgError(err, 'postgres write failed');
    }
  }

  /** Mirrors the gateway's devices and points (with their tags) in one transaction. */
  async syncCatalog(catalog: SinkCatalog): Promise<void> {
    const pool = this.started();
    if (catalog.gateway.id !== this.opts.gatewayId) {
      // Points are written under the sink's gateway id; the catalog must describe the same gateway.
      this.log.warn({ catalogGateway: catalog.gateway.id, gatewayId: this.opts.gatewayId }, 'catalog gateway id differs from the sink gateway id; using the sink one');
    }
    await this.ensureSchema(pool);
    try {
      const sql = catalogSql(this.schema);
      await inTransaction(pool, this.statementTimeoutMs, (client) => syncCatalog(client, sql, { ...catalog, gateway: { ...catalog.gateway, id: this.opts.gatewayId } }));
    } catch (err) {
      if (needsSchema(err)) this.ready = undefined;
      throw classifyPgError(err, 'postgres catalog sync failed');
    }
  }

  private started(): pg.Pool {
    if (this.pool === undefined) throw new SinkError('postgres sink is not started', { kind: 'config', code: 'EDGE_SINK_NOT_STARTED' });
    return this.pool;
  }

  private ensureSchema(pool: pg.Pool): Promise<void> {
    this.ready ??= this.createSchema(pool).catch((err: unknown) => {
      this.ready = undefined;
      throw classifyPgError(err, 'postgres schema setup failed');
    });
    return this.ready;
  }

  private async createSchema(pool: pg.Pool): Promise<void> {
    const names = TABLES.map((t) => `${this.schema}.${t}`);
    const created = await inTransaction(pool, this.statementTimeoutMs, async (client) => {
      // Tables already there (e.g. made by a DBA for a user without CREATE rights): nothing to do.
      const count = async () => (await client.query<{ n: number }>('SELECT count(to_regclass(t))::int AS n FROM unnest($1::text[]) AS t', [names])).rows[0]?.n;
      if ((await count()) === TABLES.length) return false;
      // A transaction-scoped lock: released by COMMIT on whichever server connection the pooler gave us.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`edge-agent ddl ${this.opts.schema}`]);
      await client.query(ddl(this.schema));
      return true;
    });
    if (created) this.log.info({ schema: this.opts.schema }, 'postgres tables ready');
  }
}
