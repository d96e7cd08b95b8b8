/**
 * A line → its fields, by the device's `parse:` setting. Pure: the driver decides what a line
 * without the wanted fields means (garbage when streaming, a failed poll when polled).
 *
 * - regex: named groups (`(?<temp>…)`) by name, and every group by number (1 = the first);
 * - keyValue: `T=21.5 H=40`, `P = 1013`, `temp:21.5;hum:40`: pairs split on the pair separator
 *   (default: spaces, tabs, ',' or ';'), each at the first value separator (default '='); keys
 *   and values trimmed;
 * - csv: columns by 0-based index, or by the names in `columns` (a line with fewer cells than
 *   named columns is not data); double-quoted cells may hold
 *   the separator ("a,b") and doubled quotes ("say ""hi""").
 */
import type { LineParse } from '../../config/types.js';

/** Field name (or number) → its text, for one line. */
export type LineFields = ReadonlyMap<string | number, string>;

export type LineParser = (line: string) => LineFields | undefined;

export function lineParser(parse: LineParse): LineParser {
  switch (parse.kind) {
    case 'regex': {
      const re = new RegExp(parse.regex);
      return (line) => {
        const m = re.exec(line);
        if (m === null) return undefined;
        const fields = new Map<string | number, string>();
        m.forEach((value, i) => {
          if (i > 0 && value !== undefined) fields.set(i, value);
        });
        for (const [name, value] of Object.entries(m.groups ?? {})) if (value !== undefined) fields.set(name, value);
        return fields;
      };
    }
    case 'keyValue': {
      const pairs = parse.pairSeparator === undefined ? /[\s,;]+/ : parse.pairSeparator;
      const assign = parse.valueSeparator;
      // With spaces between pairs, `P = 1013` must still be one pair.
      const spaced = parse.pairSeparator === undefined ? new RegExp(`\\s*${escapeRegex(assign)}\\s*`, 'g') : undefined;
      return (line) => {
        const fields = new Map<string | number, string>();
        const text = spaced === undefined ? line : line.replace(spaced, assign);
        for (const pair of text.split(pairs)) {
          const at = pair.indexOf(assign);
          if (at <= 0) continue;
          const key = pair.slice(0, at).trim();
          if (key !== '') fields.set(key, pair.slice(at + assign.length).trim());
        }
        return fields.size === 0 ? undefined : fields;
      };
    }
    case 'csv':
      return (line) => {
        const cells = splitCsv(line, parse.separator);
        // Fewer cells than named columns: an error message or a truncated line, not data.
        if (parse.columns !== undefined && cells.length < parse.columns.length) return undefined;
        const fields = new Map<string | number, string>();
        cells.forEach((cell, i) => {
          fields.set(i, cell);
          const name = parse.columns?.[i];
          if (name !== undefined) fields.set(name, cell);
        });
        return fields;
      };
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One CSV line → its cells, trimmed; quotes as in RFC 4180. */
export function splitCsv(line: string, separator: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  while (i < line.length) {
    if (quoted) {
      if (line[i] === '"') {
        if (line[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i += 1;
        continue;
      }
      cell += line[i];
      i += 1;
      continue;
    }
    if (line.startsWith(separator, i)) {
      cells.push(cell.trim());
      cell = '';
      i += separator.length;
      continue;
    }
    if (line[i] === '"' && cell.trim() === '') {
      quoted = true;
      cell = '';
      i += 1;
      continue;
    }
    cell += line[i];
    i += 1;
  }
  cells.push(cell.trim());
  return cells;
}
