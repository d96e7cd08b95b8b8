// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/**
 * The stages of a staged rollout: `canary` gateways first, each alone, then batches. A batch given
 * as a percentage is that share of the gateways selected for the rollout (rounded up, at least 1),
 * not of those still to push, so a resumed rollout keeps its batch size.
 */
export type BatchSize = { count: number } | { percent: number };

export interface Stage {
  name: string;
  gateways: string[];
}

export function batchCount(batch: BatchSize, selected: number): number {
  if ('count' in batch) return batch.count;
  return Math.max(1, Math.ceil((selected * batch.percent) / 100));
}

export function planStages(toPush: readonly string[], selected: number, canary: number, batch: BatchSize): Stage[] {
  const stages: Stage[] = [];
  const canaries = toPush.slice(0, canary);
  canaries.forEach((gw, i) => stages.push({ name: `canary ${i + 1}`, gateways: [gw] }));
  const size = batchCount(batch, selected);
  const rest = toPush.slice(canaries.length);
  for (let i = 0; i < rest.length; i += size) stages.push({ name: `batch ${stages.length - canaries.length + 1}`, gateways: rest.slice(i, i + size) });
  return stages;
}

/** `5` or `20%`; undefined when it is neither. */
export function parseBatch(text: string): BatchSize | undefined {
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (pct !== null) {
    const percent = Number(pct[1]);
    return percent > 0 && percent <= 100 ? { percent } : undefined;
  }
  return /^[1-9]\d*$/.test(text) ? { count: Number(text) } : undefined;
}
