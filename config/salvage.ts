/**
 * When the catalog fails its schema, the parts that do parse are kept so that resolve.ts can
 * still check them (unknown templates, schedules, merged points): a technician gets every
 * mistake in one pass instead of one layer per run. What fails is simply left out; the schema
 * has already reported it, and resolve.ts is told not to report its absence again.
 */
import type { z } from 'zod';
import { ID_PATTERN, device, deviceBase, pointSettings, template, type PointSettings } from './catalog.js';
import type { DeviceDraft, TemplateDraft } from './resolve.js';

export interface SalvagedCatalog {
  templates: Record<string, TemplateDraft>;
  devices: (DeviceDraft | undefined)[];
}

export function salvageCatalog(raw: Readonly<Record<string, unknown>>): SalvagedCatalog {
  const templates: Record<string, TemplateDraft> = {};
  if (isMapping(raw.templates)) {
    for (const [id, value] of Object.entries(raw.templates)) {
      if (ID_PATTERN.test(id) && isMapping(value)) templates[id] = salvageFields(template.shape, value) as TemplateDraft;
    }
  }
  const devices = Array.isArray(raw.devices) ? raw.devices.map(salvageDevice) : [];
  return { templates, devices };
}

function salvageDevice(value: unknown): DeviceDraft | undefined {
  if (!isMapping(value)) return undefined;
  // With an unknown driver only the fields every device shares can be judged.
  const option = device.options.find((o) => o.shape.driver.value === value.driver);
  return salvageFields(option?.shape ?? deviceBase, value) as DeviceDraft;
}

function salvageFields(shape: Readonly<Record<string, z.ZodType>>, value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(shape)) {
    if (key === 'points') {
      if (value.points === undefined || isMapping(value.points)) out.points = salvagePoints(value.points ?? {});
      continue;
    }
    const parsed = schema.safeParse(value[key]);
    if (parsed.success && parsed.data !== undefined) out[key] = parsed.data;
  }
  return out;
}

function salvagePoints(points: Record<string, unknown>): Record<string, PointSettings> {
  const out: Record<string, PointSettings> = {};
  for (const [id, value] of Object.entries(points)) {
    const parsed = pointSettings.safeParse(value);
    if (ID_PATTERN.test(id) && parsed.success) out[id] = parsed.data;
  }
  return out;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
