// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/** The options of `edge-agent fleet push`, checked before anything is read or connected. */
import { parseDuration } from '../../config/duration.js';
import type { FleetPushOptions } from './fleet-push.js';
import { parseBatch } from './fleet-stages.js';

export interface FleetPushArgs {
  central?: string | undefined;
  prefix?: string | undefined;
  key?: string | undefined;
  rev?: string | undefined;
  gateways?: string | undefined;
  all?: boolean | undefined;
  canary?: string | undefined;
  batch?: string | undefined;
  timeout?: string | undefined;
  wait?: string | undefined;
  json?: boolean | undefined;
}

/** The options, or the usage error to print. */
export function fleetPushOptions(values: FleetPushArgs, file: string | undefined): FleetPushOptions | { usage: string } {
  if (file === undefined) return { usage: 'missing FILE to push' };
  if (values.central === undefined) return { usage: 'missing --central URL' };
  if (values.key === undefined) return { usage: 'missing --key PRIVATE_KEY' };
  if (values.rev === undefined || !/^[1-9]\d*$/.test(values.rev) || !Number.isSafeInteger(Number(values.rev))) return { usage: '--rev N is required, a whole number, at least 1' };
  if ((values.gateways === undefined) === (values.all !== true)) return { usage: 'give either --gateways a,b,… or --all' };
  let gateways: string[] | 'all' = 'all';
  if (values.gateways !== undefined) {
    gateways = values.gateways.split(',').map((g) => g.trim());
    if (gateways.some((g) => g === '' || /[/+#]/.test(g))) return { usage: `--gateways takes gateway ids separated by commas (got ${JSON.stringify(values.gateways)})` };
    if (new Set(gateways).size !== gateways.length) return { usage: '--gateways names a gateway twice' };
  }
  const canary = values.canary === undefined ? 1 : Number(values.canary);
  if (!Number.isInteger(canary) || canary < 0) return { usage: `--canary takes a whole number of gateways, 0 or more (got ${JSON.stringify(values.canary)})` };
  const batch = parseBatch(values.batch ?? '10%');
  if (batch === undefined) return { usage: `--batch takes a number of gateways (5) or a percentage of them (20%) (got ${JSON.stringify(values.batch)})` };
  const durations: Record<'timeout' | 'wait', number> = { timeout: 60_000, wait: 2_000 };
  for (const name of ['timeout', 'wait'] as const) {
    const text = values[name];
    if (text === undefined) continue;
    try {
      durations[name] = parseDuration(text);
    } catch (err) {
      return { usage: `--${name} takes a duration such as 60s: ${(err as Error).message}` };
    }
    if (!(durations[name] > 0)) return { usage: `--${name} must be longer than 0` };
  }
  return {
    central: values.central,
    prefix: values.prefix ?? 'edge',
    key: values.key,
    rev: Number(values.rev),
    file,
    gateways,
    canary,
    batch,
    timeoutMs: durations.timeout,
    waitMs: durations.wait,
    json: values.json === true,
  };
}
