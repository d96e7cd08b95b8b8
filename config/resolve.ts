/**
 * From catalog to running devices: each device's template is merged in, every merged point is
 * checked by its driver's point schema, measurements and tags are inherited, schedules checked.
 *
 * It also runs over a catalog that failed its schema (salvaged parts, see salvage.ts) so that
 * a file's mistakes are all reported at once; `broken` names the parts already reported.
 */
import type { DeviceSettings, PointSettings, Template } from './catalog.js';
import { modbusPoint, modbusPointWords } from './catalog.js';
import { PathSet, childPath, formatPath, fromZod, zodMessage, type PathSegment } from './issues.js';
import { mergePoint } from './merge.js';
import { applyModbusPointDefaults, modbusBusIssues, modbusDeviceExtras, modbusPointIssues } from './modbus.js';
import { resolveSchedule } from './schedule.js';
import { resolveWrite } from './write.js';
import { reservedTagIssues } from './tags.js';
import { isFieldDraft, rejectForeignKeys, resolveFieldDevice, resolveFieldPoint, unscheduled } from './resolve-fields.js';
import type { ConfigIssue, ModbusPoint, MqttPoint, ResolvedDevice, ResolvedPoint, SerialPoint, Settings } from './types.js';

/** A device as far as it parsed: any key may be missing when the device failed its schema. */
export type DeviceDraft = Partial<DeviceSettings>;
export type TemplateDraft = Partial<Template>;

export interface ResolveInput {
  settings: Settings;
  templates: Readonly<Record<string, TemplateDraft>>;
  devices: readonly (DeviceDraft | undefined)[];
  broken?: PathSet;
  /** The names of the built-in templates (templates/), for the unknown-template message. */
  builtin?: readonly string[];
}

export interface Resolved {
  /** Enabled devices only; complete only when `issues` is empty. */
  devices: ResolvedDevice[];
  issues: ConfigIssue[];
}

const BIT_REGISTERS: readonly string[] = ['coil', 'discrete'];

export function resolveDevices(input: ResolveInput): Resolved {
  const broken = input.broken ?? new PathSet();
  const issues: ConfigIssue[] = [];
  for (const [id, template] of Object.entries(input.templates)) issues.push(...templateTagIssues(id, template));

  const devices: ResolvedDevice[] = [];
  const firstIndex = new Map<string, number>();
  input.devices.forEach((draft, index) => {
    if (draft === undefined) return;
    const path = formatPath(['devices', index]);
    const deviceIssues: ConfigIssue[] = [];
    if (draft.id !== undefined) {
      const first = firstIndex.get(draft.id);
      if (first === undefined) firstIndex.set(draft.id, index);
      else deviceIssues.push({ path: childPath(path, 'id'), message: `duplicate device id "${draft.id}" (also devices[${first}])` });
    }
    const device = resolveDevice(draft, index, input, broken, deviceIssues);
    issues.push(...deviceIssues);
    // A disabled device is checked like any other, then left out of what runs.
    if (device !== undefined && deviceIssues.length === 0 && draft.enabled !== false) devices.push(device);
  });
  issues.push(...modbusBusIssues(input.devices));
  return { devices, issues };
}

function templateTagIssues(id: string, template: TemplateDraft): ConfigIssue[] {
  const path = formatPath(['templates', id]);
  const issues = reservedTagIssues(template.tags, childPath(path, 'tags'));
  for (const [pointId, point] of Object.entries(template.points ?? {})) {
    issues.push(...reservedTagIssues(point.tags, formatPath(['templates', id, 'points', pointId, 'tags'])));
  }
  return issues;
}

