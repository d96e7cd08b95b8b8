// Room agent/central: the ops link over MQTT (config push, commands, reports); may import config and the running rooms, never commands or agent.ts.
/** The outcome of the last config push, as /status, the status page and the retained `info` report show it. */
export interface LastApply {
  rev: number;
  outcome: 'applied' | 'rolled-back' | 'interrupted';
  at: number;
  /** Why it was rolled back or what else the operator must know. */
  reason?: string;
  failures?: Array<{ subject: string; code: string; error: string }>;
}
