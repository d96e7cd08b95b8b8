/**
 * Loading a configuration: text → document → `${VAR}` substitution → settings (convict) and
 * catalog (zod) → templates merged and devices resolved. Every part is checked even when an
 * earlier one failed, and all issues come back together: a technician fixes a file in one pass.
 */
import { readFileSync } from 'node:fs';
import { brokerIssues } from './broker.js';
import { builtinTemplateNames, loadBuiltinTemplates } from './builtin-templates.js';
import { catalog, type Template } from './catalog.js';
import { ConfigError } from './errors.js';
import { PathSet, ROOT, describeValue, formatPath, fromZod, isUnder, unknownKey, zodMessage } from './issues.js';
import { catalogHints } from './hints.js';
import { formatOf, parseText, type ConfigFormat } from './parse.js';
import { resolveDevices } from './resolve.js';
import { salvageCatalog } from './salvage.js';
import { SETTINGS_KEYS, loadSettings } from './settings.js';
import { substituteEnv } from './substitute.js';
import type { AgentConfig, ConfigIssue, Env } from './types.js';

export const CATALOG_KEYS = ['templates', 'devices', 'simulators', 'broker'] as const;
const TOP_LEVEL_KEYS: readonly string[] = [...SETTINGS_KEYS, ...CATALOG_KEYS];

export interface LoadOptions {
  /** A file to read; its extension picks the format (`.json`, else YAML). */
  file?: string;
  /** The text itself (a pushed config); `file` then only names the source. */
  text?: string;
  format?: ConfigFormat;
  /** For `${VAR}` substitution and the bootstrap settings; defaults to process.env. */
  env?: Env;
}

/** `config.hints`: warnings on a valid config (config/hints.ts); they never make it invalid. */
export type CheckResult = { ok: true; config: AgentConfig } | { ok: false; issues: ConfigIssue[] };

/** Never throws for a bad configuration; every problem is in `issues`. */
export function checkConfig(opts: LoadOptions): CheckResult {
  const source = opts.file ?? '<text>';
  let text = opts.text;
  if (text === undefined) {
    if (opts.file === undefined) throw new TypeError('checkConfig needs a file or a text');
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      return { ok: false, issues: [{ path: ROOT, message: `cannot read ${opts.file}: ${(err as Error).message}` }] };
    }
  }
  const parsed = parseText(text, opts.format ?? (opts.file === undefined ? 'yaml' : formatOf(opts.file)));
  if (parsed.issues.length > 0) return { ok: false, issues: parsed.issues };
  return checkDocument(parsed.doc, { env: opts.env, source });
}

export function loadConfig(opts: LoadOptions): AgentConfig {
  const result = checkConfig(opts);
  if (!result.ok) throw new ConfigError(opts.file ?? '<text>', result.issues);
  return result.config;
}

/** Checks an already parsed document (a JSON payload pushed by central ops, for instance). */
export function checkDocument(doc: unknown, opts: { env?: Env | undefined; source?: string | undefined } = {}): CheckResult {
  const env = opts.env ?? process.env;
  if (doc === null || doc === undefined) doc = {}; // an empty file: defaults, then "gateway.id: must be set"
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    return { ok: false, issues: [{ path: ROOT, message: `must be a mapping of settings and devices (got ${describeValue(doc)})` }] };
  }

  const substituted = substituteEnv(doc, env);
  const issues: ConfigIssue[] = [];
  const settingsPart: Record<string, unknown> = {};
  const catalogPart: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(substituted.value as Record<string, unknown>)) {
    if ((SETTINGS_KEYS as readonly string[]).includes(key)) settingsPart[key] = value;
    // `devices:` with everything under it commented out means none, not an error.
    else if ((CATALOG_KEYS as readonly string[]).includes(key)) {
      if (value !== null) catalogPart[key] = value;
    } else issues.push(unknownKey(formatPath([key]), key, TOP_LEVEL_KEYS));
  }

  const { settings, issues: settingsIssues } = loadSettings(settingsPart, env);
  issues.push(...settingsIssues);

  const parsed = catalog.safeParse(catalogPart, { error: zodMessage });
  let config: AgentConfig | undefined;
  if (parsed.success) {
    const templates = withBuiltins(parsed.data.templates, parsed.data.devices, issues);
    const resolved = resolveDevices({ settings, templates, devices: parsed.data.devices, builtin: builtinTemplateNames() });
    issues.push(...resolved.issues);
    issues.push(...brokerIssues(parsed.data.broker, parsed.data.devices));
    config = {
      settings,
      devices: resolved.devices,
      simulators: parsed.data.simulators,
      ...(parsed.data.broker === undefined ? {} : { broker: parsed.data.broker }),
      source: opts.source ?? '<document>',
      hints: catalogHints(templates, parsed.data.devices),
    };
  } else {
    const schemaIssues = fromZod(parsed.error);
    issues.push(...schemaIssues);
    const salvaged = salvageCatalog(catalogPart);
    const templates = withBuiltins(salvaged.templates, salvaged.devices, issues);
    issues.push(...resolveDevices({ settings, ...salvaged, templates, builtin: builtinTemplateNames(), broken: new PathSet(schemaIssues.map((i) => i.path)) }).issues);
  }

  const all = [...substituted.issues, ...withoutEchoes(issues, substituted.issues)];
  if (all.length > 0 || config === undefined) return { ok: false, issues: all };
  return { ok: true, config };
}

/** The config's own templates, plus the built-in ones its devices name that it does not define itself. */
function withBuiltins<T>(own: Readonly<Record<string, T>>, devices: readonly ({ template?: string | undefined } | undefined)[], issues: ConfigIssue[]): Record<string, T | Template> {
  const wanted = devices.map((d) => d?.template).filter((name): name is string => name !== undefined && !Object.hasOwn(own, name));
  const builtin = loadBuiltinTemplates(wanted);
  issues.push(...builtin.issues);
  return { ...builtin.templates, ...own };
}

/**
 * A failed `${VAR}` leaves an empty string behind, which later checks would report again
 * ("must be set"); the substitution issue already says what is wrong there. Exact repeats
 * (the same template mistake seen through two devices) are dropped too.
 */
function withoutEchoes(issues: readonly ConfigIssue[], substitution: readonly ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    if (substitution.some((s) => isUnder(issue.path, s.path))) return false;
    const key = `${issue.path}\0${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** `2 devices, 7 points`: what `edge-agent validate` prints for a good file. */
export function summarize(config: AgentConfig): string {
  const devices = config.devices.length;
  const points = config.devices.reduce((n, d) => n + d.points.length, 0);
  return `${devices} device${devices === 1 ? '' : 's'}, ${points} point${points === 1 ? '' : 's'}`;
}
