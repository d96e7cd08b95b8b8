/**
 * The store-and-forward outbox: every point is appended here first and leaves only once every
 * enabled sink has acknowledged it. One SQLite file in WAL mode, one cursor per sink.
 *
 * Invariant the arithmetic below relies on: `seq` is assigned here from a persisted counter and
 * rows only ever leave from the oldest end (acknowledged by all, or evicted by the bound), so the
 * rows present are exactly the contiguous range [firstSeq, lastSeq]. Counting rows, a sink's
 * backlog or what an eviction costs each sink is then O(1), which matters when the status API
 * asks every few seconds and the buffer holds millions of rows after a long outage.
 *
 * The bound: `maxRows` rows and `maxBytes` of database. The byte bound is enforced by SQLite
 * itself (`max_page_count`), so the file can never grow past it; eviction before each insert
 * (estimated from the bytes a row costs) keeps appends from running into that wall, and when they
 * still do, more is evicted and the append retried. A full disk below the bound (SQLITE_FULL) is
 * survived the same way: the append evicts per policy or drops, counts, and returns.
 */
import type Database from 'better-sqlite3';
import { AlertStateStore, type AlertStateRow } from './alert-state.js';
import { CommandStore } from './commands.js';
import type { CommandRecord } from './types.js';
import { DeadLetterStore, type DeadLetterQuery } from './dead-letters.js';
import { DropReporter, type DropReason } from './drops.js';
import { BufferError } from './errors.js';
import { HistoryStore } from './history.js';
import { HoldStore, type HoldRelease, type HoldTag } from './holds.js';
import { NonceStore } from './nonces.js';
import { checkIntegrity, isCorruption, moveAside, openFile } from './open.js';
import { ROW_COLUMNS, decodeRow, encodeRowAt, type PointRow } from './rows.js';
import { configure, limitPageCache, migrate } from './schema.js';
import { SeriesCache } from './series.js';
import { collectStats } from './stats.js';
import type { BufferedPoint, BufferLogger, BufferStats, DeadLetter, DeadLetterInput, Hold, Point, WhenFull } from './types.js';

export interface SqliteBufferOptions {
  /** File path, or ':memory:' for a throw-away buffer (`run --once`, tests). */
  path: string;
  /** Names of the enabled sinks. Rows are deleted once all of them have acknowledged. */
  sinks: readonly string[];
  /** 'normal' (default) may lose the last transactions on power loss, never corrupts; 'full' fsyncs each commit. */
  synchronous?: 'normal' | 'full';
  busyTimeoutMs?: number;
  /**
   * Most rows one ack deletes. Deleting is bounded so an ack never stalls appends for long, e.g.
   * when removing a lagging sink suddenly makes millions of rows deletable; the rest goes with
   * the following acks.
   */
  maxDeletePerAck?: number;
  /** Most rows kept. Default unbounded. */
  maxRows?: number;
  /** Most bytes of database (page_count × page_size). Default unbounded. */
  maxBytes?: number;
  /** Most rows of local history kept (history.ts). Default 1 000 000. */
  historyMaxRows?: number;
  /** At the bound: evict the oldest rows (default) or refuse the new ones. Both are counted. */
  whenFull?: WhenFull;
  /** Most dead letters kept; past it the oldest go, counted as drops. Default: a tenth of maxRows, at least 10 000. */
  maxDeadLetters?: number;
  /** Move a file that fails the integrity check aside and start a new one (the agent does), instead of throwing. */
  recoverCorrupt?: boolean;
  logger?: BufferLogger;
  /** Wall clock for dead-letter times and log rate limits. */
  now?: () => number;
  /** At most one dropped-points warning per this many ms. Default 60 s. */
  dropLogEveryMs?: number;
}

/** Process-lifetime counters, for the metrics endpoint. */
export interface BufferCounters {
  appended: number;
  /** Rows dropped (each once), and per sink the rows it lost. */
  dropped: number;
  droppedBySink: Record<string, number>;
  deadLetteredBySink: Record<string, number>;
  /** Appends that hit SQLITE_FULL below the bound. */
  diskFullEvents: number;
}

