// Room agent/alerts: local alert thresholds and their persisted state; may import buffer, config, agent/pipeline and agent/{clock,logger}.
/**
 * Whether a rule's condition holds for a new value: pure functions of the rule, the value and
 * what the rule remembers (`wasOn` for hysteresis, a short window for rate of change). Timing —
 * on- and off-delays, staleness — is the engine's (engine.ts); latching and acknowledgement too.
 */
import type { Point, Value } from '../../buffer/types.js';
import type { AlertRule } from '../../config/types.js';
import { formatDuration } from '../../config/duration.js';

/** Recent (time, value) samples of a rate-of-change rule, oldest first, spanning at most `per`. */
export type RateWindow = Array<{ t: number; v: number }>;

export type RuleKind = 'above' | 'below' | 'equals' | 'rateOfChange' | 'stale' | 'badQuality';

export function ruleKind(rule: AlertRule): RuleKind {
  if (rule.above !== undefined) return 'above';
  if (rule.below !== undefined) return 'below';
  if (rule.equals !== undefined) return 'equals';
  if (rule.rateOfChange !== undefined) return 'rateOfChange';
  if (rule.stale !== undefined) return 'stale';
  return 'badQuality';
}

/** A point carries a usable value: the device answered and the transform kept it. */
export function hasValue(p: Point): boolean {
  return p.quality !== 'bad' && p.value !== null;
}

/**
 * The condition of a value rule (above, below, equals, rateOfChange) for point `p`, or undefined
 * when the point says nothing about it (no value, a non-number for a numeric rule): the state
 * then stays as it is, and stale / badQuality rules speak for the device.
 *
 * Hysteresis: once on, an `above` rule stays on until the value falls below `clearBelow` (without
 * one, until it is no longer above the threshold); `below` mirrors it with `clearAbove`.
 */
export function valueCondition(rule: AlertRule, p: Point, wasOn: boolean, window: RateWindow): boolean | undefined {
  if (!hasValue(p)) return undefined;
  const v = p.value as Value;
  if (rule.equals !== undefined) return String(v) === String(rule.equals);
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  if (rule.above !== undefined) return wasOn ? (rule.clearBelow !== undefined ? v >= rule.clearBelow : v > rule.above) : v > rule.above;
  if (rule.below !== undefined) return wasOn ? (rule.clearAbove !== undefined ? v <= rule.clearAbove : v < rule.below) : v < rule.below;
  const roc = rule.rateOfChange;
  if (roc === undefined) return undefined;
  // The change within the last `per`: from the lowest (rise) or highest (fall) value in the window.
  while (window.length > 0 && (window[0] as { t: number }).t < p.ts - roc.per) window.shift();
  if (window.length >= 10_000) window.shift();
  window.push({ t: p.ts, v });
  if (roc.rise !== undefined) return v - Math.min(...window.map((s) => s.v)) >= roc.rise;
  return Math.max(...window.map((s) => s.v)) - v >= (roc.fall ?? Infinity);
}

/** The limit a rule compares against, as stored with the alert. */
export function thresholdOf(rule: AlertRule): Value | null {
  if (rule.above !== undefined) return rule.above;
  if (rule.below !== undefined) return rule.below;
  if (rule.equals !== undefined) return rule.equals;
  if (rule.rateOfChange !== undefined) return rule.rateOfChange.rise ?? rule.rateOfChange.fall ?? null;
  if (rule.stale !== undefined) return rule.stale;
  return null;
}

/** What the alert says when the rule gives no `message`: the point, the value and the limit. */
export function defaultMessage(rule: AlertRule, pointId: string, value: Value | null, unit: string | undefined, error: string | undefined): string {
  const u = unit === undefined || unit === '' ? '' : ` ${unit}`;
  const shown = value === null ? 'no value' : `${String(value)}${typeof value === 'number' ? u : ''}`;
  switch (ruleKind(rule)) {
    case 'above':
      return `${pointId} ${shown} is above ${rule.above}${u}`;
    case 'below':
      return `${pointId} ${shown} is below ${rule.below}${u}`;
    case 'equals':
      return `${pointId} is ${String(rule.equals)}`;
    case 'rateOfChange': {
      const roc = rule.rateOfChange as { rise?: number; fall?: number; per: number };
      return `${pointId} ${roc.rise !== undefined ? 'rose' : 'fell'} by ${roc.rise ?? roc.fall}${u} or more within ${formatDuration(roc.per)} (now ${shown})`;
    }
    case 'stale':
      return `${pointId}: no reading for ${formatDuration(rule.stale ?? 0)}`;
    case 'badQuality':
      return `${pointId}: the device does not deliver a value${error === undefined ? '' : ` (${error})`}`;
  }
}
