/**
 * `edge-agent write` and `edge-agent commands list` (agent/commands/write.ts) on a real buffer file
 * with no agent running: the exit codes a script relies on (2 for a usage error, 1 when no agent
 * took the write, 0 only when verified) and the audit as a table. The write through a running
 * agent is writes-cli.test.ts.
 */
import { writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandsList, writeCli, writeCommand } from '../../../agent/commands/write.js';
import { SqliteBuffer } from '../../../buffer/sqlite-buffer.js';
import type { CommandRecord } from '../../../buffer/types.js';
import { tempDir } from '../buffer/fixtures.js';

let tmp: ReturnType<typeof tempDir>;
let config: string;
let out: string[];
let err: string[];

beforeEach(() => {
  tmp = tempDir();
  config = tmp.file('gw.yaml');
  writeFileSync(config, `gateway: { id: gw-1 }\nbuffer: { path: ${tmp.file('buffer.db')} }\ndevices: []\n`);
  new SqliteBuffer({ path: tmp.file('buffer.db'), sinks: [] }).close();
  out = [];
  err = [];
});

afterEach(() => tmp.remove());

const record = (over: Partial<CommandRecord>): CommandRecord => ({
  id: 'c1', device: 'pump', point: 'sp', requested: 42, raw: [42], previous: 5, readback: 42, outcome: 'verified', code: null, message: null,
  by: 'maria', origin: 'central', keyFingerprint: 'sha256:x', requestId: 'n1', requestedAt: Date.now() - 5000, doneAt: Date.now() - 4000, ...over,
});

describe('edge-agent write', () => {
  it('exits 2 on a usage error, before anything is queued', async () => {
    const usage = (m: string) => (err.push(m), 2);
    expect(await writeCli('write', ['pump', '7'], { config }, {}, usage)).toBe(2);
    expect(await writeCli('write', ['pump/sp'], { config }, {}, usage)).toBe(2);
    expect(await writeCli('write', ['pump/sp', '7'], { config, by: ' ' }, {}, usage)).toBe(2);
    expect(await writeCli('write', ['pump/sp', '7'], {}, {}, usage)).toBe(2);
    expect(await writeCli('commands', ['show'], { config }, {}, usage)).toBe(2);
    expect(err).toEqual(["'pump' is not DEVICE/POINT", 'write needs DEVICE/POINT and VALUE', '--by must not be empty', 'missing --config FILE', "unknown commands command 'show'"]);
    const b = new SqliteBuffer({ path: tmp.file('buffer.db'), sinks: [] });
    expect(b.commands.waitingRequests()).toEqual([]);
    b.close();
  });

  it('exits 1 and says so when no running agent takes the write; the request waits to be refused as stale', async () => {
    const code = await writeCommand({ file: config, env: {}, json: false, device: 'pump', point: 'sp', value: '7', by: 'tech', waitMs: 300, out: (l) => out.push(l), err: (l) => err.push(l) });
    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(err.join('\n')).toMatch(/^edge-agent: EDGE_WRITE_AGENT_NOT_RUNNING: /);
    const b = new SqliteBuffer({ path: tmp.file('buffer.db'), sinks: [] });
    expect(b.commands.waitingRequests()).toMatchObject([{ device: 'pump', point: 'sp', value: '"7"', by: 'tech' }]);
    b.close();
  });
});

describe('edge-agent commands list', () => {
  it('prints the audit newest first as a table, or as JSON', () => {
    const b = new SqliteBuffer({ path: tmp.file('buffer.db'), sinks: [] });
    b.commands.write([record({}), record({ id: 'c2', requested: 700, raw: null, previous: null, readback: null, outcome: 'refused', code: 'EDGE_WRITE_OUT_OF_LIMITS', by: 'tech', origin: 'local', requestedAt: Date.now() - 1000 })]);
    b.close();
    expect(commandsList({ file: config, env: {}, json: false, out: (l) => out.push(l) })).toBe(0);
    expect(out[0]).toMatch(/^when\s+device\/point\s+value\s+outcome\s+code\s+read back\s+by\s+origin$/);
    expect(out.slice(1).map((l) => l.split(/\s{2,}/).slice(1))).toEqual([
      ['pump/sp', '700', 'refused', 'EDGE_WRITE_OUT_OF_LIMITS', '—', 'tech', 'local'],
      ['pump/sp', '42', 'verified', '42', 'maria', 'central'],
    ]);
    out = [];
    expect(commandsList({ file: config, env: {}, json: true, out: (l) => out.push(l) })).toBe(0);
    expect((JSON.parse(out.join('\n')) as CommandRecord[]).map((c) => c.id)).toEqual(['c2', 'c1']);
  });
});
