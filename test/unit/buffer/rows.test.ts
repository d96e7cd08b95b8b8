import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VTYPE } from '../../../buffer/codec.js';
import { SqliteBuffer } from '../../../buffer/sqlite-buffer.js';
import type { AlertRecord, CommandRecord, Point } from '../../../buffer/types.js';
import { tempDir } from './fixtures.js';

let tmp: ReturnType<typeof tempDir>;
let file: string;
let b: SqliteBuffer;

beforeEach(() => {
  tmp = tempDir();
  file = tmp.file();
  b = new SqliteBuffer({ path: file, sinks: ['s'] });
});
afterEach(() => {
  b.close();
  tmp.remove();
});

const alert: AlertRecord = {
  id: 'd/p/r@1',
  deviceId: 'd',
  pointId: 'p',
  ruleId: 'r',
  severity: 'critical',
  state: 'active',
  message: 'above 120',
  value: 121,
  threshold: 120,
  raisedAt: 1,
  clearedAt: null,
  acknowledgedAt: null,
  acknowledgedBy: null,
  latch: false,
  version: 1,
};
const command: CommandRecord = {
  id: 'w1',
  device: 'd',
  point: 'sp',
  requested: 42.5,
  raw: [425],
  previous: 40,
  readback: 42.5,
  outcome: 'verified',
  code: null,
  message: null,
  by: 'ana',
  origin: 'local',
  keyFingerprint: null,
  requestId: null,
  requestedAt: 1,
  doneAt: 2,
};
const base = { deviceId: 'd', measurement: 'm', tags: {}, quality: 'good' as const };

describe('alert and write audit events in the buffer', () => {
  it('keep value and record as one JSON text, read back whole; a damaged text reads as no value', () => {
    const events: Point[] = [
      { ...base, pointId: 'p', value: 121, ts: 10, alert },
      { ...base, pointId: 'sp', value: 42.5, ts: 11, command },
    ];
    b.append(events);
    const back = b.read('s', 10);
    expect(back.map((p) => ({ value: p.value, alert: p.alert, command: p.command }))).toEqual([
      { value: 121, alert, command: undefined },
      { value: 42.5, alert: undefined, command },
    ]);

    const db = new Database(file);
    try {
      const rows = db.prepare('SELECT vtype, value, value_text FROM points ORDER BY seq').all() as Array<{ vtype: number; value: number | null; value_text: string }>;
      expect(rows).toEqual([
        { vtype: VTYPE.alert, value: null, value_text: JSON.stringify({ value: 121, alert }) },
        { vtype: VTYPE.command, value: null, value_text: JSON.stringify({ value: 42.5, command }) },
      ]);
      db.prepare("UPDATE points SET value_text = '{' WHERE vtype = ?").run(VTYPE.alert);
      db.prepare('UPDATE points SET value_text = ? WHERE vtype = ?').run(JSON.stringify({ value: 1 }), VTYPE.command);
    } finally {
      db.close();
    }
    const damaged = b.read('s', 10);
    expect(damaged.map((p) => ({ value: p.value, alert: p.alert, command: p.command }))).toEqual([
      { value: null, alert: undefined, command: undefined },
      { value: null, alert: undefined, command: undefined },
    ]);
  });
});
