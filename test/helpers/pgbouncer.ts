/**
 * Debian's PgBouncer, started by a test on a free port with a generated ini in front of the shared
 * PostgreSQL: transaction pooling and nothing else that would hide a client's mistakes (no
 * `ignore_startup_parameters`). The admin console (database `pgbouncer`) answers SHOW commands.
 */
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { LocalDaemon } from './daemon.js';
import { PGURL } from './postgres.js';
import { freePort } from './victoria.js';

export const PGBOUNCER_BIN = process.env.PGBOUNCER_BIN ?? '/usr/sbin/pgbouncer';

export function pgbouncerAvailable(): boolean {
  return existsSync(PGBOUNCER_BIN);
}

export interface PgBouncerOptions {
  /** Server connections per (database, user) pair. Default 2. */
  poolSize?: number;
  /** `trust` (default: any listed user, no password) or `plain` (passwords checked against `users`). */
  authType?: 'trust' | 'plain';
  /** Client users as name → password. `postgres` is always there (it is also the admin; password `postgres` under `plain`). */
  users?: Record<string, string>;
}

export class PgBouncer {
  private readonly daemon: LocalDaemon;

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly adminPassword: string,
  ) {
    const args = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
    this.daemon = new LocalDaemon({ name: 'pgbouncer', port, command: PGBOUNCER_BIN, args: [...args, join(dir, 'pgbouncer.ini')], stopSignal: 'SIGINT', diagnostics: () => this.log() });
  }

  static async start(opts: PgBouncerOptions = {}): Promise<PgBouncer> {
    const dir = mkdtempSync(join(tmpdir(), 'edge-pgbouncer-'));
    const port = await freePort();
    const server = new URL(PGURL);
    const adminPassword = opts.authType === 'plain' ? 'postgres' : '';
    const users: Record<string, string> = { postgres: adminPassword, ...opts.users };
    writeFileSync(join(dir, 'userlist.txt'), userlist(users));
    // Every client user logs in to PostgreSQL as postgres (trust there): the pooler is what is tested.
    const ini = `[databases]
${server.pathname.slice(1)} = host=${server.hostname} port=${server.port || 5432} dbname=${server.pathname.slice(1)} user=${decodeURIComponent(server.username || 'postgres')}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = ${opts.authType ?? 'trust'}
auth_file = ${join(dir, 'userlist.txt')}
admin_users = postgres
pool_mode = transaction
default_pool_size = ${opts.poolSize ?? 2}
max_client_conn = 500
logfile = ${join(dir, 'pgbouncer.log')}
pidfile = ${join(dir, 'pgbouncer.pid')}
`;
    writeFileSync(join(dir, 'pgbouncer.ini'), ini);
    // PgBouncer refuses to run as root: as root, it is started with -u nobody, who must own its files.
    if (process.getuid?.() === 0) {
      const { uid, gid } = nobody();
      chownSync(dir, uid, gid);
      for (const f of readdirSync(dir)) chownSync(join(dir, f), uid, gid);
    }
    const b = new PgBouncer(port, dir, adminPassword);
    await b.restart();
    return b;
  }

  /** Replaces the client users (`postgres` stays) and reloads PgBouncer, as ops would after fixing its auth_file. */
  async setUsers(users: Record<string, string>): Promise<void> {
    writeFileSync(join(this.dir, 'userlist.txt'), userlist({ postgres: this.adminPassword, ...users }));
    this.daemon.signal('SIGHUP');
    await new Promise((r) => setTimeout(r, 200));
  }

  /** A client URL through the pooler. */
  url(opts: { user?: string; password?: string; database?: string; params?: Record<string, string> } = {}): string {
    const u = new URL(PGURL);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    u.username = opts.user ?? 'postgres';
    u.password = opts.password ?? (u.username === 'postgres' ? this.adminPassword : '');
    if (opts.database !== undefined) u.pathname = `/${opts.database}`;
    for (const [k, v] of Object.entries(opts.params ?? {})) u.searchParams.set(k, v);
    return u.toString();
  }

  /** Runs a SHOW command on the admin console (simple protocol only there). */
  async show<R extends pg.QueryResultRow>(what: string): Promise<R[]> {
    const client = new pg.Client({ connectionString: this.url({ database: 'pgbouncer' }) });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query<R>(`SHOW ${what}`)).rows;
    } finally {
      await client.end();
    }
  }

  log(): string {
    const file = join(this.dir, 'pgbouncer.log');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }

  async restart(): Promise<void> {
    await this.daemon.start();
  }

  async stop(): Promise<void> {
    await this.daemon.stop();
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function userlist(users: Record<string, string>): string {
  return Object.entries(users).map(([u, p]) => `"${u}" "${p}"\n`).join('');
}

function nobody(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'));
  const [, , uid, gid] = (line ?? 'nobody:x:65534:65534').split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

