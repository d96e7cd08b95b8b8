// Room agent/central: the ops link over MQTT (config push, commands, reports); may import config and the running rooms, never commands or agent.ts.
/**
 * `config/set` and friends: a pushed config is checked in full before anything changes —
 * signature, target gateway, revision, then the whole document — and only then persisted as
 * pending, applied hot, and either confirmed as the new last-known-good or rolled back to the
 * config that ran before. The TUF client rules apply to the revision: a lower one is refused, an
 * equal one changes nothing, and the new revision is persisted only after every check passed and
 * the config came up.
 */
import type { KeyObject } from 'node:crypto';
import { checkDocument, envPinnedSettings, SETTINGS_ENV, summarize } from '../../config/index.js';
import { withLocalCentral, type ConfigDocument, type ConfigState, type RolledBack } from '../../config/config-state.js';
import { verifyContent } from '../../config/signing.js';
import type { AgentConfig, Env } from '../../config/types.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { planApply } from './apply-plan.js';
import type { ApplyResult } from './come-up.js';
import { Codes, CommandError, type RequestOf } from './protocol.js';
import { redactSecrets, type LastApply } from './reports.js';

export interface PushTarget {
  readonly config: AgentConfig;
  applyConfig(next: AgentConfig, opts: { timeoutMs: number; check: boolean }): Promise<ApplyResult>;
}

export interface RunningConfig {
  rev: number;
  origin: 'file' | 'pushed';
  /** The document running, as written or pushed (before `${VAR}` substitution). */
  document: ConfigDocument;
  /** The local file's `central` section: it replaces whatever a push carries. */
  localCentral: unknown;
}

export interface ConfigPushOptions {
  target: PushTarget;
  running: RunningConfig;
  state: ConfigState;
  env: Env;
  /** The ops public key, or why there is none usable. */
  publicKey: KeyObject | { error: string };
  allowUnsigned: boolean;
  applyTimeoutMs: number;
  clock: Clock;
  logger: Logger;
  /** The running config or the last apply changed: republish `info`. */
  onChange: () => void;
}

export interface Kept {
  key: string;
  /** The environment variable that pins it, or `local settings` for the ops link itself. */
  by: string;
}

export class ConfigPusher {
  lastApply: LastApply | null = null;
  private running: RunningConfig;
  /** The highest revision rolled back (kept in stateDir across restarts): replaying it would apply and roll back again. */
  private rolledBackRev = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly opts: ConfigPushOptions;

  constructor(opts: ConfigPushOptions) {
    this.opts = opts;
    this.running = opts.running;
    let record: RolledBack | undefined;
    try {
      record = opts.state.rolledBack();
    } catch (err) {
      opts.logger.error({ err, code: Codes.persistFailed }, `cannot read the rolled-back record in ${opts.state.dir}; a rolled-back push could be tried once more`);
    }
    if (record !== undefined) {
      this.rolledBackRev = record.rev;
      // The newest thing that happened to a push was its rollback: say so in info and /status after a restart too.
      if (record.rev > this.running.rev) this.lastApply = { rev: record.rev, outcome: 'rolled-back', at: record.at, reason: record.reason, failures: record.failures };
    }
  }

  get rev(): number {
    return this.running.rev;
  }

  get origin(): RunningConfig['origin'] {
    return this.running.origin;
  }

  get(): { rev: number; origin: string; config: unknown } {
    return { rev: this.running.rev, origin: this.running.origin, config: redactSecrets(this.running.document) };
  }

  /** Checks a document as a push would be checked (without signature or revision); changes nothing. */
  validate(document: ConfigDocument): { summary: string; added: string[]; removed: string[]; changed: string[]; restartRequired: string[]; kept: Kept[] } {
    const next = this.check(document);
    const { added, removed, changed, restartRequired } = planApply(this.opts.target.config, next, true);
    return { summary: summarize(next), added, removed, changed, restartRequired, kept: this.kept(document) };
  }