interface Statements {
  insertPoint: Database.Statement<unknown[]>;
  selectAfter: Database.Statement<[number, number, number], PointRow>;
  selectFirstSeq: Database.Statement<[], { seq: number }>;
  deleteUpTo: Database.Statement<[number]>;
  upsertCursor: Database.Statement<[string, number]>;
  saveLastSeq: Database.Statement<[number]>;
  addDropped: Database.Statement<[number]>;
  addSinkDropped: Database.Statement<[string, number, number]>;
  pageCount: Database.Statement<[], number>;
  freelistCount: Database.Statement<[], number>;
}

/** Thrown inside an append transaction to refuse the whole append (rejectNew at the bound). */
class Refused extends Error {}

const DEFAULT_ROW_BYTES = 128;

export class SqliteBuffer {
  /** Set when the file was corrupt at open and replaced: what the status API reports as an error. */
  readonly recovered: { movedTo: string; reason: string } | undefined;
  /** The alert engine's state and the ack queue (alert-state.ts); state changes go with `append`. */
  readonly alertState: AlertStateStore;
  /** The audit of writes to devices and the CLI's write queue (commands.ts); outcomes go with `append`. */
  readonly commands: CommandStore;
  /** The local history (history.ts): per-point min/avg/max buckets, apart from delivery. */
  readonly history: HistoryStore;
  /** Nonces of signed write commands seen (nonces.ts): a replay is refused after a restart too. */
  readonly nonces: NonceStore;
  private readonly db: Database.Database;
  private readonly sinks: ReadonlySet<string>;
  /** Acknowledged seq per enabled sink; the table `cursors` is the durable copy. */
  private readonly cursors = new Map<string, number>();
  private readonly series: SeriesCache;
  private readonly deadLetters: DeadLetterStore;
  private readonly holds: HoldStore;
  private readonly drops: DropReporter;
  private readonly st: Statements;
  /** transact()'s transaction, made once: db.transaction() builds its wrappers anew on every call. */
  private readonly tx: Database.Transaction<(fn: () => void) => void>;
  private readonly opts: Required<Pick<SqliteBufferOptions, 'maxDeletePerAck' | 'maxRows' | 'maxBytes' | 'whenFull'>>;
  private readonly log: BufferLogger;
  private readonly now: () => number;
  private readonly pageSize: number;
  private readonly maxPages: number;
  private readonly deadLetteredBySink = new Map<string, number>();
  private appended = 0;
  private diskFullEvents = 0;
  private diskFull = false;
  private lastSeq: number;
  private closed = false;

