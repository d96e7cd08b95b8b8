// Room agent/central: the ops link over MQTT (config push, commands, reports); may import config and the running rooms, never commands or agent.ts.
/**
 * What the gateway tells ops without being asked: retained `info` (version, config revision, the
 * effective config without secrets, the last apply) and periodic `health` (devices, sinks, drops,
 * active alerts) — the same figures as /status (agent/ops/status.ts), compacted for a fleet view.
 */
import type { AgentConfig } from '../../config/types.js';
import { redactUrl } from '../logger.js';
import type { AgentStatus } from '../ops/status.js';

/** Keys whose values are secrets wherever they appear (settings, device connections). */
const SECRET_KEY = /password|token|secret|passphrase/i;
/** A `${VAR}` placeholder names a secret without holding it: kept, so a fetched config can be pushed back. */
const PLACEHOLDER = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;

export const REDACTED = '[redacted]';

/** A deep copy with secret values replaced and credentials stripped from URLs. */
export function redactSecrets(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redactSecrets(v, k)]));
  }
  if (typeof value !== 'string' || value === '' || PLACEHOLDER.test(value)) return value;
  if (SECRET_KEY.test(key)) return REDACTED;
  return /^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(value) ? redactUrl(value) : value;
}

/** The running config as ops should see it: resolved devices and settings, no secrets. */
export function effectiveConfig(config: AgentConfig): unknown {
  const { source: _source, ...rest } = config;
  return redactSecrets(rest);
}

import type { LastApply } from './last-apply.js';

export type { LastApply } from './last-apply.js';

export interface InfoPayload {
  gateway: string;
  version: string;
  rev: number;
  origin: 'file' | 'pushed';
  lastApply: LastApply | null;
  startedAt: number;
  config: unknown;
}

export interface HealthPayload {
  now: number;
  uptimeSeconds: number;
  phase: string;
  progress: AgentStatus['progress'];
  devices: Array<{ id: string; state: string; lastSuccessAt: number | null; consecutiveFailures: number; lastError: string | null }>;
  sinks: Array<{ name: string; reachable: boolean | null; lagRows: number; lagSeconds: number; lastDeliveryAt: number | null; dropped: number; deadLetters: number }>;
  buffer: { rows: number; held: number; dropped: number } | null;
  pipeline: { appendErrors: number };
  alerts: AgentStatus['alerts'];
}

export function healthPayload(s: AgentStatus): HealthPayload {
  return {
    now: s.now,
    uptimeSeconds: s.uptimeSeconds,
    phase: s.phase,
    progress: s.progress,
    devices: s.devices.map((d) => ({
      id: d.id,
      state: d.state,
      lastSuccessAt: d.health?.lastSuccessAt ?? lastTs(d.points),
      consecutiveFailures: d.health?.consecutiveFailures ?? 0,
      lastError: d.health?.lastError ?? null,
    })),
    sinks: s.sinks.map((k) => ({
      name: k.name,
      reachable: k.reachable,
      lagRows: k.pending,
      lagSeconds: k.lagSeconds,
      lastDeliveryAt: k.lastDeliveryAt,
      dropped: k.dropped,
      deadLetters: k.deadLetters,
    })),
    buffer: s.buffer === null ? null : { rows: s.buffer.rows, held: s.buffer.held, dropped: s.buffer.dropped },
    pipeline: { appendErrors: s.pipeline.appendErrors },
    alerts: s.alerts,
  };
}

function lastTs(points: ReadonlyArray<{ ts: number | null; quality: string | null }>): number | null {
  let best: number | null = null;
  for (const p of points) if (p.ts !== null && p.quality !== 'bad' && (best === null || p.ts > best)) best = p.ts;
  return best;
}
