// Room agent/central: the ops link over MQTT (config push, commands, reports); may import config and the running rooms, never commands or agent.ts.
/**
 * What the central write handler calls: the write executor's own contract (agent/writes/types.ts),
 * under the name the handler uses. The composition root hands the executor in.
 */
export type { WriteApi as WriteTarget, WriteOutcome, WriteOutcomeKind, WriteRequest } from '../writes/types.js';
