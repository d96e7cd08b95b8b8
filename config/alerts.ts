/**
 * Alert rules on a point (`alerts:` in a template point, a device point or an override), checked
 * with the rest of the catalog. A rule has exactly one condition; its id (given, or derived from
 * the condition, e.g. `above-120`) names the alert on the local broker, in the state file and
 * centrally, so it must stay the same from one start to the next. agent/alerts evaluates them.
 *
 * Kept apart from catalog.ts, which imports it: this file must not import catalog.ts back.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';

export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export const ALERT_CONDITIONS = ['above', 'below', 'equals', 'rateOfChange', 'stale', 'badQuality'] as const;

const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

const delay = z.union([z.string(), z.number()]).transform((v, ctx): number => {
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const rateOfChange = z
  .strictObject({
    // a rise (or fall) of at least this much within `per`
    rise: z.number().positive().optional(),
    fall: z.number().positive().optional(),
    per: delay.default(60_000),
  })
  .superRefine((r, ctx) => {
    if ((r.rise === undefined) === (r.fall === undefined)) {
      ctx.addIssue({ code: 'custom', message: r.rise === undefined ? 'give rise or fall (e.g. rise: 5, per: 1m)' : 'give rise or fall, not both (write two rules)' });
    }
    if (r.per <= 0) ctx.addIssue({ code: 'custom', path: ['per'], message: 'must be a duration above 0' });
  });

export const alertRule = z
  .strictObject({
    id: z.string().regex(RULE_ID, "a rule id must start with a letter or digit and hold only letters, digits, '_', '.', ':' or '-'").optional(),
    // the condition: exactly one of these
    above: z.number().finite().optional(),
    below: z.number().finite().optional(),
    equals: z.union([z.string(), z.number(), z.boolean()], { error: 'must be text, a number or true/false' }).optional(),
    rateOfChange: rateOfChange.optional(),
    stale: delay.optional(),
    badQuality: z.literal(true, { error: 'must be true (leave it out otherwise)' }).optional(),
    // hysteresis: an `above` alert clears only below clearBelow, a `below` alert only above clearAbove
    clearBelow: z.number().finite().optional(),
    clearAbove: z.number().finite().optional(),
    // on-delay and off-delay: the condition must hold (or be gone) this long
    for: delay.optional(),
    clearFor: delay.optional(),
    severity: z.enum(SEVERITIES).default('warning'),
    // stays active after the condition is gone, until someone acknowledges it
    latch: z.boolean().default(false),
    message: z.string().min(1).optional(),
  })
  .superRefine((r, ctx) => {
    const given = ALERT_CONDITIONS.filter((k) => r[k] !== undefined);
    if (given.length === 0) ctx.addIssue({ code: 'custom', message: `give a condition: one of ${ALERT_CONDITIONS.join(', ')}` });
    if (given.length > 1) ctx.addIssue({ code: 'custom', message: `give one condition per rule (got ${given.join(', ')}): write one rule for each` });
    if (r.clearBelow !== undefined) {
      if (r.above === undefined) ctx.addIssue({ code: 'custom', path: ['clearBelow'], message: 'goes with above (an above alert clears below it)' });
      else if (r.clearBelow > r.above) ctx.addIssue({ code: 'custom', path: ['clearBelow'], message: `must not be above the threshold (${r.clearBelow} > above ${r.above})` });
    }
    if (r.clearAbove !== undefined) {
      if (r.below === undefined) ctx.addIssue({ code: 'custom', path: ['clearAbove'], message: 'goes with below (a below alert clears above it)' });
      else if (r.clearAbove < r.below) ctx.addIssue({ code: 'custom', path: ['clearAbove'], message: `must not be below the threshold (${r.clearAbove} < below ${r.below})` });
    }
    if (r.stale !== undefined && r.stale <= 0) ctx.addIssue({ code: 'custom', path: ['stale'], message: 'must be a duration above 0 (e.g. 5m)' });
  })
  .transform((r) => ({ ...r, id: r.id ?? derivedRuleId(r) }));

export type AlertRuleSettings = z.input<typeof alertRule>;
/** A checked rule: id always set, durations in ms, defaults applied. */
export type AlertRule = z.output<typeof alertRule>;

/** A point's rules; ids must differ, as each names one alert. */
export const alertRules = z.array(alertRule).superRefine((rules, ctx) => {
  const first = new Map<string, number>();
  rules.forEach((r, i) => {
    const at = first.get(r.id);
    if (at === undefined) first.set(r.id, i);
    else ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate rule id "${r.id}" (also alerts[${at}]): give one of them its own id` });
  });
});

/** `above-120`, `below-5`, `equals-tripped`, `rise-5`, `fall-2`, `stale`, `bad-quality`. */
export function derivedRuleId(r: {
  above?: number | undefined;
  below?: number | undefined;
  equals?: string | number | boolean | undefined;
  rateOfChange?: { rise?: number | undefined; fall?: number | undefined } | undefined;
  stale?: number | undefined;
}): string {
  const safe = (v: string | number | boolean) => String(v).replace(/[^A-Za-z0-9_.:-]/g, '_');
  if (r.above !== undefined) return `above-${safe(r.above)}`;
  if (r.below !== undefined) return `below-${safe(r.below)}`;
  if (r.equals !== undefined) return `equals-${safe(r.equals)}`;
  if (r.rateOfChange !== undefined) return r.rateOfChange.rise !== undefined ? `rise-${safe(r.rateOfChange.rise)}` : `fall-${safe(r.rateOfChange.fall ?? 0)}`;
  if (r.stale !== undefined) return 'stale';
  return 'bad-quality';
}

/**
 * A template point's rules with a device's override of them: the same id replaces the
 * template's rule where it stood, a new id is added after them. So a device can retune
 * `above-120` (same id) or add its own without repeating the profile.
 */
export function mergeAlertRules(base: readonly AlertRule[] | undefined, override: readonly AlertRule[] | undefined): AlertRule[] | undefined {
  if (base === undefined || override === undefined) return override?.slice() ?? base?.slice();
  const out = base.slice();
  for (const r of override) {
    const i = out.findIndex((b) => b.id === r.id);
    if (i >= 0) out[i] = r;
    else out.push(r);
  }
  return out;
}
