/**
 * InfluxDB line protocol, written straight into one string per batch. The client library builds a
 * Point object per line, sorts and escapes its tags on every line and keeps each line as its own
 * string; at a hundred points a second that churn was most of the sink's cost (GC included).
 *
 * Here the part of a line that never changes for a series — escaped measurement and sorted,
 * escaped tags — is built once and remembered against the point's tags object (the buffer hands
 * out one frozen tags object per series), so a line costs a concatenation of prefix, value and
 * timestamp. The output is the client's own format byte for byte: tags and fields sorted by key,
 * empty tag values left out, floats as JavaScript prints them, booleans T/F, strings quoted.
 */
import type { AlertRecord, CommandRecord, Point } from '../buffer/types.js';

/** `test` matches any character of `chars`; the common case (nothing to escape) is one regex test. */
function escaper(test: RegExp, chars: string, replacements: readonly string[]): (s: string) => string {
  return (s: string): string => {
    if (!test.test(s)) return s;
    let out = '';
    for (let i = 0; i < s.length; i++) {
      const ch = s[i] as string;
      const at = chars.indexOf(ch);
      out += at >= 0 ? (replacements[at] as string) : ch;
    }
    return out;
  };
}

const escapeMeasurement = escaper(/[, \n\r\t]/, ', \n\r\t', ['\\,', '\\ ', '\\n', '\\r', '\\t']);
/** Tag keys, tag values and field keys. */
const escapeKey = escaper(/[, =\n\r\t]/, ', =\n\r\t', ['\\,', '\\ ', '\\=', '\\n', '\\r', '\\t']);
const escapeString = escaper(/["\\]/, '"\\', ['\\"', '\\\\']);

/** `measurement,tag=v,…` for a series; undefined when the measurement is empty (no valid line). */
export function seriesPrefix(measurement: string, tags: Readonly<Record<string, string>>): string | undefined {
  if (measurement === '') return undefined;
  let out = escapeMeasurement(measurement);
  for (const k of Object.keys(tags).sort()) {
    const v = tags[k];
    if (k !== '' && v !== undefined && v !== '') out += `,${escapeKey(k)}=${escapeKey(v)}`;
  }
  return out;
}

export function quoted(s: string): string {
  return `"${escapeString(s)}"`;
}

/** Integral milliseconds, as the client's 'ms' precision writes them. */
function timestamp(ts: number): string {
  return String(Number.isInteger(ts) ? ts : Math.floor(ts));
}

export interface LineCounts {
  skippedNull: number;
  skippedNonFinite: number;
}

/**
 * Builds the body of one write request. Remembers series prefixes between batches: the cache is
 * keyed by the tags object, so it empties itself when the buffer's series objects go.
 */
export class LineWriter {
  private readonly prefixes = new WeakMap<object, { measurement: string; prefix: string | undefined }>();

  /** Lines joined by '\n' ('' when nothing in the batch can be written) and how many. */
  build(batch: readonly Point[], counts: LineCounts): { body: string; lines: number } {
    let body = '';
    let lines = 0;
    for (const p of batch) {
      let line: string | undefined;
      if (p.alert !== undefined) line = alertLine(this.prefix(p), p, p.alert);
      else if (p.command !== undefined) line = commandLine(p, p.command);
      else {
        const v = p.value;
        if (v === null) {
          counts.skippedNull++;
          continue;
        }
        let field: string;
        if (typeof v === 'number') {
          if (!Number.isFinite(v)) {
            counts.skippedNonFinite++;
            continue;
          }
          // Always float, never int: a value that is 3 now and 3.5 later must not be a field type conflict.
          field = String(v);
        } else if (typeof v === 'boolean') field = v ? 'T' : 'F';
        else field = quoted(v);
        const prefix = this.prefix(p);
        if (prefix !== undefined) line = `${prefix} value=${field} ${timestamp(p.ts)}`;
      }
      if (line === undefined) continue;
      body = lines === 0 ? line : `${body}\n${line}`;
      lines++;
    }
    return { body, lines };
  }

  private prefix(p: Point): string | undefined {
    const hit = this.prefixes.get(p.tags);
    if (hit !== undefined && hit.measurement === p.measurement) return hit.prefix;
    const prefix = seriesPrefix(p.measurement, p.tags);
    // Only frozen tags objects are shared and unchanging (the buffer's series); a caller's own
    // object could be changed in place after this batch.
    if (Object.isFrozen(p.tags)) this.prefixes.set(p.tags, { measurement: p.measurement, prefix });
    return prefix;
  }
}

/**
 * A write attempt (agent/writes): measurement `commands`, tagged like its point plus `outcome` and
 * `origin`; the values in float fields (a bool as 1/0) or `_text` fields. Rare, so not cached.
 */
function commandLine(p: Point, c: CommandRecord): string | undefined {
  const prefix = seriesPrefix('commands', { ...p.tags, outcome: c.outcome, origin: c.origin });
  if (prefix === undefined) return undefined;
  const fields: Array<[string, string]> = [
    ['by', quoted(c.by)],
    ['command_id', quoted(c.id)],
    ['verified', c.outcome === 'verified' ? 'T' : 'F'],
  ];
  if (c.code !== null) fields.push(['code', quoted(c.code)]);
  for (const [name, v] of [['requested', c.requested], ['previous', c.previous], ['readback', c.readback]] as const) {
    if (typeof v === 'number' && Number.isFinite(v)) fields.push([name, String(v)]);
    else if (typeof v === 'boolean') fields.push([name, v ? '1' : '0']);
    else if (v !== null && typeof v !== 'number') fields.push([`${name}_text`, quoted(String(v))]);
  }
  return `${prefix} ${sortedFields(fields)} ${timestamp(p.ts)}`;
}

function sortedFields(fields: Array<[string, string]>): string {
  fields.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  return fields.map(([k, v]) => `${escapeKey(k)}=${v}`).join(',');
}

/**
 * An alert event: measurement `alerts`, tagged like its point plus `rule` and `severity`, one line
 * per event at the event's time. Numbers go in float fields and anything else in `_text` fields,
 * so a state alert (`equals: tripped`) never conflicts with the field types of a threshold alert.
 * Fields in key order, as line protocol readers expect from the client.
 */
function alertLine(prefix: string | undefined, p: Point, a: AlertRecord): string | undefined {
  if (prefix === undefined) return undefined;
  const fields: Array<[string, string]> = [
    ['acknowledged', a.acknowledgedAt !== null ? 'T' : 'F'],
    ['active', a.state !== 'cleared' ? 'T' : 'F'],
    ['alert_id', quoted(a.id)],
    ['message', quoted(a.message)],
    ['state', quoted(a.state)],
  ];
  for (const [name, v] of [['value', p.value], ['threshold', a.threshold]] as const) {
    if (typeof v === 'number' && Number.isFinite(v)) fields.push([name, String(v)]);
    else if (v !== null && typeof v !== 'number') fields.push([`${name}_text`, quoted(String(v))]);
  }
  return `${prefix} ${sortedFields(fields)} ${timestamp(p.ts)}`;
}
