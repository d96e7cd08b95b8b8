/**
 * A device's poll schedule: exactly one of `every` (a duration) or `cron`. A cron expression is
 * checked with cron-parser, the parser node-schedule runs it with, so what passes here is what
 * the scheduler accepts. (cron-parser arrives through node-schedule; it should also be listed in
 * package.json as a direct dependency.)
 */
import cronParser from 'cron-parser';
import { formatDuration } from './duration.js';
import { childPath } from './issues.js';
import type { ConfigIssue, Schedule } from './types.js';

/** Faster than this is a typo (`10` meant as seconds) and would saturate a serial bus. */
export const MIN_EVERY_MS = 100;

const MACROS = ['@yearly', '@monthly', '@weekly', '@daily', '@hourly'];

export interface ScheduleInput {
  every?: number | undefined;
  cron?: string | undefined;
  /** The key was present but invalid (already reported): judge nothing that depends on it. */
  everyBroken?: boolean;
  cronBroken?: boolean;
}

export function resolveSchedule(input: ScheduleInput, devicePath: string): { schedule?: Schedule; issues: ConfigIssue[] } {
  const hasEvery = input.every !== undefined || input.everyBroken === true;
  const hasCron = input.cron !== undefined || input.cronBroken === true;
  if (hasEvery && hasCron) {
    return { issues: [{ path: devicePath, message: 'set either every or cron, not both' }] };
  }
  if (!hasEvery && !hasCron) {
    return { issues: [{ path: devicePath, message: 'no schedule: set every (e.g. 10s) or cron (e.g. "*/5 * * * *")' }] };
  }
  if (input.every !== undefined) {
    if (input.every < MIN_EVERY_MS) {
      return { issues: [{ path: childPath(devicePath, 'every'), message: `must be at least ${MIN_EVERY_MS}ms (got ${formatDuration(input.every)})` }] };
    }
    return { schedule: { kind: 'every', everyMs: input.every }, issues: [] };
  }
  if (input.cron !== undefined) {
    const problem = cronProblem(input.cron);
    if (problem !== undefined) return { issues: [{ path: childPath(devicePath, 'cron'), message: problem }] };
    return { schedule: { kind: 'cron', cron: input.cron.trim() }, issues: [] };
  }
  return { issues: [] };
}

/** Why a cron expression is unusable, or undefined when it is fine. */
export function cronProblem(expression: string): string | undefined {
  const text = expression.trim();
  if (text.startsWith('@')) {
    return MACROS.includes(text) ? undefined : `unknown cron macro "${text}" (use one of ${MACROS.join(', ')})`;
  }
  // cron-parser fills in missing fields ("* * *" parses), which hides a mistake; ask for all of them.
  const fields = text === '' ? 0 : text.split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    return `invalid cron expression "${text}": expected 5 fields (minute hour day month weekday) or 6 with seconds first, got ${fields}`;
  }
  try {
    cronParser.parseExpression(text);
    return undefined;
  } catch (err) {
    return `invalid cron expression "${text}": ${(err as Error).message}`;
  }
}
