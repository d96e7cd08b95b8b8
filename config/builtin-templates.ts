/**
 * Device templates that ship with the agent (templates/<name>.yaml at the package root): register
 * maps of common field devices, usable as `template: eastron-sdm630` without copying them into a
 * config. A config's own `templates:` entry of the same name wins, whole (no merge): a site that
 * needs a variant writes its own.
 *
 * Only the templates a config names are read, so a broken or unused file never costs a start.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ID_PATTERN, template, type Template } from './catalog.js';
import { fromZod, zodMessage } from './issues.js';
import { parseText } from './parse.js';
import type { ConfigIssue } from './types.js';

/** The package's templates/ folder: next to config/ in the sources, two levels up from dist/config/. */
export function builtinTemplatesDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 3; i++) {
    const candidate = join(dir, 'templates');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

/** The names of the built-in templates, sorted (for messages and docs). */
export function builtinTemplateNames(dir = builtinTemplatesDir()): string[] {
  if (dir === undefined) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .filter((name) => ID_PATTERN.test(name))
    .sort();
}

export interface BuiltinTemplates {
  templates: Record<string, Template>;
  issues: ConfigIssue[];
}

/** Reads the named built-in templates that exist; a name without a file is left for resolve.ts to report. */
export function loadBuiltinTemplates(names: Iterable<string>, dir = builtinTemplatesDir()): BuiltinTemplates {
  const out: BuiltinTemplates = { templates: {}, issues: [] };
  if (dir === undefined) return out;
  for (const name of new Set(names)) {
    if (!ID_PATTERN.test(name)) continue;
    const file = join(dir, `${name}.yaml`);
    if (!existsSync(file)) continue;
    const where = `template ${name} (${file})`;
    const parsed = parseText(readFileSync(file, 'utf8'), 'yaml');
    if (parsed.issues.length > 0) {
      out.issues.push(...parsed.issues.map((i) => ({ path: where, message: `${i.path}: ${i.message}` })));
      continue;
    }
    const checked = template.safeParse(parsed.doc, { error: zodMessage });
    if (!checked.success) {
      out.issues.push(...fromZod(checked.error).map((i) => ({ path: where, message: `${i.path}: ${i.message}` })));
      continue;
    }
    out.templates[name] = checked.data;
  }
  return out;
}
