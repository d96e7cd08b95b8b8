/** The alert engine's store on the agent's SQLite buffer (buffer/alert-state.ts says why it lives there). */
import type { SqliteBuffer } from '../../buffer/sqlite-buffer.js';
import type { AlertStore } from './engine.js';

/** `appended` runs after alert events were stored (the agent wakes its forwarders). */
export function bufferAlertStore(buffer: SqliteBuffer, appended: () => void): AlertStore {
  return {
    load: () => buffer.alertState.all(),
    commit: (events, state) => {
      buffer.append(events, { alertState: state });
      if (events.length > 0) appended();
    },
    waitingAcks: () => buffer.alertState.waitingAcks(),
    completeAck: (id, result, at) => buffer.alertState.completeAck(id, result, at),
  };
}
