/**
 * Sizes as a technician writes them: `512MB`, `1GiB`, `200 kB`, or a plain number of bytes.
 * Decimal units are powers of 1000, binary units (KiB, MiB, GiB) powers of 1024.
 */
import { z } from 'zod';

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** Bytes, or throws with a message fit for `path: message`. */
export function parseByteSize(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error('must be a size in bytes (or like 512MB, 1GiB)');
    return Math.floor(value);
  }
  if (typeof value !== 'string') throw new Error('must be a size such as 512MB or 1GiB');
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const factor = UNITS[(m?.[2] ?? '').toLowerCase() || 'b'];
  if (m?.[1] === undefined || factor === undefined) throw new Error(`must be a size such as 512MB or 1GiB (units: ${Object.keys(UNITS).join(', ')})`);
  return Math.floor(Number(m[1]) * factor);
}

/** A size key of the catalog (zod): `64KiB`, `1MB` or a number of bytes, at least `min`; bytes after parsing. */
export function byteSizeSchema(min: number): z.ZodType<number, number | string> {
  return z.union([z.string(), z.number()]).transform((v, ctx): number => {
    let bytes: number;
    try {
      bytes = parseByteSize(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
    if (bytes < min) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${min} bytes` });
      return z.NEVER;
    }
    return bytes;
  });
}