function resolveDevice(draft: DeviceDraft, index: number, input: ResolveInput, broken: PathSet, issues: ConfigIssue[]): ResolvedDevice | undefined {
  const path = formatPath(['devices', index]);
  issues.push(...reservedTagIssues(draft.tags, childPath(path, 'tags')));
  for (const [pointId, point] of Object.entries(draft.points ?? {})) {
    issues.push(...reservedTagIssues(point.tags, formatPath(['devices', index, 'points', pointId, 'tags'])));
  }

  const everyBroken = broken.has(childPath(path, 'every'));
  const cronBroken = broken.has(childPath(path, 'cron'));
  // Streaming serial and MQTT devices have no schedule (resolve-fields.ts).
  const { schedule, issues: scheduleIssues } = isFieldDraft(draft) && unscheduled(draft, everyBroken, cronBroken)
    ? { schedule: undefined, issues: [] }
    : resolveSchedule({ every: draft.every, cron: draft.cron, everyBroken, cronBroken }, path);
  issues.push(...scheduleIssues);

  // Which template, and whether the points can be judged at all: when the template or the
  // points themselves failed the schema, a "required" here would only repeat that error.
  let template: TemplateDraft | undefined;
  let pointsKnown = !broken.hasExact(childPath(path, 'points'));
  if (draft.template !== undefined) {
    template = input.templates[draft.template];
    const templatePath = formatPath(['templates', draft.template]);
    if (template === undefined) {
      if (broken.has(templatePath)) pointsKnown = false;
      else issues.push({ path: childPath(path, 'template'), message: unknownTemplate(draft.template, Object.keys(input.templates), input.builtin ?? []) });
    } else if (broken.hasExact(childPath(templatePath, 'points'))) {
      pointsKnown = false;
    }
  } else if (broken.has(childPath(path, 'template'))) {
    pointsKnown = false;
  }

  if (isFieldDraft(draft)) {
    const fieldPoints = pointsKnown ? resolvePoints<SerialPoint | MqttPoint>(draft, index, template, input.settings, broken, issues) : [];
    if (draft.id === undefined) return undefined;
    const base = { id: draft.id, ...(draft.template === undefined ? {} : { template: draft.template }), tags: { ...customTags(input.settings, template, draft), ...reservedTags(input.settings, draft.id) } };
    return resolveFieldDevice(draft, base, fieldPoints, schedule, path, issues);
  }
  const points = pointsKnown ? resolvePoints(draft, index, template, input.settings, broken, issues) : [];
  const { id, driver, connection } = draft;
  if (id === undefined || driver === undefined || connection === undefined || schedule === undefined) return undefined;
  return {
    id,
    driver,
    connection,
    schedule,
    ...modbusDeviceExtras(draft),
    ...(draft.template === undefined ? {} : { template: draft.template }),
    tags: { ...customTags(input.settings, template, draft), ...reservedTags(input.settings, id) },
    points,
  };
}

function unknownTemplate(name: string, all: string[], builtin: readonly string[]): string {
  const known = all.filter((k) => !builtin.includes(k));
  const defined = known.length === 0 ? 'no templates are defined' : `defined: ${known.join(', ')}`;
  const shipped = builtin.length === 0 ? '' : `; built in: ${builtin.join(', ')}`;
  return `unknown template "${name}" (${defined}${shipped})`;
}

/** Template points first, in the template's order, then the points only the device has. */
function resolvePoints<P extends ResolvedPoint = ModbusPoint>(
  draft: DeviceDraft,
  index: number,
  template: TemplateDraft | undefined,
  settings: Settings,
  broken: PathSet,
  issues: ConfigIssue[],
): P[] {
  const own = draft.points ?? {};
  const inherited = template?.points ?? {};
  const ids = [...new Set([...Object.keys(inherited), ...Object.keys(own)])];
  const points: P[] = [];
  for (const pointId of ids) {
    const at: PathSegment[] = ['devices', index, 'points', pointId];
    const templateAt: PathSegment[] = ['templates', draft.template ?? '', 'points', pointId];
    if (broken.has(formatPath(at)) || (template !== undefined && broken.has(formatPath(templateAt)))) continue;
    const origin: PointOrigin = { template: inherited[pointId] === undefined ? undefined : draft.template, templateAt, at };
    // The driver's point schema judges the merged point: serial and MQTT points in resolve-fields.ts.
    const point = isFieldDraft(draft)
      ? resolveFieldPoint(draft, pointId, inherited[pointId], own[pointId], origin, issues, broken)
      : rejectForeignKeys(inherited[pointId], own[pointId], origin, issues, resolvePoint(inherited[pointId], own[pointId], origin, issues));
    if (point === undefined || draft.id === undefined) continue;
    const { measurement, tags, ...addressAndTransform } = point;
    points.push({
      id: pointId,
      deviceId: draft.id,
      // point > device > template: a device-level choice beats the profile it instantiates
      measurement: measurement ?? draft.measurement ?? template?.measurement ?? 'telemetry',
      tags: { ...customTags(settings, template, draft), ...tags, ...reservedTags(settings, draft.id), point: pointId },
      ...addressAndTransform,
    } as ResolvedPoint as P);
  }
  return points;
}

