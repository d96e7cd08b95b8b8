// Room agent/central: the ops link over MQTT (config push, commands, reports); may import config and the running rooms, never commands or agent.ts.
/**
 * `request/points/write` → `response/points/write`. The guard (write-request.ts) decides whether
 * the write reaches the executor at all; a refusal there is audited through the executor's
 * `recordRefusal`, so every attempt is in the audit, refused ones too. The reply carries the
 * outcome: `status: ok` only for `verified` (the device holds the value, read back); any other
 * outcome is an error envelope with its code and the outcome as `data`.
 */
import type { KeyObject } from 'node:crypto';
import { keyFingerprint, readPublicKey } from '../../config/signing.js';
import type { Settings } from '../../config/types.js';
import type { NonceLedger } from '../../buffer/nonces.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { Codes, CommandError, failed, ok, transactionOf, type Envelope } from './protocol.js';
import { checkWriteRequest, readPayload, WriteCodes, type WriteGuardOptions } from './write-request.js';
import type { WriteOutcome, WriteTarget } from './write-target.js';

export interface CentralWritesOptions {
  settings: Settings;
  /** The executor; absent: writes are refused (EDGE_WRITE_DISABLED), nothing to audit them with. */
  target: WriteTarget | undefined;
  nonces: NonceLedger | undefined;
  clock: Clock;
  logger: Logger;
}

export class CentralWrites {
  private readonly guard: WriteGuardOptions | undefined;
  private readonly opts: CentralWritesOptions;

  constructor(opts: CentralWritesOptions) {
    this.opts = opts;
    const c = opts.settings.central;
    const nonces = opts.nonces;
    if (nonces !== undefined) {
      const key = c.allowWrites ? commandKey(c) : { error: 'writes are off' };
      if ('error' in key && c.allowWrites) opts.logger.error({ code: WriteCodes.disabled, error: key.error }, 'central.allowWrites is on but the command key is unusable: every write is refused');
      this.guard = { gateway: opts.settings.gateway.id, allowWrites: c.allowWrites, key, maxExpiryMs: c.commandMaxExpiry, nonces, now: () => opts.clock.now() };
    }
  }

  /** The reply envelope for one request; never throws. */
  async handle(payload: Buffer): Promise<Envelope> {
    const log = this.opts.logger;
    const target = this.opts.target;
    if (this.guard === undefined || target === undefined) {
      const why = this.opts.settings.central.allowWrites ? 'this agent has no write executor or buffer' : 'writes from central are off on this gateway (central.allowWrites: false)';
      return failed(new CommandError(WriteCodes.disabled, `${why}; refused`), transactionOf(readPayload(payload).body));
    }
    let verdict;
    try {
      verdict = checkWriteRequest(payload, this.guard);
    } catch (err) {
      // The nonce store failed (disk, a closed buffer): without it a write could run twice; refused.
      log.error({ err }, 'central write refused: the nonce store cannot be written');
      return failed(new CommandError(Codes.internal, `cannot record the write's nonce: ${(err as Error).message}; refused`), transactionOf(readPayload(payload).body));
    }
    if (!verdict.ok) {
      const { request, code, message } = verdict;
      // The executor's audit logs the refusal (WARN); this adds the transaction.
      log.debug({ code, device: request.device, point: request.point, by: request.by, key: request.keyFingerprint, transaction: verdict.transaction }, `central write refused: ${message}`);
      let outcome: WriteOutcome | undefined;
      try {
        outcome = await target.recordRefusal(request, code, message);
      } catch (err) {
        // The refusal stands; only its audit row is missing. ERROR: an operator should know.
        log.error({ err, code }, 'central write refusal could not be audited');
      }
      return failed(new CommandError(code, message, { ...verdict.data, ...(outcome === undefined ? {} : { outcome }) }), verdict.transaction);
    }
    const { request, transaction } = verdict;
    let outcome: WriteOutcome;
    try {
      outcome = await target.execute(request);
    } catch (err) {
      log.error({ err, device: request.device, point: request.point }, 'central write failed in the executor');
      return failed(err, transaction);
    }
    const fields = { device: request.device, point: request.point, by: request.by, key: request.keyFingerprint, outcome: outcome.outcome, code: outcome.code, transaction };
    // The executor logs each outcome (the audit line); this adds the signer and the transaction.
    log.debug(fields, `central write ${outcome.outcome}`);
    if (outcome.outcome === 'verified') return ok({ outcome }, transaction);
    const code = outcome.code ?? `EDGE_WRITE_${outcome.outcome.toUpperCase().replace(/-/g, '_')}`;
    return failed(new CommandError(code, outcome.message ?? `write ${outcome.outcome}`, { outcome }), transaction);
  }
}

/** central.commandKey, else central.publicKey (the config key), with its fingerprint. */
export function commandKey(c: Settings['central']): { key: KeyObject; fingerprint: string } | { error: string } {
  const path = c.commandKey !== '' ? c.commandKey : c.publicKey;
  if (path === '') return { error: 'neither central.commandKey nor central.publicKey is set' };
  try {
    const key = readPublicKey(path);
    return { key, fingerprint: keyFingerprint(key) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}
