/**
 * The nonces of signed write commands already seen (agent/central/write-request.ts), kept in the
 * buffer file so a write replayed after a restart is refused as well. A nonce is remembered until
 * its command expires, and a day beyond: should the gateway's clock be set back (a Pi without a
 * real-time clock, a wrong NTP answer), an expired command would look valid again, and its nonce
 * must still be there to refuse it.
 *
 * The table is created here (CREATE TABLE IF NOT EXISTS) rather than by a schema migration: it
 * holds nothing older than a day, needs no data moved, and an older agent reading the file simply
 * ignores it.
 */
import type Database from 'better-sqlite3';

/** What the write guard uses: claims a nonce once. */
export interface NonceLedger {
  /** True the first time a nonce is claimed; false while it is remembered (a replay). Durable when it returns true. */
  claim(nonce: string, expiresAt: number, now: number): boolean;
}

/** How long after a command's expiry its nonce is kept (clock set back). */
const KEEP_AFTER_EXPIRY_MS = 86_400_000;

export class NonceStore implements NonceLedger {
  private readonly db: Database.Database;
  private readonly st: {
    prune: Database.Statement<[number]>;
    insert: Database.Statement<[string, number, number]>;
    count: Database.Statement<[], number>;
  };
  private readonly keepAfterExpiryMs: number;

  constructor(db: Database.Database, opts: { keepAfterExpiryMs?: number } = {}) {
    this.db = db;
    this.keepAfterExpiryMs = opts.keepAfterExpiryMs ?? KEEP_AFTER_EXPIRY_MS;
    db.exec(`
      CREATE TABLE IF NOT EXISTS write_nonces (
        nonce      TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL,         -- epoch ms, the command's expires
        seen_at    INTEGER NOT NULL          -- epoch ms, gateway clock when claimed
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS write_nonces_expiry ON write_nonces (expires_at);
    `);
    this.st = {
      prune: db.prepare('DELETE FROM write_nonces WHERE expires_at < ?'),
      insert: db.prepare('INSERT INTO write_nonces (nonce, expires_at, seen_at) VALUES (?, ?, ?) ON CONFLICT (nonce) DO NOTHING'),
      count: db.prepare<[], number>('SELECT count(*) FROM write_nonces').pluck(),
    };
  }

  claim(nonce: string, expiresAt: number, now: number): boolean {
    const claim = this.db.transaction(() => {
      this.st.prune.run(now - this.keepAfterExpiryMs);
      return this.st.insert.run(nonce, expiresAt, now).changes === 1;
    });
    // The buffer runs synchronous=NORMAL, whose last commits a power cut may take back: a claimed
    // nonce lost that way would let the write be replayed. Writes are rare; this one commit fsyncs.
    const before = this.db.pragma('synchronous', { simple: true }) as number;
    if (before >= 2) return claim();
    this.db.pragma('synchronous = FULL');
    try {
      return claim();
    } finally {
      this.db.pragma(`synchronous = ${before}`);
    }
  }

  /** Nonces remembered now (status, tests). */
  size(): number {
    return this.st.count.get() ?? 0;
  }
}
