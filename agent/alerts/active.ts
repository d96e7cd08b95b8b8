// Room agent/alerts: local alert thresholds and their persisted state; may import buffer, config, agent/pipeline and agent/{clock,logger}.
import type { Value } from '../../buffer/types.js';

/**
 * An alert that is active now, as the local alert engine (agent/alerts/engine.ts) shows it
 * through `Agent.alerts`.
 */
export interface ActiveAlert {
  /** The occurrence: `<device>/<point>/<rule>@<raised, epoch ms>`, e.g. `pump-1/flow/above-120@1718000000000`. */
  id: string;
  deviceId: string;
  pointId: string;
  /** The rule's id (given, or derived like `above-120`). */
  ruleId?: string;
  /** `critical`, `warning` or `info`. */
  severity: string;
  /** `active`; `returned`: the condition is gone but the alert is latched until acknowledged; `cleared` only in change notifications. */
  state?: 'active' | 'returned' | 'cleared';
  message: string;
  /** Epoch ms the alert became active. */
  since: number;
  /** The value that raised it. */
  value?: Value | null;
  threshold?: Value | null;
  unit?: string;
  acknowledged?: boolean;
  acknowledgedAt?: number | null;
  acknowledgedBy?: string | null;
  latch?: boolean;
  /** Its retained topic on the local broker. */
  topic?: string;
}

export interface AlertSource {
  active(): readonly ActiveAlert[];
}

export const noAlerts: AlertSource = { active: () => [] };
