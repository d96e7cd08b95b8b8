/**
 * The buffer file's layout, versioned through `PRAGMA user_version`. Each migration takes the
 * file from version i to i+1 inside one transaction, so a crash mid-migration leaves the old
 * version intact.
 */
import type Database from 'better-sqlite3';
import { BufferError } from './errors.js';

const MIGRATIONS: readonly string[] = [
  // v1
  `
  CREATE TABLE series (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,   -- JSON of the full identity below; the dedup key
    device_id   TEXT NOT NULL,
    point_id    TEXT NOT NULL,
    measurement TEXT NOT NULL,
    unit        TEXT,
    tags        TEXT NOT NULL           -- JSON object, keys sorted
  );
  -- seq is assigned by the buffer (never reused, see meta.last_seq), so rows present always form
  -- one contiguous range: rows only ever leave from the oldest end. Counts are then arithmetic.
  CREATE TABLE points (
    seq        INTEGER PRIMARY KEY,
    series_id  INTEGER NOT NULL,
    ts         INTEGER NOT NULL,        -- epoch ms UTC
    vtype      INTEGER NOT NULL,        -- codec.ts VTYPE
    value      REAL,                    -- numbers; booleans as 0/1
    value_text TEXT,                    -- strings
    rtype      INTEGER NOT NULL,        -- codec.ts RTYPE
    raw        REAL,                    -- raw numbers; booleans as 0/1
    raw_text   TEXT,                    -- raw strings
    quality    INTEGER NOT NULL,        -- 0 good, 1 bad, 2 uncertain
    error      TEXT
  );
  CREATE TABLE cursors (
    sink TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL               -- last seq this sink has acknowledged
  ) WITHOUT ROWID;
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO meta (key, value) VALUES ('last_seq', 0);
  `,
  // v2: dead letters, drop counters, clock holds
  `
  -- Points a sink rejected as invalid, per sink: a copy of the row (the series stays interned),
  -- the sink's error, and whether an operator moved it back for delivery (replay = 1).
  CREATE TABLE dead_letters (
    id         INTEGER PRIMARY KEY,
    sink       TEXT NOT NULL,
    seq        INTEGER NOT NULL,        -- the row's seq in points when it was rejected
    series_id  INTEGER NOT NULL,
    ts         INTEGER NOT NULL,
    vtype      INTEGER NOT NULL,
    value      REAL,
    value_text TEXT,
    rtype      INTEGER NOT NULL,
    raw        REAL,
    raw_text   TEXT,
    quality    INTEGER NOT NULL,
    error      TEXT,
    code       TEXT NOT NULL,           -- the sink's error code, e.g. EDGE_SINK_INVALID
    message    TEXT NOT NULL,
    at         INTEGER NOT NULL,        -- epoch ms when (last) rejected
    attempts   INTEGER NOT NULL DEFAULT 1,
    replay     INTEGER NOT NULL DEFAULT 0
  );
  CREATE UNIQUE INDEX dead_letters_sink_seq ON dead_letters (sink, seq);
  CREATE INDEX dead_letters_replay ON dead_letters (sink, replay, id);
  -- File-lifetime totals per sink, for the buffer stats command.
  CREATE TABLE sink_counters (
    sink          TEXT PRIMARY KEY,
    dropped       INTEGER NOT NULL DEFAULT 0,  -- rows evicted or refused before this sink had them
    dead_lettered INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  -- Rows appended while the wall clock was not trusted: not delivered until re-stamped (or
  -- flagged). offset_ms is wall − monotonic clock when they were read, on boot boot_id.
  CREATE TABLE holds (
    first_seq  INTEGER PRIMARY KEY,
    last_seq   INTEGER NOT NULL,
    boot_id    TEXT NOT NULL,
    offset_ms  INTEGER NOT NULL,
    since_mono INTEGER NOT NULL
  );
  INSERT INTO meta (key, value) VALUES ('dropped', 0);
  `,
  // v3: local alert state (alert-state.ts)
  `
  -- The alerts active now, one row per device/point/rule. The record is the agent's JSON; the
  -- buffer only keeps it, written in the same transaction as the alert event's row in points.
  CREATE TABLE alert_state (
    key    TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    at     INTEGER NOT NULL              -- epoch ms of the last change
  ) WITHOUT ROWID;
  -- Acknowledgements asked for from outside the agent (\`edge-agent alerts ack\`): the running agent
  -- applies them and writes the outcome back, so the command can tell the operator.
  CREATE TABLE alert_acks (
    id      INTEGER PRIMARY KEY,
    alert   TEXT NOT NULL,               -- the alert id (or device/point/rule) as given
    by      TEXT NOT NULL,
    at      INTEGER NOT NULL,            -- epoch ms asked
    done_at INTEGER,                     -- epoch ms applied; null while waiting
    result  TEXT                         -- 'ok' or an error code
  );
  CREATE INDEX alert_acks_waiting ON alert_acks (done_at, id);
  `,
  // v4: local history (history.ts)
  `
  -- One row per device/point/captured-tags series whose history is kept.
  CREATE TABLE history_series (
    id        INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    point_id  TEXT NOT NULL,
    series    TEXT NOT NULL,               -- JSON of the captured tags, '' when none
    UNIQUE (device_id, point_id, series)
  );
  -- min/max/sum/count of the readings of one series in [ts, ts + the tier's step). tier 0 is the
  -- fine tier, 1 the long one. Apart from points: delivery never reads or deletes these rows.
  CREATE TABLE history (
    series_id INTEGER NOT NULL,
    tier      INTEGER NOT NULL,
    ts        INTEGER NOT NULL,            -- epoch ms, start of the bucket
    n         INTEGER NOT NULL,
    min       REAL NOT NULL,
    max       REAL NOT NULL,
    sum       REAL NOT NULL,
    PRIMARY KEY (series_id, tier, ts)
  ) WITHOUT ROWID;
  CREATE INDEX history_age ON history (tier, ts);
  `,
  // v5: writes to field devices (commands.ts)
  `
  -- Every write attempt, refused ones too: pending before anything is sent, then its outcome.
  CREATE TABLE commands (
    id           TEXT PRIMARY KEY,
    device       TEXT NOT NULL,
    point        TEXT NOT NULL,
    outcome      TEXT NOT NULL,          -- pending | verified | mismatch | device-exception | timeout | refused | interrupted
    requested_at INTEGER NOT NULL,
    done_at      INTEGER,
    record       TEXT NOT NULL           -- the agent's JSON of the attempt
  );
  CREATE INDEX commands_recent ON commands (requested_at);
  CREATE INDEX commands_pending ON commands (outcome) WHERE outcome = 'pending';
  -- Writes asked for by \`edge-agent write\`: the running agent takes them and names the attempt.
  CREATE TABLE write_requests (
    id         INTEGER PRIMARY KEY,
    device     TEXT NOT NULL,
    point      TEXT NOT NULL,
    value      TEXT NOT NULL,            -- JSON
    by         TEXT NOT NULL,
    at         INTEGER NOT NULL,
    done_at    INTEGER,
    command_id TEXT
  );
  CREATE INDEX write_requests_waiting ON write_requests (done_at, id);
  `,
  // v6: the history in time order (history.ts). Keyed by series first, every flush of a bucket
  // per series touched one page per series: with 1000 points about 650 bytes of WAL per reading
  // (an SD card worn at ~1 MB/s), growing as the table did. In time order a flush appends to the
  // end of the tree and pruning cuts at its start; reads of one series seek bucket by bucket.
  `
  CREATE TABLE history_v6 (
    series_id INTEGER NOT NULL,
    tier      INTEGER NOT NULL,
    ts        INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    min       REAL NOT NULL,
    max       REAL NOT NULL,
    sum       REAL NOT NULL,
    PRIMARY KEY (tier, ts, series_id)
  ) WITHOUT ROWID;
  INSERT INTO history_v6 (series_id, tier, ts, n, min, max, sum)
    SELECT series_id, tier, ts, n, min, max, sum FROM history ORDER BY tier, ts, series_id;
  DROP TABLE history;
  ALTER TABLE history_v6 RENAME TO history;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** A file from a newer agent (a downgrade): refused rather than guessed at, with what to do. */
export function schemaTooNew(path: string, version: number): BufferError {
  return new BufferError(
    'EDGE_BUFFER_SCHEMA_TOO_NEW',
    `${path} was written by a newer edge-agent (buffer schema ${version}; this one knows up to ${SCHEMA_VERSION}), and its points are kept untouched. ` +
      'Install that newer version again, or move the file aside to start with an empty buffer (the points in it are then not sent).',
  );
}

/** Brings the file to `to` (the current layout; tests build older files with a lower one). */
export function migrate(db: Database.Database, to = SCHEMA_VERSION): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) throw schemaTooNew(db.name, current);
  for (let v = current; v < to; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

/**
 * SQLite's page cache per connection, in KiB. better-sqlite3 builds SQLite with 16 MB
 * (SQLITE_DEFAULT_CACHE_SIZE=-16000), which a long-running agent fills and keeps: resident memory
 * on top of the JS heap, and the integrity check at start alone reads every page of a backlog. The
 * buffer appends at the end of its tables and reads and deletes at their start, so it works on few
 * pages at a time; the kernel's file cache holds the rest (and gives it back under pressure).
 * 2 MiB is SQLite's own default.
 */
export const PAGE_CACHE_KIB = 2048;

/** Set first on every open (before the integrity check), so no step fills a bigger cache. */
export function limitPageCache(db: Database.Database): void {
  db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
}

/**
 * Pragmas that are per connection, so they are set on every open. `synchronous` in particular:
 * better-sqlite3 builds SQLite so a fresh file runs FULL but a reopened WAL file runs NORMAL.
 */
export function configure(db: Database.Database, opts: { synchronous: 'normal' | 'full'; busyTimeoutMs: number }): void {
  const mode = db.pragma('journal_mode = WAL', { simple: true }) as string;
  // ':memory:' answers 'memory'; anything else means the file system cannot do WAL (e.g. some
  // network mounts), and DELETE journaling would turn every append into several fsyncs.
  if (mode !== 'wal' && !db.memory) {
    throw new BufferError(
      'EDGE_BUFFER_OPEN_FAILED',
      `could not put ${db.name} in SQLite WAL mode (got '${mode}'): put buffer.path on a local file system (the SD card or a disk), not a network mount`,
    );
  }
  db.pragma(`synchronous = ${opts.synchronous.toUpperCase()}`);
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs))}`);
  // After a checkpoint, cut the -wal file back to this size: a backlog spike must not keep a
  // large file on a small SD card.
  db.pragma('journal_size_limit = 16777216');
}
