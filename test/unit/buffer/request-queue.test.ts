import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBuffer } from '../../../buffer/sqlite-buffer.js';
import { tempDir } from './fixtures.js';

let tmp: ReturnType<typeof tempDir>;
let b: SqliteBuffer;

beforeEach(() => {
  tmp = tempDir();
  b = new SqliteBuffer({ path: tmp.file(), sinks: ['a'] });
});
afterEach(() => {
  b.close();
  tmp.remove();
});

const DAY = 86_400_000;

describe('the CLI → agent request queues (alert acks, writes)', () => {
  it('hand out waiting requests in order, report each outcome, and forget done ones after a day', () => {
    const s = b.alertState;
    const first = s.requestAck('d/p/r', 'ana', 1000);
    const second = s.requestAck('a-2', 'bo', 1001);
    expect(s.waitingAcks()).toEqual([
      { id: first, alert: 'd/p/r', by: 'ana', at: 1000 },
      { id: second, alert: 'a-2', by: 'bo', at: 1001 },
    ]);
    expect(s.ackOutcome(first)).toEqual({ doneAt: null, result: null });
    s.completeAck(first, 'ok', 2000);
    expect(s.waitingAcks().map((r) => r.id)).toEqual([second]);
    expect(s.ackOutcome(first)).toEqual({ doneAt: 2000, result: 'ok' });
    // Completing another a day later prunes the first; a waiting one is never pruned.
    const third = s.requestAck('a-3', 'cy', 2000 + DAY);
    s.completeAck(third, 'EDGE_ALERT_UNKNOWN', 2001 + DAY);
    expect(s.ackOutcome(first)).toBeUndefined();
    expect(s.ackOutcome(third)).toEqual({ doneAt: 2001 + DAY, result: 'EDGE_ALERT_UNKNOWN' });
    expect(s.waitingAcks().map((r) => r.id)).toEqual([second]);

    const c = b.commands;
    const w = c.requestWrite('pump', 'setpoint', 42.5, 'ana', 1000);
    expect(c.waitingRequests()).toEqual([{ id: w, device: 'pump', point: 'setpoint', value: '42.5', by: 'ana', at: 1000 }]);
    expect(c.requestOutcome(w)).toEqual({ doneAt: null, commandId: null });
    c.completeRequest(w, 'w-1', 3000);
    expect(c.waitingRequests()).toEqual([]);
    expect(c.requestOutcome(w)).toEqual({ doneAt: 3000, commandId: 'w-1' });
    const w2 = c.requestWrite('pump', 'run', true, 'bo', 3000 + DAY);
    c.completeRequest(w2, 'w-2', 3001 + DAY);
    expect(c.requestOutcome(w)).toBeUndefined();
    expect(c.requestOutcome(999)).toBeUndefined();
  });
});
