/**
 * Signed config pushes (Ed25519, node:crypto). What is signed is a canonical JSON text of
 * `{config, gateway?, rev}`: keys sorted, no whitespace, so the signature does not depend on how a
 * broker, a shell or a JSON library re-serialises the payload. The revision is inside the
 * signature, so a replayed push cannot be relabelled with a higher one; `gateway`, when given,
 * binds a push to one gateway; `expires`, when given, is the time after which the gateway refuses it.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const SIGNING_KEY_INVALID = 'EDGE_SIGNING_KEY_INVALID';

/** What a `config/set` payload carries besides `transaction`. */
export interface SignedContent {
  rev: number;
  config: unknown;
  /** When set, only this gateway accepts the push. */
  gateway?: string | undefined;
  /** ISO 8601 time; when set, the push is refused after it. */
  expires?: string | undefined;
}

export class SigningKeyError extends Error {
  readonly code = SIGNING_KEY_INVALID;
}

/** JSON with object keys sorted at every level; refuses what JSON cannot carry faithfully. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`cannot sign a non-finite number (${value})`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`cannot sign a ${typeof value}`);
}

function signedBytes(content: SignedContent): Buffer {
  const body: Record<string, unknown> = { config: content.config, rev: content.rev };
  if (content.gateway !== undefined) body.gateway = content.gateway;
  if (content.expires !== undefined) body.expires = content.expires;
  return Buffer.from(canonicalJson(body), 'utf8');
}

/** Base64 Ed25519 signature of the content. */
export function signContent(privateKey: KeyObject, content: SignedContent): string {
  return signBytes(privateKey, signedBytes(content));
}

/** False for a bad or malformed signature; never throws for what a sender controls. */
export function verifyContent(publicKey: KeyObject, content: SignedContent, signature: string): boolean {
  return verifyBytes(publicKey, signedBytes(content), signature);
}

/** Base64 Ed25519 signature of bytes (a canonical form: config pushes here, write commands in command-signing.ts). */
export function signBytes(privateKey: KeyObject, bytes: Buffer): string {
  return sign(null, bytes, privateKey).toString('base64');
}

/** False for a bad or malformed signature; never throws for what a sender controls. */
export function verifyBytes(publicKey: KeyObject, bytes: Buffer, signature: string): boolean {
  try {
    return verify(null, bytes, publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * `sha256:` and the hex SHA-256 of the key's SPKI DER: names a key in audits and logs without
 * carrying it, and is the same for the private key and its public half (ops can match the two).
 */
export function keyFingerprint(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return `sha256:${createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex')}`;
}

export function generateSigningKeys(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function readPublicKey(path: string): KeyObject {
  return ed25519(path, (pem) => createPublicKey(pem), 'public');
}

export function readPrivateKey(path: string): KeyObject {
  return ed25519(path, (pem) => createPrivateKey(pem), 'private');
}

function ed25519(path: string, parse: (pem: string) => KeyObject, kind: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SigningKeyError(`cannot read ${kind} key ${path}: ${(err as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = parse(pem);
  } catch (err) {
    throw new SigningKeyError(`${path} is not a PEM ${kind} key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`${path} is a ${key.asymmetricKeyType ?? 'unknown'} key; config signing uses Ed25519`);
  return key;
}
