// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/**
 * Ops tooling on the CLI: `edge-agent keygen --out DIR` makes the Ed25519 pair config pushes are
 * signed with; `edge-agent config sign --key KEY --rev N FILE` prints the signed `config/set`
 * payload, ready for any MQTT client (`mosquitto_pub -t edge/<gw>/request/config/set -f payload.json`).
 */
import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDuration } from '../../config/duration.js';
import { formatOf } from '../../config/index.js';
import { parseText } from '../../config/parse.js';
import { generateSigningKeys, readPrivateKey, signContent, SigningKeyError, type SignedContent } from '../../config/signing.js';
import { writeFileAtomic } from '../../config/config-state.js';

export const PRIVATE_KEY_FILE = 'config-signing.key';
export const PUBLIC_KEY_FILE = 'config-signing.pub';

type Print = (line: string) => void;

export function keygenCommand(outDir: string, out: Print, err: Print): number {
  const priv = join(outDir, PRIVATE_KEY_FILE);
  const pub = join(outDir, PUBLIC_KEY_FILE);
  // Never overwrite a signing key: the fleet trusts its public half.
  for (const f of [priv, pub]) {
    if (existsSync(f)) {
      err(`edge-agent: ${f} exists; not overwriting a signing key`);
      return 1;
    }
  }
  const keys = generateSigningKeys();
  writeFileAtomic(priv, keys.privateKeyPem, 0o600);
  writeFileAtomic(pub, keys.publicKeyPem, 0o644);
  out(`wrote ${priv} (private, mode 0600: keep it off the gateways)`);
  out(`wrote ${pub} (public: install on each gateway and set central.publicKey to its path)`);
  return 0;
}

export interface SignOptions {
  key: string;
  rev: string;
  gateway?: string | undefined;
  /** A duration from now (`7d`, `12h`): the push is refused after that. */
  expires?: string | undefined;
  file: string;
  /** The signing time (tests); Date.now by default. */
  now?: () => number;
}

export function signCommand(opts: SignOptions, out: Print, err: Print): number {
  const rev = Number(opts.rev);
  if (!Number.isSafeInteger(rev) || rev < 1) {
    err(`edge-agent: --rev must be a whole number, at least 1 (got ${JSON.stringify(opts.rev)})`);
    return 2;
  }
  let expires: string | undefined;
  if (opts.expires !== undefined) {
    const at = expiresFromNow(opts.expires, (opts.now ?? Date.now)(), '12h or 7d', err);
    if (typeof at === 'number') return at;
    expires = at;
  }
  const read = readConfigDocument(opts.file);
  if ('errors' in read) {
    for (const line of read.errors) err(line);
    return 1;
  }
  const doc = read.doc;
  return withPrivateKey(opts.key, err, (key) => {
    out(JSON.stringify(signedPush(key, { rev, config: doc, gateway: opts.gateway, expires })));
    return 0;
  });
}

/** `--expires DURATION` as the ISO time that long after `now`; or, printed, the exit code of a bad duration (2). */
export function expiresFromNow(text: string, now: number, example: string, err: Print): string | number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (e) {
    err(`edge-agent: --expires takes a duration from now, e.g. ${example}: ${(e as Error).message}`);
    return 2;
  }
  if (ms <= 0) {
    err('edge-agent: --expires must be longer than 0');
    return 2;
  }
  return new Date(now + ms).toISOString();
}

/** Signs with the private key in `path`: a key that cannot be read, or content that cannot be signed, exits 1 with the reason. */
export function withPrivateKey(path: string, err: Print, sign: (key: KeyObject) => number): number {
  try {
    return sign(readPrivateKey(path));
  } catch (e) {
    if (e instanceof SigningKeyError || e instanceof TypeError) {
      err(`edge-agent: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

/** A whole config file (YAML or JSON) as the mapping a push carries, or the lines saying why not. */
export function readConfigDocument(file: string): { doc: Record<string, unknown> } | { errors: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { errors: [`edge-agent: cannot read ${file}: ${(e as Error).message}`] };
  }
  const parsed = parseText(text, formatOf(file));
  if (parsed.issues.length > 0) return { errors: [`${file}: cannot be parsed`, ...parsed.issues.map((i) => `  ${i.path}: ${i.message}`)] };
  if (typeof parsed.doc !== 'object' || parsed.doc === null || Array.isArray(parsed.doc)) return { errors: [`${file}: must be a mapping of settings and devices`] };
  return { doc: parsed.doc as Record<string, unknown> };
}

/** The signed `config/set` payload (without `transaction`), as `config sign` prints it and `fleet push` sends it. */
export function signedPush(key: KeyObject, content: SignedContent): Record<string, unknown> {
  const signature = signContent(key, content);
  return {
    rev: content.rev,
    ...(content.gateway === undefined ? {} : { gateway: content.gateway }),
    ...(content.expires === undefined ? {} : { expires: content.expires }),
    config: content.config,
    signature,
  };
}
