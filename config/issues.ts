/**
 * Issues as a technician reads them: `path: message`, with the path written the way the file is
 * (`devices[0].connection.port`), and zod's messages rephrased in the field's words.
 */
import type { z } from 'zod';

/** One problem found in a config file: where (a dotted path) and what is wrong. */
export interface ConfigIssue {
  path: string;
  message: string;
}

export type PathSegment = string | number;

/** Path of the document itself, for problems that belong to no key (an empty or non-mapping file). */
export const ROOT = '(root)';

// Keys that would read ambiguously after a dot (point ids may hold '.' or ':') are quoted.
const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (typeof s === 'string' && PLAIN_KEY.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(String(s))}]`;
  }
  return out === '' ? ROOT : out;
}

/** Joins a formatted parent path and a child segment. */
export function childPath(parent: string, key: PathSegment): string {
  const child = formatPath([key]);
  if (parent === ROOT) return child;
  return child.startsWith('[') ? `${parent}${child}` : `${parent}.${child}`;
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/**
 * Per-parse zod error map: only the messages the schema did not write itself. zod's defaults
 * ("Invalid input: expected string, received undefined") are for programmers.
 */
export const zodMessage: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'required';
      return `expected ${iss.expected === 'object' ? 'a mapping' : iss.expected === 'array' ? 'a list' : `a ${iss.expected}`}, got ${describeValue(iss.input)}`;
    case 'invalid_value':
      if (iss.input === undefined) return iss.values.length === 1 ? 'required' : `required (one of ${iss.values.map(String).join(', ')})`;
      return iss.values.length === 1
        ? `must be ${JSON.stringify(iss.values[0])} (got ${describeValue(iss.input)})`
        : `must be one of ${iss.values.map((v) => String(v)).join(', ')} (got ${describeValue(iss.input)})`;
    case 'too_big':
    case 'too_small': {
      const bound = iss.code === 'too_big' ? iss.maximum : iss.minimum;
      const word = iss.code === 'too_big' ? 'at most' : 'at least';
      if (iss.origin === 'string' && iss.code === 'too_small' && Number(bound) === 1) return 'must not be empty';
      if (iss.origin === 'number' || iss.origin === 'int' || iss.origin === 'bigint') {
        const exclusive = iss.inclusive === false ? (iss.code === 'too_big' ? 'below ' : 'above ') : word + ' ';
        return `must be ${exclusive}${String(bound)} (got ${describeValue(iss.input)})`;
      }
      return `must have ${word} ${String(bound)} ${iss.origin === 'string' ? 'characters' : 'entries'}`;
    }
    case 'invalid_union':
      if (iss.note === 'No matching discriminator' && Array.isArray(iss.options)) {
        // zod hands over the whole object; the value that matters is the discriminator's
        const options = (iss.options as unknown[]).map(String).join(', ');
        const input = iss.input as Record<string, unknown> | undefined;
        const value = typeof iss.discriminator === 'string' && typeof input === 'object' && input !== null ? input[iss.discriminator] : undefined;
        return value === undefined ? `required (one of ${options})` : `must be one of ${options} (got ${describeValue(value)})`;
      }
      return undefined;
    case 'invalid_key': {
      // a record key (template or point id) failed its own check; that check's message says why
      const inner = iss.issues[0]?.message;
      return inner === undefined ? 'invalid name' : `invalid name: ${inner}`;
    }
    case 'invalid_format':
      return `invalid ${iss.format}`;
    default:
      return undefined;
  }
};

/** zod issues → ConfigIssues. An unknown-keys issue becomes one issue per key, at the key's own path. */
export function fromZod(error: z.ZodError, prefix: readonly PathSegment[] = []): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const iss of error.issues) {
    const path = [...prefix, ...(iss.path as PropertyKey[])];
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) out.push({ path: formatPath([...path, key]), message: 'unknown key' });
    } else {
      out.push({ path: formatPath(path), message: iss.message });
    }
  }
  return out;
}

/** Is `path` the given path or below it? (`a.b` is under `a`; `a.bc` is not.) */
export function isUnder(path: string, parent: string): boolean {
  if (parent === ROOT) return true;
  return path === parent || (path.startsWith(parent) && (path[parent.length] === '.' || path[parent.length] === '['));
}

/** A near miss for an unknown key (`gatway` → `gateway`), so the fix is obvious. */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  // One edit in a short word, two in a longer one; beyond that it is a different word, not a typo.
  let bestDistance = (key.length <= 4 ? 1 : 2) + 1;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

export function unknownKey(path: string, key: string, known: readonly string[]): ConfigIssue {
  const hint = suggestKey(key, known);
  return { path, message: hint === undefined ? 'unknown key' : `unknown key (did you mean '${hint}'?)` };
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = row;
  }
  return prev[b.length] as number;
}

/**
 * Paths that already failed validation. When a part of the catalog is broken, checks that
 * depend on it stay quiet instead of reporting the same mistake again in other words.
 */
export class PathSet {
  private readonly paths: readonly string[];

  constructor(paths: Iterable<string> = []) {
    this.paths = [...paths];
  }

  /** `path` itself or anything below it is broken. */
  has(path: string): boolean {
    return this.paths.some((p) => isUnder(p, path));
  }

  /** `path` itself is broken (not merely something below it). */
  hasExact(path: string): boolean {
    return this.paths.includes(path);
  }
}
