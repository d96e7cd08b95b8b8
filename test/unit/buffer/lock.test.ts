import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockBuffer } from '../../../buffer/lock.js';

describe('lockBuffer', () => {
  it('one holder per buffer file; released, it can be taken again', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'edge-lock-')), 'sub', 'buffer.db');
    const first = lockBuffer(file);
    expect(first?.file).toBe(`${file}.lock`);
    expect(lockBuffer(file)).toBeUndefined();
    const other = lockBuffer(join(file, '..', 'buffer-2.db'));
    expect(other?.file).toBe(join(file, '..', 'buffer-2.db.lock'));
    first?.release();
    first?.release(); // idempotent
    const again = lockBuffer(file);
    expect(again).toBeDefined();
    again?.release();
    other?.release();
  });
});
