/**
 * How a template's point and a device's override of it combine: key by key, the device winning.
 * `tags` merge (a device adds to or changes the template's tags); `map` is replaced whole,
 * because a value map is one lookup table and half of an old one would mislabel values.
 * `alerts` merge by rule id (config/alerts.ts).
 */
import { mergeAlertRules } from './alerts.js';
import type { PointSettings } from './catalog.js';
import { mergeWrite } from './write.js';

const MERGED_MAPS = ['tags'] as const;

export function mergePoint(base: PointSettings | undefined, override: PointSettings | undefined): PointSettings {
  const merged: Record<string, unknown> = {};
  for (const source of [base, override]) {
    if (source === undefined) continue;
    for (const [key, value] of Object.entries(source)) {
      if (value !== undefined) merged[key] = value;
    }
  }
  for (const key of MERGED_MAPS) {
    if (base?.[key] !== undefined && override?.[key] !== undefined) merged[key] = { ...base[key], ...override[key] };
  }
  const alerts = mergeAlertRules(base?.alerts, override?.alerts);
  if (alerts !== undefined) merged.alerts = alerts;
  const write = mergeWrite(base?.write, override?.write);
  if (write !== undefined) merged.write = write;
  return merged as PointSettings;
}
