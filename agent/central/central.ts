// Room agent/central: the ops link over MQTT (config push, commands, reports); may import config and the running rooms, never commands or agent.ts.
/**
 * The link to central ops: retained `state` (with `offline` as the last will) and `info`, periodic
 * `health`, and the request/response API on `<prefix>/<gateway>/request/<command>` →
 * `…/response/<command>`. Started after the devices and before HTTP; a broker that is down is
 * retried in the background and never holds the agent.
 */
import type { KeyObject } from 'node:crypto';
import type { ConfigDocument, ConfigState } from '../../config/config-state.js';
import { readPublicKey } from '../../config/signing.js';
import type { Env } from '../../config/types.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { StatusReader, type AgentView, type CentralStatus } from '../ops/status.js';
import { ConfigPusher, type PushTarget, type RunningConfig } from './config-push.js';
import { CentralLink, LinkCodes } from './link.js';
import { handleCommand, type CommandContext, type CommandTarget } from './commands.js';
import { Codes, CommandError, failed, isCommand, ok, parseRequest, topicsFor, transactionOf, type Topics } from './protocol.js';
import { effectiveConfig, healthPayload, type InfoPayload, type LastApply } from './reports.js';
import { WRITE_COMMAND } from '../../config/command-signing.js';
import type { NonceLedger } from '../../buffer/nonces.js';
import { CentralWrites } from './write-handler.js';
import type { WriteTarget } from './write-target.js';

/** What the ops link uses of the agent: its status view, config pushes and the command handlers' needs (the Agent class fits). */
export type CentralAgent = AgentView & PushTarget & CommandTarget;

export interface CentralOptions {
  agent: CentralAgent;
  running: RunningConfig;
  state: ConfigState;
  /** From the boot: an apply interrupted by a restart, an unusable last-known-good. */
  notes: string[];
  interruptedRev?: number | undefined;
  env: Env;
  version: string;
  clock: Clock;
  logger: Logger;
  /** Restarts the agent in-process (the CLI's run loop); absent: `restart` is refused. */
  restart?: (() => void) | undefined;
  /** Reconnect back-off (tests shorten it). */
  backoff?: { initialMs: number; maxMs: number };
  /** `points/write`: the executor and the buffer's nonce store; absent, writes are refused. */
  writes?: { target: WriteTarget | undefined; nonces: NonceLedger | undefined };
}

export class Central {
  readonly topics: Topics;
  private readonly link: CentralLink;
  private readonly pusher: ConfigPusher;
  private readonly writes: CentralWrites;
  private readonly statusReader: StatusReader;
  private readonly opts: CentralOptions;
  private healthTimer: unknown;
  private readonly startedAt: number;
  private stopped = false;

  constructor(opts: CentralOptions) {
    this.opts = opts;
    const { settings } = opts.agent.config;
    const c = settings.central;
    this.topics = topicsFor(c.prefix, settings.gateway.id);
    this.startedAt = opts.clock.now();
    this.statusReader = new StatusReader({ view: opts.agent, version: opts.version, now: () => opts.clock.now() });
    this.pusher = new ConfigPusher({
      target: opts.agent,
      running: opts.running,
      state: opts.state,
      env: opts.env,
      publicKey: publicKey(c.publicKey),
      allowUnsigned: c.allowUnsigned,
      applyTimeoutMs: c.applyTimeout,
      clock: opts.clock,
      logger: opts.logger,
      onChange: () => this.publishInfo(),
    });
    this.writes = new CentralWrites({
      settings,
      target: opts.writes?.target,
      nonces: opts.writes?.nonces,
      clock: opts.clock,
      logger: opts.logger.child({ command: WRITE_COMMAND }),
    });
    if (opts.interruptedRev !== undefined) {
      this.pusher.lastApply = { rev: opts.interruptedRev, outcome: 'interrupted', at: this.startedAt, reason: 'the agent stopped during the apply; running the last-known-good' };
    }
    this.link = new CentralLink({
      settings: c,
      clientId: settings.gateway.id,
      will: { topic: this.topics.state, payload: 'offline' },
      subscriptions: [this.topics.requests],
      logger: opts.logger,
      clock: opts.clock,
      ...(opts.backoff === undefined ? {} : { backoff: opts.backoff }),
      onConnect: () => this.onConnect(),
      onMessage: (topic, payload) => void this.onMessage(topic, payload),
    });
  }

