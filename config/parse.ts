/**
 * Text → document. YAML through the `yaml` package (every syntax error, with line and column);
 * JSON strictly through JSON.parse, with the YAML parser only to locate an error and to catch
 * duplicate keys, which JSON.parse would silently resolve to the last one.
 */
import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import { ROOT } from './issues.js';
import type { ConfigIssue } from './types.js';

export type ConfigFormat = 'yaml' | 'json';

/** `.json` is JSON; anything else is read as YAML (a superset of JSON, so little can go wrong). */
export function formatOf(file: string): ConfigFormat {
  return /\.json$/i.test(file) ? 'json' : 'yaml';
}

export interface Parsed {
  /** undefined when the text could not be parsed */
  doc?: unknown;
  issues: ConfigIssue[];
}

export function parseText(text: string, format: ConfigFormat): Parsed {
  return format === 'json' ? parseJson(text) : parseYaml(text);
}

const at = (pos: { line: number; col: number }) => `line ${pos.line}:${pos.col}`;

function yamlErrors(text: string): { errors: YAMLError[]; lines: LineCounter; doc: ReturnType<typeof parseDocument> } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  return { errors: doc.errors, lines, doc };
}

function parseYaml(text: string): Parsed {
  const { errors, lines, doc } = yamlErrors(text);
  if (errors.length > 0) {
    return { issues: errors.map((e) => ({ path: at(lines.linePos(e.pos[0])), message: e.message })) };
  }
  try {
    return { doc: doc.toJS(), issues: [] };
  } catch (err) {
    // e.g. an alias bomb: more alias expansions than the yaml package allows
    return { issues: [{ path: ROOT, message: (err as Error).message }] };
  }
}

function parseJson(text: string): Parsed {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { issues: [{ path: jsonErrorLocation(text, (err as Error).message), message: cleanJsonMessage((err as Error).message) }] };
  }
  const duplicates = yamlErrors(text);
  const issues = duplicates.errors
    .filter((e) => e.code === 'DUPLICATE_KEY')
    .map((e) => ({ path: at(duplicates.lines.linePos(e.pos[0])), message: 'duplicate key' }));
  return issues.length > 0 ? { issues } : { doc, issues };
}

function jsonErrorLocation(text: string, message: string): string {
  const lines = new LineCounter();
  lines.addNewLine(0); // the parser registers the first line itself; by hand it must be added
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines.addNewLine(i + 1);
  const position = /at position (\d+)/.exec(message)?.[1];
  if (position !== undefined) return at(lines.linePos(Number(position)));
  // Some V8 messages carry no position; the YAML parser usually trips at the same place.
  const first = yamlErrors(text).errors[0];
  return first === undefined ? ROOT : at(lines.linePos(first.pos[0]));
}

function cleanJsonMessage(message: string): string {
  return message
    .replace(/, ".*" is not valid JSON$/s, '')
    .replace(/ in JSON at position \d+( \(line \d+ column \d+\))?$/, '')
    .trim();
}
