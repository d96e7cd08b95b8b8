/**
 * Resolution for the drivers whose points name a *field* of a message rather than an address:
 * serial line devices (`field` in a parsed line) and MQTT devices (`topic` + JSON `path`).
 * resolve.ts does what all drivers share (templates, merge, inherited tags, schedules) and hands
 * these devices and their merged points over here.
 */
import type { DeviceSettings, LineParseSettings, PointSettings } from './catalog.js';
import { mqttPoint, serialPoint } from './catalog.js';
import { childPath, formatPath, fromZod, zodMessage, type PathSegment } from './issues.js';
import { mergePoint } from './merge.js';
import { RESERVED_TAGS, fieldCollision } from './tags.js';
import { compileTopicPattern } from './topic-pattern.js';
import type { ConfigIssue, LineParse, MqttDevice, MqttPoint, Schedule, SerialDevice, SerialPoint } from './types.js';

type SerialDraft = Partial<Extract<DeviceSettings, { driver: 'serial' }>>;
type MqttDraft = Partial<Extract<DeviceSettings, { driver: 'mqtt' }>>;
export type FieldDraft = SerialDraft | MqttDraft;

/** Serial and MQTT devices are resolved here; the rest stays with resolve.ts. */
export function isFieldDraft(draft: Partial<DeviceSettings>): draft is FieldDraft {
  return draft.driver === 'serial' || draft.driver === 'mqtt';
}

function isSerialDraft(draft: FieldDraft): draft is SerialDraft {
  return draft.driver === 'serial';
}

/**
 * Streaming serial and MQTT devices have no schedule: resolve.ts must not ask for one. When
 * `every`/`cron` is given (or broken), it is judged as for any device.
 */
export function unscheduled(draft: FieldDraft, everyBroken: boolean, cronBroken: boolean): boolean {
  return draft.every === undefined && draft.cron === undefined && !everyBroken && !cronBroken;
}

export interface FieldPointOrigin {
  template: string | undefined;
  templateAt: PathSegment[];
  at: PathSegment[];
}

export type CheckedFieldPoint =
  | (Omit<SerialPoint, 'id' | 'deviceId' | 'measurement' | 'tags'> & { measurement?: string; tags?: Record<string, string> })
  | (Omit<MqttPoint, 'id' | 'deviceId' | 'measurement' | 'tags'> & { measurement?: string; tags?: Record<string, string> });

