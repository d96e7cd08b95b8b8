/**
 * `${VAR}` and `${VAR:-default}` in string values, from an injected environment, so secrets stay
 * out of the file. It runs over the *parsed* document, not the raw text: a substituted value can
 * hold quotes, colons or newlines without breaking YAML. `$${X}` is a literal `${X}`.
 *
 * Substitution always yields strings; it is meant for secrets, hosts and URLs, not numbers.
 */
import { ROOT, childPath } from './issues.js';
import type { ConfigIssue, Env } from './types.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// `$${…}` (escaped) or `${…}`; the closing brace is optional so an unterminated reference is seen.
const REFERENCE = /\$(\$)?\{([^}]*)(\})?/g;

export interface Substituted {
  value: unknown;
  issues: ConfigIssue[];
}

export function substituteEnv(doc: unknown, env: Env): Substituted {
  const issues: ConfigIssue[] = [];
  const value = walk(doc, ROOT, env, issues);
  return { value, issues };
}

function walk(node: unknown, path: string, env: Env, issues: ConfigIssue[]): unknown {
  if (typeof node === 'string') return substituteString(node, path, env, issues);
  if (Array.isArray(node)) return node.map((item, i) => walk(item, childPath(path, i), env, issues));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(node)) out[key] = walk(item, childPath(path, key), env, issues);
    return out;
  }
  return node;
}

/** Substitutes one string value; every problem in it is reported, and a failed reference becomes ''. */
export function substituteString(text: string, path: string, env: Env, issues: ConfigIssue[]): string {
  return text.replace(REFERENCE, (whole, escaped: string | undefined, body: string, closed: string | undefined) => {
    if (escaped !== undefined) return whole.slice(1);
    if (closed === undefined) {
      issues.push({ path, message: `unterminated "\${" (write "$\${" for a literal "\${")` });
      return '';
    }
    const sep = body.indexOf(':-');
    const name = sep === -1 ? body : body.slice(0, sep);
    if (!NAME.test(name)) {
      issues.push({ path, message: `invalid reference "\${${body}}": a variable name is letters, digits and '_', not starting with a digit` });
      return '';
    }
    const value = env[name];
    if (sep !== -1) {
      // As in the shell: `:-` also covers a variable that is set but empty.
      return value === undefined || value === '' ? body.slice(sep + 2) : value;
    }
    if (value === undefined) {
      issues.push({ path, message: `environment variable ${name} is not set` });
      return '';
    }
    return value;
  });
}
