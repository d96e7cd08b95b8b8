// Room agent/central: the ops link over MQTT (config push, commands, reports); may import config and the running rooms, never commands or agent.ts.
/**
 * What applying a new config to a running agent means: which devices start, stop or restart,
 * which sinks are rebuilt, and which settings only take effect at the next restart (the buffer
 * file, the HTTP listener, the embedded broker, the set of sinks the buffer keeps cursors for).
 * Devices compare by their resolved form, so a template change restarts exactly the devices that
 * use it, and an untouched device keeps polling through a push.
 */
import { canonicalJson } from '../../config/signing.js';
import type { AgentConfig } from '../../config/types.js';

export interface ApplyPlan {
  added: string[];
  removed: string[];
  changed: string[];
  /** Sinks whose settings changed (same sink, new URL, token…): rebuilt in place. */
  sinks: string[];
  /** Settings paths that changed but take effect only at the next restart. */
  restartRequired: string[];
}

const enabledSinks = (c: AgentConfig): string[] =>
  (['influx', 'postgres'] as const).filter((name) => (name === 'influx' ? c.settings.sinks.influx.url : c.settings.sinks.postgres.url) !== '');

/** `sinksFromSettings`: false when the agent was given its sinks (tests); then sink settings never apply hot. */
export function planApply(prev: AgentConfig, next: AgentConfig, sinksFromSettings: boolean): ApplyPlan {
  const same = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);
  const before = new Map(prev.devices.map((d) => [d.id, d]));
  const after = new Map(next.devices.map((d) => [d.id, d]));
  const plan: ApplyPlan = { added: [], removed: [], changed: [], sinks: [], restartRequired: [] };
  for (const [id, d] of after) {
    const old = before.get(id);
    if (old === undefined) plan.added.push(id);
    else if (!same(old, d)) plan.changed.push(id);
  }
  for (const id of before.keys()) if (!after.has(id)) plan.removed.push(id);

  const p = prev.settings;
  const n = next.settings;
  for (const key of ['buffer', 'http'] as const) if (!same(p[key], n[key])) plan.restartRequired.push(key);
  if (!same(prev.broker, next.broker)) plan.restartRequired.push('broker');
  if (!same(prev.simulators, next.simulators)) plan.restartRequired.push('simulators');
  const sinkNames = enabledSinks(prev);
  if (!same(sinkNames, enabledSinks(next)) || !sinksFromSettings) {
    if (!same(p.sinks, n.sinks)) plan.restartRequired.push('sinks');
  } else {
    for (const name of sinkNames) if (!same(p.sinks[name as 'influx'], n.sinks[name as 'influx'])) plan.sinks.push(name);
  }
  return plan;
}