/** The merged point checked by its driver's point schema, with the defaults that need the point id. */
export function resolveFieldPoint(
  draft: FieldDraft,
  pointId: string,
  fromTemplate: PointSettings | undefined,
  fromDevice: PointSettings | undefined,
  origin: FieldPointOrigin,
  issues: ConfigIssue[],
  broken: { has(path: string): boolean },
): CheckedFieldPoint | undefined {
  const merged = mergePoint(fromTemplate, fromDevice);
  const before = issues.length;
  // Where a key was written: the device's override, else the template's point.
  const where = (key: keyof PointSettings): PathSegment[] => [...(fromDevice?.[key] !== undefined || fromTemplate?.[key] === undefined ? origin.at : origin.templateAt), key];

  let checked: CheckedFieldPoint | undefined;
  if (isSerialDraft(draft)) {
    // `temp: {}` reads the field called temp: the common case needs no `field:` at all.
    const parsed = serialPoint.safeParse({ field: pointId, ...merged }, { error: zodMessage });
    if (!parsed.success) issues.push(...withOrigin(fromZod(parsed.error, origin.at), origin, 'a serial'));
    else {
      const { maxSilence, ...rest } = parsed.data;
      if (draft.parse !== undefined) {
        const problem = fieldProblem(parseOf(draft.parse), rest.field);
        if (problem !== undefined) issues.push({ path: formatPath(where('field')), message: problem });
      }
      checked = { ...rest, ...(maxSilence === undefined ? {} : { maxSilenceMs: maxSilence }) };
    }
  } else {
    const topic = merged.topic ?? draft.topic;
    if (topic === undefined) {
      // A device topic that failed its own check has been reported already.
      if (!broken.has(formatPath(['devices', origin.at[1] ?? 0, 'topic']))) {
        issues.push({ path: formatPath([...origin.at, 'topic']), message: 'required: give the device a topic, or this point its own' });
      }
      return undefined;
    }
    const parsed = mqttPoint.safeParse({ ...merged, topic }, { error: zodMessage });
    if (!parsed.success) issues.push(...withOrigin(fromZod(parsed.error, origin.at), origin, 'an MQTT'));
    else {
      const { maxSilence, ...rest } = parsed.data;
      const pattern = compileTopicPattern(rest.topic);
      const topicAt = merged.topic === undefined ? ['devices', origin.at[1] ?? 0, 'topic'] : where('topic');
      for (const name of pattern.names) {
        if ((RESERVED_TAGS as readonly string[]).includes(name)) {
          issues.push({ path: formatPath(topicAt), message: `{${name}} would overwrite a reserved tag the agent sets itself (reserved: ${RESERVED_TAGS.join(', ')})` });
        }
        const collision = fieldCollision(name);
        if (collision !== undefined) issues.push({ path: formatPath(topicAt), message: `{${name}}: ${collision}` });
      }
      checked = {
        ...rest,
        filter: pattern.filter,
        captures: pattern.captures,
        ...(maxSilence === undefined ? {} : { maxSilenceMs: maxSilence }),
      };
    }
  }
  if (checked !== undefined && checked.min !== undefined && checked.max !== undefined && checked.min > checked.max) {
    issues.push({ path: formatPath([...origin.at, 'min']), message: `must not be above max (${checked.min} > ${checked.max})` });
  }
  return issues.length > before ? undefined : checked;
}

function withOrigin(found: ConfigIssue[], origin: FieldPointOrigin, kind: string): ConfigIssue[] {
  for (const issue of found) {
    // Modbus keys on a serial point, say: the template may have been written for another driver.
    if (issue.message === 'unknown key' && /(^|\.)write$/.test(issue.path)) {
      issue.message = `${kind} point cannot be written: only Modbus holding registers and coils take writes`;
    } else if (issue.message === 'unknown key') issue.message = `not ${kind} point key`;
    if (issue.message.startsWith('required') && origin.template !== undefined) {
      issue.message = issue.message.replace(/^required/, `required, set neither by template "${origin.template}" nor by this device`);
    }
  }
  return found;
}

/** The `parse:` settings in the form the driver uses. */
export function parseOf(p: LineParseSettings): LineParse {
  if (p.regex !== undefined) return { kind: 'regex', regex: p.regex };
  if (p.keyValue !== undefined) {
    return { kind: 'keyValue', valueSeparator: p.keyValue.valueSeparator, ...(p.keyValue.pairSeparator === undefined ? {} : { pairSeparator: p.keyValue.pairSeparator }) };
  }
  const csv = p.csv ?? { separator: ',' };
  return { kind: 'csv', separator: csv.separator, ...(csv.columns === undefined ? {} : { columns: csv.columns }) };
}

