/**
 * Broker passwords: given plain (from `${VAR}`) or as a scrypt hash, compared in constant time.
 * `hashPassword` makes the `scrypt$<salt>$<key>` form the config accepts.
 */
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

const KEY_LENGTH = 32;

export function hashPassword(password: string, salt: Buffer = randomBytes(16)): string {
  return `scrypt$${salt.toString('base64')}$${scryptSync(password, salt, KEY_LENGTH).toString('base64')}`;
}

/** A check of one user's password, prepared once (the scrypt salt decoded, the plain one digested). */
export function passwordChecker(user: { password?: string | undefined; passwordHash?: string | undefined }): (given: Buffer) => Promise<boolean> {
  if (user.passwordHash !== undefined) {
    const [, salt, key] = user.passwordHash.split('$');
    const saltBytes = Buffer.from(salt ?? '', 'base64');
    const keyBytes = Buffer.from(key ?? '', 'base64');
    // scrypt is slow on purpose: run it off the event loop, so a reconnect storm cannot stall polling.
    return (given) =>
      new Promise((resolve) =>
        scrypt(given, saltBytes, keyBytes.length || KEY_LENGTH, (err, derived) => resolve(err === null && derived.length === keyBytes.length && timingSafeEqual(derived, keyBytes))),
      );
  }
  if (user.password !== undefined) {
    // Digests of equal length, so the comparison takes the same time whatever was sent.
    const expected = digest(Buffer.from(user.password, 'utf8'));
    return (given) => Promise.resolve(timingSafeEqual(digest(given), expected));
  }
  return () => Promise.resolve(false);
}

function digest(b: Buffer): Buffer {
  return createHash('sha256').update(b).digest();
}