interface PointOrigin {
  /** The template the point comes from, when it does. */
  template: string | undefined;
  templateAt: PathSegment[];
  at: PathSegment[];
}

type CheckedPoint = Omit<ModbusPoint, 'id' | 'deviceId' | 'measurement' | 'tags'> & { measurement?: string; tags?: Record<string, string> };

function resolvePoint(
  fromTemplate: PointSettings | undefined,
  fromDevice: PointSettings | undefined,
  origin: PointOrigin,
  issues: ConfigIssue[],
): CheckedPoint | undefined {
  const merged = mergePoint(fromTemplate, fromDevice);
  const before = issues.length;
  if (merged.register !== undefined && BIT_REGISTERS.includes(merged.register)) {
    if (merged.type === undefined) merged.type = 'bool';
    else if (merged.type !== 'bool') {
      // Report it where the type was written, once, not on every device using the template.
      const where = fromDevice?.type !== undefined ? origin.at : origin.templateAt;
      issues.push({ path: formatPath([...where, 'type']), message: `a ${merged.register} holds one bit: type must be bool (got ${merged.type})` });
    }
  }
  applyModbusPointDefaults(merged);
  // The driver's point schema judges the complete point (a second driver would pick its own here).
  const parsed = modbusPoint.safeParse(merged, { error: zodMessage });
  if (!parsed.success) {
    for (const issue of fromZod(parsed.error, origin.at)) {
      // Say where the point came from: the fix may belong in the template.
      if (issue.message.startsWith('required') && origin.template !== undefined) {
        issue.message = issue.message.replace(/^required/, `required, set neither by template "${origin.template}" nor by this device`);
      }
      issues.push(issue);
    }
    return undefined;
  }
  const p = parsed.data;
  if (p.address + modbusPointWords(p) - 1 > 65535) {
    issues.push({ path: formatPath([...origin.at, 'address']), message: `a ${p.type} at ${p.address} runs past the last register (65535)` });
  }
  issues.push(...modbusPointIssues(p, origin.at));
  if (p.min !== undefined && p.max !== undefined && p.min > p.max) {
    issues.push({ path: formatPath([...origin.at, 'min']), message: `must not be above max (${p.min} > ${p.max})` });
  }
  if (issues.length > before) return undefined;
  const { maxSilence, write: writeSettings, ...rest } = p;
  const judged = { ...rest, ...(maxSilence === undefined ? {} : { maxSilenceMs: maxSilence }) };
  if (writeSettings === undefined) return judged;
  // Reported where the block was written: the device's override, else the template's point.
  const { write, issues: writeIssues } = resolveWrite(writeSettings, judged, fromDevice?.write !== undefined ? origin.at : origin.templateAt);
  issues.push(...writeIssues);
  return write === undefined ? undefined : { ...judged, write };
}

function customTags(settings: Settings, template: TemplateDraft | undefined, draft: DeviceDraft): Record<string, string> {
  return { ...settings.gateway.tags, ...template?.tags, ...draft.tags };
}

function reservedTags(settings: Settings, deviceId: string): Record<string, string> {
  return { gateway: settings.gateway.id, site: settings.gateway.site, device: deviceId };
}