/** Named groups of a regex source: `(?<temp>…)` (not the lookbehinds `(?<=`, `(?<!`). */
export function regexGroupNames(source: string): string[] {
  return [...source.matchAll(/\(\?<([A-Za-z_$][\w$]*)>/g)].map((m) => m[1] as string);
}

function fieldProblem(parse: LineParse, field: string | number): string | undefined {
  switch (parse.kind) {
    case 'regex': {
      const names = regexGroupNames(parse.regex);
      if (typeof field === 'number') {
        let groups = 0;
        try {
          groups = new RegExp(`${parse.regex}|`).exec('')?.length ?? 1;
        } catch {
          return undefined; // the regex itself is reported at parse.regex
        }
        return field >= 1 && field < groups ? undefined : `the regex has no group ${field} (groups count from 1; it has ${groups - 1})`;
      }
      if (names.includes(field)) return undefined;
      return names.length === 0
        ? `the regex has no named groups: write (?<${field}>…) in parse.regex, or give a group number`
        : `the regex has no group named "${field}" (it has ${names.join(', ')})${fieldHint()}`;
    }
    case 'keyValue':
      return typeof field === 'number' ? 'a key=value line names its fields: give the key' : undefined;
    case 'csv':
      if (typeof field === 'number' || parse.columns?.includes(field)) return undefined;
      return parse.columns === undefined
        ? `"${field}" is not a column: give parse.csv.columns to name them, or a 0-based column number`
        : `"${field}" is not one of the columns (${parse.columns.join(', ')})${fieldHint()}`;
  }
}

function fieldHint(): string {
  return '; a point reads the field named like itself unless it gives field:';
}

/**
 * The resolved serial or MQTT device, or undefined when a part it needs failed (already
 * reported). Checks what only makes sense per device: a command needs a schedule and the
 * other way round; MQTT devices are not polled.
 */
export function resolveFieldDevice(
  draft: FieldDraft,
  base: { id: string; template?: string; tags: Record<string, string> },
  points: Array<SerialPoint | MqttPoint>,
  schedule: Schedule | undefined,
  path: string,
  issues: ConfigIssue[],
): SerialDevice | MqttDevice | undefined {
  if (isSerialDraft(draft)) {
    const polled = draft.every !== undefined || draft.cron !== undefined;
    if (draft.command !== undefined && !polled) {
      issues.push({ path: childPath(path, 'command'), message: 'a command is sent on a schedule: add every (e.g. 10s) or cron; a device that sends lines by itself needs no command' });
    }
    if (draft.command === undefined && polled) {
      issues.push({ path: childPath(path, draft.every !== undefined ? 'every' : 'cron'), message: 'a serial device is polled by sending a command: add command, or leave every/cron out for a device that sends lines by itself' });
    }
    if (draft.connection === undefined || draft.parse === undefined) return undefined;
    return {
      ...base,
      driver: 'serial',
      connection: draft.connection,
      parse: parseOf(draft.parse),
      ...(draft.command === undefined ? {} : { command: draft.command }),
      ...(schedule === undefined ? {} : { schedule }),
      points: points as SerialPoint[],
    };
  }
  if (draft.every !== undefined || draft.cron !== undefined) {
    issues.push({ path: childPath(path, draft.every !== undefined ? 'every' : 'cron'), message: 'MQTT devices are not polled (a reading arrives whenever the sensor publishes): remove it' });
  }
  return {
    ...base,
    driver: 'mqtt',
    qos: draft.qos ?? 0,
    ...(draft.connection === undefined ? {} : { connection: draft.connection }),
    points: points as MqttPoint[],
  };
}

/** Point keys of the serial and MQTT drivers: on a Modbus point they are mistakes. */
const FIELD_POINT_KEYS = ['field', 'path', 'topic'] as const;

/** Reports serial/MQTT keys on a Modbus point; the point is dropped when there are any. */
export function rejectForeignKeys<T>(
  fromTemplate: PointSettings | undefined,
  fromDevice: PointSettings | undefined,
  origin: FieldPointOrigin,
  issues: ConfigIssue[],
  point: T | undefined,
): T | undefined {
  let found = false;
  for (const key of FIELD_POINT_KEYS) {
    const at = fromDevice?.[key] !== undefined ? origin.at : fromTemplate?.[key] !== undefined ? origin.templateAt : undefined;
    if (at === undefined) continue;
    found = true;
    issues.push({ path: formatPath([...at, key]), message: `not a Modbus point key (${key} belongs to ${key === 'field' ? 'serial' : 'MQTT'} points)` });
  }
  return found ? undefined : point;
}
