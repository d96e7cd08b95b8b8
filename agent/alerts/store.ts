// Room agent/alerts: local alert thresholds and their persisted state; may import buffer, config, agent/pipeline and agent/{clock,logger}.
/** The alert engine's store on the agent's SQLite buffer (buffer/alert-state.ts says why it lives there). */
import type { AlertStateRow } from '../../buffer/alert-state.js';
import type { SqliteBuffer } from '../../buffer/sqlite-buffer.js';
import type { Point } from '../../buffer/types.js';
import type { AlertStore } from './engine.js';

/** How events reach the outbox: the clock guard (agent/pipeline/clock-sanity-guard.ts), so an untrusted clock holds or flags them like readings. */
export interface AlertOutbox {
  append(points: readonly Point[], extra: { alertState?: readonly AlertStateRow[] }): number;
}

/**
 * `appended` runs after alert events were stored (the agent wakes its forwarders). `outbox`: the
 * agent's clock guard; the buffer itself only where no clock is watched (tests, benchmarks).
 */
export function bufferAlertStore(buffer: SqliteBuffer, appended: () => void, outbox: AlertOutbox = buffer): AlertStore {
  return {
    load: () => buffer.alertState.all(),
    commit: (events, state) => {
      outbox.append(events, { alertState: state });
      if (events.length > 0) appended();
    },
    waitingAcks: () => buffer.alertState.waitingAcks(),
    completeAck: (id, result, at) => buffer.alertState.completeAck(id, result, at),
  };
}