  get connected(): boolean {
    return this.link.connected;
  }

  get lastApply(): LastApply | null {
    return this.pusher.lastApply;
  }

  /** The link and the config it runs, for /status and the status page. */
  status(): CentralStatus {
    return { ...this.link.status(), rev: this.pusher.rev, origin: this.pusher.origin, lastApply: this.pusher.lastApply };
  }

  start(): void {
    for (const note of this.opts.notes) this.opts.logger.warn(note);
    try {
      this.link.start();
    } catch (err) {
      // An unreadable CA or client certificate: logged, the agent runs on without its ops link.
      this.opts.logger.error({ code: LinkCodes.files, err }, 'central link cannot start');
      return;
    }
    this.scheduleHealth();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.opts.clock.clearTimeout(this.healthTimer);
    // A graceful stop says `offline` itself; the last will covers a crash or a cut link.
    await this.link.stop({ topic: this.topics.state, payload: 'offline' });
  }

  info(): InfoPayload {
    const { agent } = this.opts;
    return {
      gateway: agent.config.settings.gateway.id,
      version: this.opts.version,
      rev: this.pusher.rev,
      origin: this.pusher.origin,
      lastApply: this.pusher.lastApply,
      startedAt: this.startedAt,
      config: effectiveConfig(agent.config),
    };
  }

  publishInfo(): void {
    this.link.publish(this.topics.info, JSON.stringify(this.info()), { retain: true });
  }

  publishHealth(): void {
    // Retained, so `fleet status` shows a gateway's active alerts at once instead of after a health period.
    this.link.publish(this.topics.health, JSON.stringify(healthPayload(this.statusReader.read())), { qos: 0, retain: true });
  }

  private onConnect(): void {
    this.link.publish(this.topics.state, 'online', { retain: true });
    this.publishInfo();
    this.publishHealth();
  }

  private scheduleHealth(): void {
    if (this.stopped) return;
    this.healthTimer = this.opts.clock.setTimeout(() => {
      this.publishHealth();
      this.scheduleHealth();
    }, this.opts.agent.config.settings.central.healthEvery);
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    const command = this.topics.commandOf(topic);
    if (command === undefined) return;
    // A write is audited even when its payload is not a valid request: it has a handler of its own.
    if (command === WRITE_COMMAND) {
      this.reply(command, await this.writes.handle(payload));
      return;
    }
    let transaction = null as ReturnType<typeof transactionOf>;
    try {
      transaction = transactionOf(safeJson(payload));
      if (!isCommand(command)) throw new CommandError(Codes.commandUnknown, `unknown command '${command}'`);
      const request = parseRequest(command, payload);
      const ctx: CommandContext = { agent: this.opts.agent, pusher: this.pusher, restart: this.opts.restart, clock: this.opts.clock };
      const data = await handleCommand(command, request, ctx);
      this.reply(command, ok(data, transaction));
      this.opts.logger.info({ command, transaction }, 'central request done');
      if (command === 'restart') this.opts.restart?.();
    } catch (err) {
      const env = failed(err, transaction);
      this.opts.logger.warn({ command, transaction, code: env.code, error: env.error }, 'central request refused');
      this.reply(command, env);
    }
  }

  private reply(command: string, envelope: ReturnType<typeof ok>): void {
    if (!this.link.publish(this.topics.response(command), JSON.stringify(envelope))) {
      this.opts.logger.warn({ command }, 'central link down; reply not sent');
    }
  }
}

function safeJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function publicKey(path: string): KeyObject | { error: string } {
  if (path === '') return { error: 'central.publicKey is not set' };
  try {
    return readPublicKey(path);
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export type { ConfigDocument };