  /** One push at a time, so two pushes can never both pass the revision check. */
  set(req: RequestOf<'config/set'>): Promise<unknown> {
    const run = this.queue.then(() => this.setNow(req));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async setNow(req: RequestOf<'config/set'>): Promise<unknown> {
    this.verify(req);
    this.checkExpiry(req);
    const gateway = this.opts.target.config.settings.gateway.id;
    if (req.gateway !== undefined && req.gateway !== gateway) {
      throw new CommandError(Codes.wrongGateway, `this push is signed for gateway ${req.gateway}, this is ${gateway}`);
    }
    if (req.rev < this.running.rev) throw new CommandError(Codes.revStale, `rev ${req.rev} is older than the running rev ${this.running.rev}; refused`, { runningRev: this.running.rev });
    if (req.rev === this.running.rev) throw new CommandError(Codes.revCurrent, `rev ${req.rev} is already running; nothing changed`, { runningRev: this.running.rev });
    if (req.rev <= this.rolledBackRev) {
      throw new CommandError(Codes.revStale, `rev ${this.rolledBackRev} was rolled back; push a higher rev than that`, { runningRev: this.running.rev });
    }
    const next = this.check(req.config);
    const document = withLocalCentral(req.config, this.running.localCentral);
    const stored = { rev: req.rev, config: req.config, at: this.opts.clock.now() };
    try {
      this.opts.state.writePending(stored);
    } catch (err) {
      throw new CommandError(Codes.persistFailed, `cannot persist rev ${req.rev} in ${this.opts.state.dir}: ${(err as Error).message}; nothing changed`);
    }
    const prev = this.opts.target.config;
    const log = this.opts.logger;
    log.info({ rev: req.rev, runningRev: this.running.rev }, 'applying pushed config');
    let failure: { reason: string; failures: ApplyResult['failures'] } | undefined;
    let result: ApplyResult | undefined;
    try {
      result = await this.opts.target.applyConfig(next, { timeoutMs: this.opts.applyTimeoutMs, check: true });
      if (result.failures.length > 0) failure = { reason: 'the new config did not come up', failures: result.failures };
      else this.opts.state.confirm(stored);
    } catch (err) {
      failure = { reason: (err as Error).message, failures: [] };
    }
    if (failure !== undefined) {
      await this.rollback(prev, req.rev, failure);
      throw new CommandError(Codes.rolledBack, `rev ${req.rev} rolled back to rev ${this.running.rev}: ${failure.reason}`, {
        rev: req.rev,
        runningRev: this.running.rev,
        failures: failure.failures,
      });
    }
    const applied = result as ApplyResult;
    this.running = { ...this.running, rev: req.rev, origin: 'pushed', document };
    this.lastApply = { rev: req.rev, outcome: 'applied', at: this.opts.clock.now() };
    log.info({ rev: req.rev }, 'pushed config applied and confirmed');
    this.opts.onChange();
    return {
      rev: req.rev,
      added: applied.added,
      removed: applied.removed,
      restarted: applied.changed,
      sinks: applied.sinks,
      restartRequired: applied.restartRequired,
      kept: this.kept(req.config),
    };
  }

  private async rollback(prev: AgentConfig, rev: number, failure: { reason: string; failures: ApplyResult['failures'] }): Promise<void> {
    const log = this.opts.logger;
    log.error({ rev, runningRev: this.running.rev, reason: failure.reason, failures: failure.failures }, 'pushed config did not come up; rolling back');
    this.recordRolledBack(rev, failure);
    try {
      await this.opts.target.applyConfig(prev, { timeoutMs: this.opts.applyTimeoutMs, check: false });
    } catch (err) {
      log.error({ err }, 'rollback failed; restart the agent to come back on the last-known-good');
    }
    try {
      this.opts.state.discardPending();
    } catch (err) {
      log.error({ err }, 'cannot remove the pending config; the next start discards it');
    }
    this.lastApply = { rev, outcome: 'rolled-back', at: this.opts.clock.now(), reason: failure.reason, failures: failure.failures };
    this.opts.onChange();
  }

  /** Before the rollback starts: should the process die during it, the rev is refused after the restart all the same. */
  private recordRolledBack(rev: number, failure: { reason: string; failures: ApplyResult['failures'] }): void {
    this.rolledBackRev = Math.max(this.rolledBackRev, rev);
    try {
      this.opts.state.recordRolledBack({ rev, at: this.opts.clock.now(), reason: failure.reason, failures: failure.failures });
    } catch (err) {
      this.opts.logger.error({ err, rev, code: Codes.persistFailed }, `cannot record rolled-back rev ${rev} in ${this.opts.state.dir}; after a restart it could be tried once more`);
    }
  }

  /** A push signed with `expires` is refused after that time (by the gateway's clock). */
  private checkExpiry(req: RequestOf<'config/set'>): void {
    if (req.expires === undefined) return;
    const expires = Date.parse(req.expires);
    const now = this.opts.clock.now();
    if (expires <= now) {
      throw new CommandError(Codes.expired, `the push expired at ${req.expires} (gateway clock: ${new Date(now).toISOString()}); refused`, {
        expires: req.expires,
        now: new Date(now).toISOString(),
      });
    }
  }

  private verify(req: RequestOf<'config/set'>): void {
    const key = this.opts.publicKey;
    if (req.signature === undefined) {
      if (this.opts.allowUnsigned) return;
      throw new CommandError(Codes.unsigned, 'the push is not signed and central.allowUnsigned is off; refused');
    }
    if ('error' in key) {
      if (this.opts.allowUnsigned) return;
      throw new CommandError(Codes.noKey, `cannot check the signature: ${key.error}`);
    }
    // A signature that is there must be right, even where unsigned pushes are allowed: a tampered push is never applied.
    if (!verifyContent(key, { rev: req.rev, config: req.config, gateway: req.gateway, expires: req.expires }, req.signature)) {
      throw new CommandError(Codes.badSignature, 'the signature does not match the config, rev, gateway and expires; refused');
    }
  }

  /** The whole document, checked as the agent would load it; CommandError with every issue at its path. */
  private check(document: ConfigDocument): AgentConfig {
    const merged = withLocalCentral(document, this.running.localCentral);
    const result = checkDocument(merged, { env: this.opts.env, source: 'config push' });
    if (!result.ok) {
      const n = result.issues.length;
      throw new CommandError(Codes.configInvalid, `config invalid, ${n} error${n === 1 ? '' : 's'}; nothing changed`, { issues: result.issues });
    }
    const gateway = this.opts.target.config.settings.gateway.id;
    if (result.config.settings.gateway.id !== gateway) {
      throw new CommandError(Codes.wrongGateway, `the config is for gateway ${result.config.settings.gateway.id}, this is ${gateway}`, {
        issues: [{ path: 'gateway.id', message: `must be ${gateway} (this gateway)` }],
      });
    }
    return result.config;
  }

  private kept(document: ConfigDocument): Kept[] {
    const out: Kept[] = envPinnedSettings(this.opts.env)
      .filter((key) => valueAt(document, key) !== undefined)
      .map((key) => ({ key, by: SETTINGS_ENV[key] }));
    if (document.central !== undefined) out.push({ key: 'central', by: 'local settings' });
    return out;
  }
}

function valueAt(doc: unknown, dotted: string): unknown {
  let node = doc;
  for (const part of dotted.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}
