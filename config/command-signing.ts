/**
 * Signed write commands from central ops (`request/points/write`), Ed25519 like config pushes
 * (signing.ts). What is signed is the canonical JSON (keys sorted, no whitespace) of
 *
 *   {"by":…,"command":"points/write","device":…,"expires":…,"gateway":…,"nonce":…,"point":…,"value":…}
 *
 * Every field is required and inside the signature: `command` keeps a signed write from ever
 * passing for another kind of signed message (a config push has `config` and `rev` instead);
 * `gateway` binds it to one box, so a write captured at one gateway cannot be replayed at another
 * that has a device of the same name; `expires` and `nonce` make it single-use (the gateway refuses
 * it after `expires` and remembers the nonce until then). `value` keeps its JSON type: `1`, `"1"`
 * and `true` are three different commands. The MQTT `transaction` is not signed: it only
 * correlates the reply.
 */
import type { KeyObject } from 'node:crypto';
import { canonicalJson, signBytes, verifyBytes } from './signing.js';

export const WRITE_COMMAND = 'points/write';

export type WriteValue = number | string | boolean;

/** The signed part of a `request/points/write` payload (the payload adds `signature` and `transaction`). */
export interface WriteCommand {
  gateway: string;
  device: string;
  point: string;
  value: WriteValue;
  /** Who asks: the operator's name, for the audit. */
  by: string;
  /** ISO 8601 time with a zone; refused after it. */
  expires: string;
  /** Unique per command; refused when seen before (until `expires`). */
  nonce: string;
}

/** The bytes the signature covers. Throws TypeError for a value JSON cannot carry (NaN, Infinity). */
export function writeCommandBytes(c: WriteCommand): Buffer {
  return Buffer.from(
    canonicalJson({ command: WRITE_COMMAND, gateway: c.gateway, device: c.device, point: c.point, value: c.value, by: c.by, expires: c.expires, nonce: c.nonce }),
    'utf8',
  );
}

export function signWriteCommand(privateKey: KeyObject, c: WriteCommand): string {
  return signBytes(privateKey, writeCommandBytes(c));
}

/** False for a bad or malformed signature, or content that cannot have been signed; never throws. */
export function verifyWriteCommand(publicKey: KeyObject, c: WriteCommand, signature: string): boolean {
  let bytes: Buffer;
  try {
    bytes = writeCommandBytes(c);
  } catch {
    return false;
  }
  return verifyBytes(publicKey, bytes, signature);
}
