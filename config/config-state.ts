/**
 * Where pushed configs live on the gateway (`central.stateDir`), and which config the agent boots
 * from. Two files, each written atomically (temp → fsync → rename → fsync the directory):
 *
 * - `pending.json`: a push being applied. Written before anything changes, removed when the apply
 *   is confirmed or rolled back. Found at boot, it means the process died halfway through an
 *   apply: it is discarded and the agent comes back on the last-known-good.
 * - `last-known-good.json`: the newest push that came up, with its revision. Written only after
 *   the apply was confirmed, so its revision is also the floor a new push must exceed (a replay
 *   of an older push is refused across restarts too).
 * - `rolled-back.json`: the highest revision that was applied and rolled back, with why. Written
 *   before the rollback starts, so a replay of that push is refused after a restart as well (it
 *   would only be applied and rolled back again).
 *
 * The `--config` file stays the source of the local settings: the `central` section (the ops link
 * itself) and, through the environment, the pinned bootstrap keys. Everything else comes from the
 * last-known-good when there is one.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkDocument } from './load.js';
import { formatOf, parseText } from './parse.js';
import { ConfigError } from './errors.js';
import { ROOT } from './issues.js';
import type { AgentConfig, Env } from './types.js';

export type ConfigDocument = Record<string, unknown>;

/** A pushed config as stored: the document as ops sent it (before `${VAR}` substitution). */
export interface StoredConfig {
  rev: number;
  config: ConfigDocument;
  /** Epoch ms it was written. */
  at: number;
}

export const LAST_KNOWN_GOOD = 'last-known-good.json';
export const PENDING = 'pending.json';
export const ROLLED_BACK = 'rolled-back.json';

/** A push that did not come up and was rolled back. */
export interface RolledBack {
  rev: number;
  /** Epoch ms of the rollback. */
  at: number;
  reason: string;
  failures: Array<{ subject: string; code: string; error: string }>;
}

