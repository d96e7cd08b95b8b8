// Room agent/central: the ops link over MQTT (config push, commands, reports); may import config and the running rooms, never commands or agent.ts.
/**
 * The guard in front of a write from central: a `request/points/write` payload becomes a
 * WriteRequest for the executor only when writes are enabled, it is well-formed, signed by the
 * command key over the canonical form (config/command-signing.ts), meant for this gateway, not
 * expired and not expiring too far ahead, and its nonce was never seen. Each refusal has its own
 * code. The nonce is claimed last, after the signature checked out: a forged payload cannot use
 * up a real command's nonce, and a command that passed every check runs at most once.
 */
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { fromZod } from '../../config/issues.js';
import { verifyWriteCommand, type WriteCommand, type WriteValue } from '../../config/command-signing.js';
import type { NonceLedger } from '../../buffer/nonces.js';
import { transactionOf, type Transaction } from './protocol.js';
import type { WriteRequest } from './write-target.js';

/** Stable codes of the refusals made here (the executor has its own for limits, rate, device state). */
export const WriteCodes = {
  disabled: 'EDGE_WRITE_DISABLED',
  badRequest: 'EDGE_WRITE_BAD_REQUEST',
  unsigned: 'EDGE_WRITE_UNSIGNED',
  badSignature: 'EDGE_WRITE_BAD_SIGNATURE',
  wrongGateway: 'EDGE_WRITE_WRONG_GATEWAY',
  expired: 'EDGE_WRITE_EXPIRED',
  replayed: 'EDGE_WRITE_REPLAYED',
} as const;

export type WriteRefusalCode = (typeof WriteCodes)[keyof typeof WriteCodes];

export interface WriteGuardOptions {
  gateway: string;
  /** central.allowWrites. */
  allowWrites: boolean;
  /** The command key (central.commandKey, else central.publicKey) with its fingerprint, or why there is none usable. */
  key: { key: KeyObject; fingerprint: string } | { error: string };
  /** central.commandMaxExpiry: a later `expires` is refused. */
  maxExpiryMs: number;
  nonces: NonceLedger;
  now: () => number;
}

export type WriteVerdict =
  | { ok: true; request: WriteRequest; transaction: Transaction }
  | {
      ok: false;
      code: WriteRefusalCode;
      message: string;
      /** As much of the request as could be read, for the audit of the refusal. */
      request: WriteRequest;
      transaction: Transaction;
      /** Details for the reply (issues at their paths, the expiry and the gateway's clock). */
      data: Record<string, unknown>;
    };

const NONCE = /^[A-Za-z0-9_-]{16,128}$/;

const payloadSchema = z.strictObject({
  transaction: z.union([z.string().max(200), z.number()]).optional(),
  gateway: z.string().min(1).max(200),
  device: z.string().min(1).max(200),
  point: z.string().min(1).max(200),
  value: z.union([z.number(), z.string().max(1000), z.boolean()]),
  by: z.string().min(1).max(200),
  expires: z.iso.datetime({ offset: true }),
  nonce: z.string().regex(NONCE, 'must be 16 to 128 letters, digits, _ or - (edge-agent command sign makes one)'),
  signature: z.string().min(1).max(200).optional(),
});

/** The payload as JSON, or why it is not. */
export function readPayload(payload: Buffer): { body: unknown; notJson?: string } {
  try {
    return { body: JSON.parse(payload.toString('utf8')) as unknown };
  } catch (err) {
    return { body: undefined, notJson: (err as Error).message };
  }
}

export function checkWriteRequest(payload: Buffer, opts: WriteGuardOptions): WriteVerdict {
  const { body, notJson } = readPayload(payload);
  const seen = bestEffort(body);
  const transaction = transactionOf(body);
  const refuse = (code: WriteRefusalCode, message: string, data: Record<string, unknown> = {}, request = seen): WriteVerdict => ({
    ok: false,
    code,
    message,
    request,
    transaction,
    data,
  });
  if (!opts.allowWrites) return refuse(WriteCodes.disabled, 'writes from central are off on this gateway (central.allowWrites: false); refused');
  if (notJson !== undefined) return refuse(WriteCodes.badRequest, `points/write payload is not JSON: ${notJson}`);
  const parsed = payloadSchema.safeParse(body);
  if (!parsed.success) {
    const issues = fromZod(parsed.error);
    return refuse(WriteCodes.badRequest, `invalid points/write request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
  }
  const p = parsed.data;
  const command: WriteCommand = { gateway: p.gateway, device: p.device, point: p.point, value: p.value, by: p.by, expires: p.expires, nonce: p.nonce };
  // No requestId on a refusal: anyone can copy a real command's nonce into a forged payload.
  const request: WriteRequest = { device: p.device, point: p.point, value: p.value, by: p.by, origin: 'central' };
  if (p.signature === undefined) return refuse(WriteCodes.unsigned, 'the write is not signed; writes from central are always signed (edge-agent command sign); refused', {}, request);
  const key = opts.key;
  if ('error' in key) return refuse(WriteCodes.disabled, `cannot check the signature: ${key.error}; refused`, {}, request);
  if (!verifyWriteCommand(key.key, command, p.signature)) {
    return refuse(WriteCodes.badSignature, 'the signature does not match gateway, device, point, value, by, expires and nonce under the command key; refused', {}, request);
  }
  // From here on the signer is known: the audit names its key.
  const signed: WriteRequest = { ...request, keyFingerprint: key.fingerprint };
  if (p.gateway !== opts.gateway) return refuse(WriteCodes.wrongGateway, `this write is signed for gateway ${p.gateway}, this is ${opts.gateway}; refused`, {}, signed);
  const now = opts.now();
  const expires = Date.parse(p.expires);
  const clock = { expires: p.expires, now: new Date(now).toISOString() };
  if (expires <= now) return refuse(WriteCodes.expired, `the write expired at ${p.expires} (gateway clock: ${clock.now}); refused`, clock, signed);
  if (expires - now > opts.maxExpiryMs) {
    // Also what a gateway clock far behind looks like: the data says which clock the gateway has.
    return refuse(
      WriteCodes.expired,
      `the write expires at ${p.expires}, more than central.commandMaxExpiry (${Math.round(opts.maxExpiryMs / 1000)} s) after the gateway clock ${clock.now}; refused`,
      { ...clock, maxExpiryMs: opts.maxExpiryMs },
      signed,
    );
  }
  if (!opts.nonces.claim(p.nonce, expires, now)) return refuse(WriteCodes.replayed, `nonce ${p.nonce} was seen before: a replayed write; refused`, { nonce: p.nonce }, signed);
  // The nonce names the command for the audit: unique, and signed.
  return { ok: true, request: { ...signed, requestId: p.nonce }, transaction };
}

/** The fields of a payload that did not pass, typed as the audit wants them ('' where absent). */
function bestEffort(body: unknown): WriteRequest {
  const o = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const text = (v: unknown): string => (typeof v === 'string' ? v.slice(0, 200) : '');
  const v = o.value;
  const value: WriteValue = typeof v === 'number' || typeof v === 'boolean' ? v : typeof v === 'string' ? v.slice(0, 1000) : v === undefined ? '' : (JSON.stringify(v) ?? '').slice(0, 1000);
  return { device: text(o.device), point: text(o.point), value, by: text(o.by), origin: 'central' };
}
