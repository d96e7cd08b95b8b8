// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing, config hints); may import config, drivers, buffer, sinks and agent/logger.
/**
 * Every hint on a valid config (likely mistakes, never errors): what the config room sees in the
 * catalog as written, and what the Modbus driver works out for each RTU bus from its read plans.
 * `validate` prints them; `run` logs them as warnings at start.
 */
import type { AgentConfig, ConfigIssue } from '../../config/types.js';
import { busTimingHints } from '../../drivers/modbus/bus-timing.js';

/** What the watchdog allows a poll when systemd sets none (agent.ts: pollStallMs) — the unit's WatchdogSec=60s. */
export const DEFAULT_WATCHDOG_MS = 60_000;

export function configHints(config: AgentConfig, watchdogMs = DEFAULT_WATCHDOG_MS): ConfigIssue[] {
  return [...(config.hints ?? []), ...busTimingHints(config.devices, { watchdogMs })];
}

/** `validate`'s lines: nothing when there is no hint. */
export function formatHints(source: string, hints: readonly ConfigIssue[]): string[] {
  if (hints.length === 0) return [];
  const n = hints.length;
  return [`${source}: ${n} warning${n === 1 ? '' : 's'} (likely mistakes; the config is valid)`, ...hints.map((h) => `  ${h.path}: ${h.message}`)];
}