/** temp → fsync → rename → fsync dir: after a power cut the file is the old one or the new one. */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dir);
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class ConfigState {
  constructor(readonly dir: string) {}

  lastKnownGood(): StoredConfig | undefined {
    return this.read(LAST_KNOWN_GOOD);
  }

  pending(): StoredConfig | undefined {
    return this.read(PENDING);
  }

  writePending(c: StoredConfig): void {
    writeFileAtomic(join(this.dir, PENDING), JSON.stringify(c));
  }

  /** The apply came up: the push becomes the last-known-good (and its rev the floor), then pending goes. */
  confirm(c: StoredConfig): void {
    writeFileAtomic(join(this.dir, LAST_KNOWN_GOOD), JSON.stringify(c));
    this.discardPending();
  }

  discardPending(): void {
    rmSync(join(this.dir, PENDING), { force: true });
    fsyncDirIfThere(this.dir);
  }

  /** The highest rolled-back revision; undefined when none (or when the file is not one of ours). */
  rolledBack(): RolledBack | undefined {
    let text: string;
    try {
      text = readFileSync(join(this.dir, ROLLED_BACK), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const r = JSON.parse(text) as Partial<RolledBack>;
    if (typeof r.rev !== 'number' || !Number.isSafeInteger(r.rev)) throw new Error(`${join(this.dir, ROLLED_BACK)}: not a rolled-back record`);
    return { rev: r.rev, at: typeof r.at === 'number' ? r.at : 0, reason: typeof r.reason === 'string' ? r.reason : '', failures: Array.isArray(r.failures) ? r.failures : [] };
  }

  /** Keeps the highest rolled-back revision: a lower one never lowers the floor. */
  recordRolledBack(r: RolledBack): void {
    const known = this.rolledBackOrNone();
    if (known !== undefined && known.rev > r.rev) return;
    writeFileAtomic(join(this.dir, ROLLED_BACK), JSON.stringify(r));
  }

  private rolledBackOrNone(): RolledBack | undefined {
    try {
      return this.rolledBack();
    } catch {
      return undefined;
    }
  }

  private read(name: string): StoredConfig | undefined {
    const path = join(this.dir, name);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const parsed = JSON.parse(text) as Partial<StoredConfig>;
    if (typeof parsed.rev !== 'number' || typeof parsed.config !== 'object' || parsed.config === null) throw new Error(`${path}: not a stored config`);
    return { rev: parsed.rev, config: parsed.config, at: typeof parsed.at === 'number' ? parsed.at : 0 };
  }
}

function fsyncDirIfThere(dir: string): void {
  try {
    fsyncDir(dir);
  } catch {
    // no directory, nothing to make durable
  }
}

/** A pushed document with the local `central` section put in its place (a push never changes the ops link). */
export function withLocalCentral(pushed: ConfigDocument, localCentral: unknown): ConfigDocument {
  const out: ConfigDocument = { ...pushed };
  delete out.central;
  if (localCentral !== undefined) out.central = localCentral;
  return out;
}

export interface BootConfig {
  config: AgentConfig;
  /** The document running (pre-substitution), for `config/get` and as the base of a rollback. */
  document: ConfigDocument;
  /** The local file's `central` section as written (kept on every push). */
  localCentral: unknown;
  /** 0 when the agent runs the file; else the revision of the last-known-good. */
  rev: number;
  origin: 'file' | 'pushed';
  /** Things the operator should hear about (an interrupted apply, an unusable last-known-good). */
  notes: string[];
  /** The revision that was being applied when the agent stopped (discarded at this boot). */
  interruptedRev?: number | undefined;
  state: ConfigState | undefined;
}

/**
 * The config to boot from: the file, or — when the ops link is on and a push came up before — the
 * last-known-good with the file's `central` section. Throws ConfigError when the file itself is invalid.
 */
export function loadBootConfig(opts: { file: string; env: Env }): BootConfig {
  let text: string;
  try {
    text = readFileSync(opts.file, 'utf8');
  } catch (err) {
    throw new ConfigError(opts.file, [{ path: ROOT, message: `cannot read ${opts.file}: ${(err as Error).message}` }]);
  }
  const parsed = parseText(text, formatOf(opts.file));
  if (parsed.issues.length > 0) throw new ConfigError(opts.file, parsed.issues);
  const document = (parsed.doc ?? {}) as ConfigDocument;
  const local = checkDocument(document, { env: opts.env, source: opts.file });
  if (!local.ok) throw new ConfigError(opts.file, local.issues);
  const localCentral = typeof document === 'object' && document !== null ? document.central : undefined;
  const base: BootConfig = { config: local.config, document, localCentral, rev: 0, origin: 'file', notes: [], state: undefined };
  if (local.config.settings.central.url === '') return base;

  const state = new ConfigState(local.config.settings.central.stateDir);
  base.state = state;
  const pending = state.pending();
  if (pending !== undefined) {
    // Recorded like a rollback before the pending file goes: a push that took the agent down
    // mid-apply must not be replayed into a crash loop. Ops re-send it under a new rev.
    state.recordRolledBack({ rev: pending.rev, at: Date.now(), reason: 'interrupted: the agent stopped while applying it', failures: [] });
    state.discardPending();
    base.interruptedRev = pending.rev;
    base.notes.push(`config rev ${pending.rev} was being applied when the agent stopped; it was discarded (push it again under a higher rev)`);
  }
  const lkg = state.lastKnownGood();
  if (lkg === undefined) return base;
  // Whatever happens next, the floor for new pushes is the last revision that came up.
  base.rev = lkg.rev;
  const merged = withLocalCentral(lkg.config, localCentral);
  const pushed = checkDocument(merged, { env: opts.env, source: `${join(state.dir, LAST_KNOWN_GOOD)} (rev ${lkg.rev})` });
  if (!pushed.ok) {
    base.notes.push(
      `last-known-good rev ${lkg.rev} is no longer valid here (${pushed.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}); running ${opts.file}`,
    );
    return base;
  }
  return { ...base, config: pushed.config, document: merged, origin: 'pushed' };
}