  constructor(opts: SqliteBufferOptions) {
    const names = [...new Set(opts.sinks)];
    for (const n of names) {
      if (typeof n !== 'string' || n === '') throw new BufferError('EDGE_BUFFER_INVALID_ARGUMENT', 'sink names must be non-empty strings');
    }
    this.sinks = new Set(names);
    this.opts = {
      maxDeletePerAck: opts.maxDeletePerAck ?? 50_000,
      maxRows: opts.maxRows ?? Infinity,
      maxBytes: opts.maxBytes ?? Infinity,
      whenFull: opts.whenFull ?? 'dropOldest',
    };
    if (!(this.opts.maxRows >= 1) || !(this.opts.maxBytes >= 65_536)) {
      throw new BufferError('EDGE_BUFFER_INVALID_ARGUMENT', 'maxRows must be at least 1 and maxBytes at least 64 KiB');
    }
    this.log = opts.logger ?? { info() {}, warn() {}, error() {} };
    this.now = opts.now ?? Date.now;
    this.drops = new DropReporter(this.log, this.now, opts.dropLogEveryMs ?? 60_000);

    let db = openFile(opts.path);
    try {
      this.prepareFile(db, opts);
    } catch (err) {
      db.close();
      if (!(opts.recoverCorrupt === true && isCorruption(err) && opts.path !== ':memory:')) {
        if (err instanceof BufferError) throw err;
        const code = isCorruption(err) ? 'EDGE_BUFFER_CORRUPT' : 'EDGE_BUFFER_OPEN_FAILED';
        throw new BufferError(code, `cannot open buffer ${opts.path}: ${(err as Error).message}`, err);
      }
      const movedTo = moveAside(opts.path, this.now());
      this.recovered = { movedTo, reason: (err as Error).message };
      this.log.error(
        { code: 'EDGE_BUFFER_CORRUPT', path: opts.path, movedTo, err: (err as Error).message },
        'buffer file is corrupt: moved aside for inspection and a new one started; the points in it are not delivered',
      );
      db = openFile(opts.path);
      try {
        this.prepareFile(db, opts);
      } catch (again) {
        db.close();
        throw new BufferError('EDGE_BUFFER_OPEN_FAILED', `cannot open buffer ${opts.path}: ${(again as Error).message}`, again);
      }
    }
    this.db = db;
    this.tx = db.transaction((fn: () => void) => {
      this.saveUnsavedDrops();
      fn();
    });
    try {
      this.pageSize = db.pragma('page_size', { simple: true }) as number;
      this.maxPages = Number.isFinite(this.opts.maxBytes) ? Math.floor(this.opts.maxBytes / this.pageSize) : Infinity;
      // SQLite refuses to grow the database past this: the byte bound holds by construction.
      if (Number.isFinite(this.maxPages) && !db.memory) db.pragma(`max_page_count = ${this.maxPages}`);
      this.series = new SeriesCache(db);
      this.deadLetters = new DeadLetterStore(db, this.series, opts.maxDeadLetters ?? Math.max(10_000, Math.floor(this.opts.maxRows / 10)));
      this.holds = new HoldStore(db);
      this.alertState = new AlertStateStore(db);
      this.commands = new CommandStore(db);
      this.history = new HistoryStore(db, opts.historyMaxRows ?? 1_000_000);
      this.nonces = new NonceStore(db);
      this.st = {
        insertPoint: db.prepare(`INSERT INTO points (seq, ${ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
        // Raw (array) rows: no keyed object per row, which doubles read speed.
        selectAfter: db.prepare<[number, number, number], PointRow>(`SELECT seq, ${ROW_COLUMNS} FROM points WHERE seq > ? AND seq < ? ORDER BY seq LIMIT ?`).raw(true),
        selectFirstSeq: db.prepare('SELECT seq FROM points ORDER BY seq LIMIT 1'),
        deleteUpTo: db.prepare('DELETE FROM points WHERE seq <= ?'),
        upsertCursor: db.prepare('INSERT INTO cursors (sink, seq) VALUES (?, ?) ON CONFLICT (sink) DO UPDATE SET seq = excluded.seq'),
        saveLastSeq: db.prepare("UPDATE meta SET value = ? WHERE key = 'last_seq'"),
        addDropped: db.prepare("UPDATE meta SET value = value + ? WHERE key = 'dropped'"),
        addSinkDropped: db.prepare('INSERT INTO sink_counters (sink, dropped) VALUES (?, ?) ON CONFLICT (sink) DO UPDATE SET dropped = dropped + ?'),
        // Asked on every append (the byte bound): prepared once, as db.pragma() compiles each call.
        pageCount: db.prepare<[], number>('PRAGMA page_count').pluck(),
        freelistCount: db.prepare<[], number>('PRAGMA freelist_count').pluck(),
      };
      // The counter never goes back, even if every row was deleted: a cursor must never point
      // past rows that are still to come.
      const stored = db.prepare("SELECT value FROM meta WHERE key = 'last_seq'").pluck().get() as number;
      const maxRow = (db.prepare('SELECT max(seq) FROM points').pluck().get() as number | null) ?? 0;
      this.lastSeq = Math.max(stored, maxRow);
      this.loadCursors();
      this.enforceBoundAtOpen();
    } catch (err) {
      db.close();
      if (err instanceof BufferError) throw err;
      throw new BufferError('EDGE_BUFFER_OPEN_FAILED', `cannot open buffer ${opts.path}: ${(err as Error).message}`, err);
    }
  }

  /**
   * Appends all points in one transaction (making room first, per `whenFull`). Returns the seq of
   * the last stored row. Never throws because the bound is reached or the disk is full: those
   * points are dropped, counted per sink and logged (rate-limited), and polling goes on.
   * With `hold`, the rows are not delivered until `releaseHold` (an untrusted clock).
   * With `alertState`, those rows are written in the same transaction (alert events and the state
   * they lead to); when the points themselves are dropped, the state is still written.
   */
  append(points: readonly Point[], opts: { hold?: HoldTag; alertState?: readonly AlertStateRow[]; commands?: readonly CommandRecord[] } = {}): number {
    this.assertOpen();
    if (points.length === 0) {
      if (opts.alertState !== undefined) this.transact(() => this.alertState.write(opts.alertState ?? [], this.now()));
      if (opts.commands !== undefined) this.transact(() => this.commands.write(opts.commands ?? []));
      return this.lastSeq;
    }
    const state = opts.alertState;
    const dropped = (reason: DropReason, rows: number): number => {
      this.dropped(reason, rows);
      try {
        if (state !== undefined) this.transact(() => this.alertState.write(state, this.now()));
        if (opts.commands !== undefined) this.transact(() => this.commands.write(opts.commands ?? []));
      } catch (err) {
        this.log.error({ code: 'EDGE_BUFFER_WRITE_FAILED', err: (err as Error).message }, 'alert state could not be saved; the running agent keeps it until the next change');
      }
      return this.lastSeq;
    };
    let extra = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        let stored = 0;
        this.transact(() => {
          stored = this.appendNow(points, opts.hold, extra);
          if (state !== undefined) this.alertState.write(state, this.now());
          if (opts.commands !== undefined) this.commands.write(opts.commands);
        });
        this.appended += stored;
        if (this.diskFull) {
          this.diskFull = false;
          this.log.info({}, 'buffer writes again after a full disk');
        }
        return this.lastSeq;
      } catch (err) {
        if (err instanceof Refused) return dropped('rejected', points.length);
        const code = (err as { code?: string }).code ?? '';
        if (code === 'SQLITE_FULL') {
          const atBound = this.pageCount() >= this.maxPages - 1;
          if (!atBound && !this.diskFull) {
            this.diskFull = true;
            this.diskFullEvents += 1;
            this.log.error({ code: 'EDGE_BUFFER_DISK_FULL', rows: this.rowCount() }, `disk full below the buffer bound: ${this.opts.whenFull === 'dropOldest' ? 'evicting oldest points' : 'refusing new points'}`);
          }
          if (this.opts.whenFull === 'dropOldest' && attempt < 6 && this.rowCount() > 0) {
            // More room than the estimate gave: the next try evicts more (doubling).
            extra = Math.max(points.length, 64, extra * 2);
            if (!atBound) this.makeRoomOnFullDisk(extra);
            continue;
          }
          return dropped(atBound ? 'rejected' : 'disk-full', points.length);
        }
        if (code.startsWith('SQLITE_IOERR')) {
          this.log.error({ code: 'EDGE_BUFFER_WRITE_FAILED', sqlite: code, err: (err as Error).message }, 'buffer write failed');
          return dropped('write-failed', points.length);
        }
        throw err;
      }
    }
  }

  /**
   * Up to `limit` points for the sink, oldest first: dead letters an operator moved back come
   * first (alone in their batch), then rows after the sink's cursor, stopping before held rows.
   * Tags objects are shared and frozen.
   */
  read(sink: string, limit: number): BufferedPoint[] {
    this.assertOpen();
    const cursor = this.cursorOf(sink);
    if (!Number.isInteger(limit) || limit <= 0) throw new BufferError('EDGE_BUFFER_INVALID_ARGUMENT', `read limit must be a positive integer, got ${limit}`);
    const replay = this.deadLetters.readReplay(sink, limit);
    if (replay.length > 0) return replay;
    const rows = this.st.selectAfter.all(cursor, Math.min(this.holds.heldFrom, Number.MAX_SAFE_INTEGER), limit);
    const out = new Array<BufferedPoint>(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = decodeRow(this.series, rows[i] as PointRow);
    return out;
  }

  /**
   * The sink has everything up to and including `uptoSeq`. The cursor only moves forward (a late
   * or repeated ack is harmless) and never past the last appended row or into held rows. In the
   * same transaction, rows every enabled sink has are deleted.
   */
  ack(sink: string, uptoSeq: number): void {
    this.assertOpen();
    if (!Number.isFinite(uptoSeq)) throw new BufferError('EDGE_BUFFER_INVALID_ARGUMENT', `ack seq must be a number, got ${uptoSeq}`);
    this.settleUpTo(sink, Math.floor(uptoSeq), () => {});
  }

  /**
   * What a forwarder reports after a write: `delivered` points the sink has, `dead` ones it
   * rejected as invalid (stored as dead letters with the reason). Together they must be a prefix
   * of what `read` returned, in order. One transaction: a crash cannot both lose a dead letter
   * and move past it.
   */
  settle(sink: string, delivered: readonly BufferedPoint[], dead: readonly DeadLetterInput[] = []): void {
    this.assertOpen();
    let upto = -Infinity;
    for (const p of delivered) if (p.replayId === undefined) upto = Math.max(upto, p.seq);
    for (const d of dead) if (d.point.replayId === undefined) upto = Math.max(upto, d.point.seq);
    const at = this.now();
    this.settleUpTo(sink, upto, () => {
      for (const d of dead) this.deadLetters.add(sink, d, at);
      this.deadLetters.delivered(delivered);
      if (dead.length === 0) return;
      const trimmed = this.deadLetters.trim();
      let rows = 0;
      for (const n of trimmed.values()) rows += n;
      if (rows > 0) this.recordDrop('dead-letters-full', rows, trimmed);
    });
    let fresh = 0;
    for (const d of dead) if (d.point.replayId === undefined) fresh++;
    if (fresh > 0) this.deadLetteredBySink.set(sink, (this.deadLetteredBySink.get(sink) ?? 0) + fresh);
  }

  /** Rows the sink has not acknowledged yet. */
  pending(sink: string): number {
    this.assertOpen();
    return this.pendingAfter(this.cursorOf(sink), this.firstSeq());
  }

  stats(): BufferStats {
    this.assertOpen();
    return collectStats(this.db, this.sinks);
  }

  counters(): BufferCounters {
    return {
      appended: this.appended,
      dropped: this.drops.total,
      droppedBySink: Object.fromEntries(this.drops.bySink),
      deadLetteredBySink: Object.fromEntries(this.deadLetteredBySink),
      diskFullEvents: this.diskFullEvents,
    };
  }

  /** The configured bound, for stats displays. */
  get bound(): { maxRows: number; maxBytes: number; whenFull: WhenFull } {
    return { maxRows: this.opts.maxRows, maxBytes: this.opts.maxBytes, whenFull: this.opts.whenFull };
  }

  deadLetterList(q: DeadLetterQuery = {}): DeadLetter[] {
    this.assertOpen();
    return this.deadLetters.list(q);
  }

  /** Moves dead letters back for delivery to their own sink. Returns how many per sink. */
  replayDeadLetters(q: DeadLetterQuery = {}): Record<string, number> {
    this.assertOpen();
    return this.db.transaction(() => this.deadLetters.replay(q)).immediate();
  }

  holdList(): Hold[] {
    this.assertOpen();
    return this.holds.list();
  }

  /** Re-stamps (shifts timestamps, and the marked times of alert records) or flags the rows of a hold, and lets them be delivered. */
  releaseHold(hold: Hold, how: HoldRelease): number {
    this.assertOpen();
    try {
      return this.db.transaction(() => this.holds.release(hold, how)).immediate();
    } finally {
      this.holds.refresh();
    }
  }

  /** Idempotent. Closing the last connection checkpoints the WAL into the main file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.drops.flush();
    this.db.close();
  }

  private prepareFile(db: Database.Database, opts: SqliteBufferOptions): void {
    limitPageCache(db);
    checkIntegrity(db);
    configure(db, { synchronous: opts.synchronous ?? 'normal', busyTimeoutMs: opts.busyTimeoutMs ?? 5000 });
    migrate(db);
  }

  /** Drops recorded in the running transaction (written with it, reported after it commits). */
  private pendingDrops: Drops = noDrops();
  /** Drops that could not be written (full disk): saved with the next transaction that commits. */
  private unsavedDrops: Drops = noDrops();

  /** Runs `fn` in an immediate transaction; on failure restores what it changed in memory. */
  private transact(fn: () => void): void {
    const cursors = new Map(this.cursors);
    const lastSeq = this.lastSeq;
    const unsaved = this.unsavedDrops;
    this.pendingDrops = noDrops();
    try {
      this.tx.immediate(fn);
    } catch (err) {
      // The transaction rolled back, including any series rows and cursor moves it made.
      this.series.forget();
      for (const [k, v] of cursors) this.cursors.set(k, v);
      this.lastSeq = lastSeq;
      this.unsavedDrops = unsaved;
      this.pendingDrops = noDrops();
      this.holds.refresh();
      throw err;
    }
    const committed = this.pendingDrops;
    this.pendingDrops = noDrops();
    this.holds.refresh();
    if (committed.total > 0) this.drops.note(committed.reason ?? 'bound', committed.total, committed.bySink);
  }

  /** Inside the append transaction: makes room per policy, inserts, returns how many rows it stored. */
  private appendNow(points: readonly Point[], hold: HoldTag | undefined, extraEvict: number): number {
    let batch = points;
    const rows = this.rowCount();
    const perRow = this.rowBytes(rows);
    const used = this.usedBytes();
    const spareBytes = this.opts.maxBytes - used - 2 * this.pageSize;
    if (this.opts.whenFull === 'rejectNew') {
      const fit = Math.max(0, Math.min(this.opts.maxRows - rows, Math.floor(spareBytes / perRow), batch.length));
      if (fit === 0) throw new Refused();
      if (fit < batch.length) {
        this.recordDrop('rejected', batch.length - fit, this.sinks);
        batch = batch.slice(0, fit);
      }
    } else {
      if (batch.length > this.opts.maxRows) {
        // More than the whole bound in one append: the newest of it is what we keep.
        this.recordDrop('bound', batch.length - this.opts.maxRows, this.sinks);
        batch = batch.slice(batch.length - this.opts.maxRows);
      }
      const overRows = rows + batch.length - this.opts.maxRows;
      const overBytes = Number.isFinite(spareBytes) ? Math.ceil((batch.length * perRow - spareBytes) / perRow) : 0;
      const evict = Math.max(overRows, overBytes, 0) + extraEvict;
      if (evict > 0) this.evictOldest(evict, 'bound');
    }
    const first = this.lastSeq + 1;
    this.lastSeq = this.insertAll(batch);
    if (hold !== undefined) this.holds.add(first, this.lastSeq, hold);
    return batch.length;
  }

  private insertAll(points: readonly Point[]): number {
    let seq = this.lastSeq;
    for (const p of points) {
      seq++;
      this.st.insertPoint.run(encodeRowAt(this.series, p, seq));
    }
    return seq;
  }

  /**
   * Inside a transaction: deletes the `count` oldest rows. Each sink loses the rows it had not
   * acknowledged; its cursor moves past them. Held ranges shrink with them.
   */
  private evictOldest(count: number, reason: DropReason): number {
    const first = this.firstSeq();
    if (first === undefined || count <= 0) return 0;
    const upto = Math.min(this.lastSeq, first + Math.ceil(count) - 1);
    const bySink = new Map<string, number>();
    for (const [sink, cursor] of this.cursors) {
      const lost = Math.max(0, upto - Math.max(cursor, first - 1));
      if (lost === 0) continue;
      bySink.set(sink, lost);
      this.cursors.set(sink, upto);
      this.st.upsertCursor.run(sink, upto);
    }
    this.deleteUpTo(upto);
    this.holds.trimBelow(upto + 1);
    this.recordDrop(reason, upto - first + 1, bySink);
    return upto - first + 1;
  }

  /** Inside a transaction: counts dropped rows (file totals now, the warning after commit). */
  private recordDrop(reason: DropReason, rows: number, bySink: ReadonlyMap<string, number> | ReadonlySet<string>): void {
    const map = bySink instanceof Map ? bySink : new Map([...(bySink as ReadonlySet<string>)].map((s) => [s, rows] as const));
    this.st.addDropped.run(rows);
    for (const [sink, n] of map) this.st.addSinkDropped.run(sink, n, n);
    this.pendingDrops = mergeDrops(this.pendingDrops, { total: rows, bySink: map, reason });
  }

  /** Counts points dropped outside any transaction (refused, or the disk is full), writing the totals when it can. */
  private dropped(reason: DropReason, rows: number): void {
    const bySink = new Map([...this.sinks].map((s) => [s, rows] as const));
    this.drops.note(reason, rows, bySink);
    this.unsavedDrops = mergeDrops(this.unsavedDrops, { total: rows, bySink, reason });
    if (reason === 'disk-full' || reason === 'write-failed') return; // the next append that commits writes them
    try {
      this.transact(() => {});
    } catch {
      // Still unsaved: the next transaction that commits writes them.
    }
  }

  /** Inside a transaction: writes the drop totals no earlier transaction could. */
  private saveUnsavedDrops(): void {
    const u = this.unsavedDrops;
    if (u.total === 0) return;
    this.st.addDropped.run(u.total);
    for (const [sink, n] of u.bySink) this.st.addSinkDropped.run(sink, n, n);
    this.unsavedDrops = noDrops(); // transact() puts them back if this transaction rolls back
  }

  /**
   * The disk is full below our bound: free pages inside the file (which the next insert reuses
   * without growing it) by evicting the oldest rows, and checkpoint so the WAL starts over at
   * its beginning instead of growing.
   */
  private makeRoomOnFullDisk(rows: number): void {
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
      this.transact(() => this.evictOldest(rows, 'disk-full'));
      this.db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // Even the delete could not be written: the append retry will drop the points.
    }
  }

  /** Over the bound at open (the bound was lowered): evict down to it, in bounded steps. */
  private enforceBoundAtOpen(): void {
    const target = Math.floor(this.opts.maxBytes * 0.9);
    for (let i = 0; i < 10_000; i++) {
      const rows = this.rowCount();
      const overRows = rows - this.opts.maxRows;
      const overBytes = Number.isFinite(this.opts.maxBytes) ? Math.ceil((this.usedBytes() - target) / this.rowBytes(rows)) : 0;
      const evict = Math.min(Math.max(overRows, overBytes, 0), this.opts.maxDeletePerAck);
      if (evict <= 0 || rows === 0) break;
      this.transact(() => this.evictOldest(evict, 'bound'));
    }
  }

  /** Bytes one more row costs, estimated from what the rows present occupy (an over-estimate is safe). */
  private rowBytes(rows: number): number {
    if (rows < 256) return DEFAULT_ROW_BYTES;
    return Math.min(4096, Math.max(32, this.usedBytes() / rows));
  }

  private usedBytes(): number {
    const pages = this.pageCount() - (this.st.freelistCount.get() as number);
    return pages * this.pageSize;
  }

  private pageCount(): number {
    return this.st.pageCount.get() as number;
  }

  private rowCount(): number {
    const first = this.firstSeq();
    return first === undefined ? 0 : this.lastSeq - first + 1;
  }

  private settleUpTo(sink: string, uptoSeq: number, inside: () => void): void {
    const cursor = this.cursorOf(sink);
    const next = Math.min(Math.max(cursor, uptoSeq), this.lastSeq, this.holds.heldFrom - 1);
    this.transact(() => {
      inside();
      if (next <= cursor) return;
      // Set first: the delete below computes the minimum over the new cursors.
      this.cursors.set(sink, next);
      this.st.upsertCursor.run(sink, next);
      this.deleteAcknowledged();
    });
  }

  /** Deletes, oldest first and at most maxDeletePerAck, the rows every enabled sink has. */
  private deleteAcknowledged(): void {
    if (this.cursors.size === 0) return; // no sink yet: keep everything until one is configured
    const first = this.firstSeq();
    if (first === undefined) return;
    let min = Infinity;
    for (const c of this.cursors.values()) min = Math.min(min, c);
    const upto = Math.min(min, first + this.opts.maxDeletePerAck - 1);
    if (upto >= first) this.deleteUpTo(upto);
  }

  /**
   * Deletes the rows up to `upto` and, in the same transaction, saves the seq counter. An append
   * does not save it: the newest row carries it (open takes the larger of the two), so an append
   * writes the leaf page of `points` and nothing else — one WAL page less per commit, which is
   * most of the SD-card writes at a poll a second. Only a delete can take the newest row away.
   */
  private deleteUpTo(upto: number): void {
    this.st.deleteUpTo.run(upto);
    this.st.saveLastSeq.run(this.lastSeq);
  }

  private loadCursors(): void {
    const stored = new Map(
      (this.db.prepare('SELECT sink, seq FROM cursors').all() as Array<{ sink: string; seq: number }>).map((r) => [r.sink, r.seq]),
    );
    // A sink seen for the first time gets what is still buffered: its cursor sits just before the oldest row.
    const start = (this.firstSeq() ?? this.lastSeq + 1) - 1;
    this.db.transaction(() => {
      for (const name of this.sinks) {
        const seq = stored.get(name);
        if (seq === undefined) this.st.upsertCursor.run(name, start);
        this.cursors.set(name, Math.min(seq ?? start, this.lastSeq));
      }
      // A sink removed from the set no longer holds rows back: its cursor row stays (it may come
      // back), but it is not in `this.cursors`, so deletion goes on without it.
      this.deleteAcknowledged();
    }).immediate();
  }

  private cursorOf(sink: string): number {
    const c = this.cursors.get(sink);
    if (c === undefined) throw new BufferError('EDGE_BUFFER_UNKNOWN_SINK', `sink '${sink}' is not enabled in this buffer`);
    return c;
  }

  private firstSeq(): number | undefined {
    return this.st.selectFirstSeq.get()?.seq;
  }

  private pendingAfter(cursor: number, first: number | undefined): number {
    if (first === undefined) return 0;
    return Math.max(0, this.lastSeq - Math.max(cursor, first - 1));
  }

  private assertOpen(): void {
    if (this.closed) throw new BufferError('EDGE_BUFFER_CLOSED', 'buffer is closed');
  }
}

interface Drops {
  total: number;
  bySink: Map<string, number>;
  reason: DropReason | undefined;
}

function noDrops(): Drops {
  return { total: 0, bySink: new Map(), reason: undefined };
}

function mergeDrops(a: Drops, b: { total: number; bySink: ReadonlyMap<string, number>; reason: DropReason | undefined }): Drops {
  const bySink = new Map(a.bySink);
  for (const [k, v] of b.bySink) bySink.set(k, (bySink.get(k) ?? 0) + v);
  return { total: a.total + b.total, bySink, reason: a.reason ?? b.reason };
}
