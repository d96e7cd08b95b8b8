import { describe, expect, it } from 'vitest';
import type { ModbusType, RegisterKind } from '../../../config/types.js';
import { bisect, cutKey, MAX_READ, planRequests, pointProblem, SplitLog, type PlanOptions, type ReadRequest } from '../../../drivers/modbus/plan.js';
import { PlanCache, ReadCycle } from '../../../drivers/modbus/read-cycle.js';
import { exceptionCode } from '../../../drivers/modbus/errors.js';

const p = (id: string, register: RegisterKind, address: number, type: ModbusType = 'uint16', length?: number) => ({
  id,
  register,
  address,
  type,
  order: 'ABCD' as const,
  ...(length === undefined ? {} : { length }),
});
type P = ReturnType<typeof p>;
const describeRequests = (requests: ReadRequest<P>[]) => requests.map((r) => `${r.register}@${r.address}+${r.count}:${r.points.map((x) => `${x.point.id}/${x.offset}`).join(',')}`);
const shape = (points: P[], opts?: PlanOptions) => describeRequests(planRequests(points, opts).requests);

describe('planRequests', () => {
  it('reads contiguous points of one table with one request', () => {
    expect(shape([p('a', 'holding', 0, 'float32'), p('b', 'holding', 2, 'float32'), p('c', 'holding', 4, 'uint16')])).toEqual(['holding@0+5:a/0,b/2,c/4']);
  });

  it('merges overlapping points (the same registers read as two types)', () => {
    expect(shape([p('word', 'holding', 10, 'uint16'), p('long', 'holding', 10, 'uint32'), p('hi', 'holding', 11)])).toEqual(['holding@10+2:word/0,long/0,hi/1']);
  });

  it('never bridges a gap, and never mixes tables', () => {
    expect(shape([p('a', 'holding', 0), p('b', 'holding', 2), p('c', 'input', 1), p('d', 'coil', 0), p('e', 'coil', 1), p('f', 'discrete', 1)])).toEqual([
      'coil@0+2:d/0,e/1',
      'discrete@1+1:f/0',
      'holding@0+1:a/0',
      'holding@2+1:b/0',
      'input@1+1:c/0',
    ]);
  });

  it('sorts by address but remembers where each point came from', () => {
    const { requests } = planRequests([p('z', 'holding', 5), p('y', 'holding', 4), p('x', 'holding', 3)]);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.points.map((x) => [x.point.id, x.index, x.offset])).toEqual([
      ['x', 2, 0],
      ['y', 1, 1],
      ['z', 0, 2],
    ]);
  });

  it('splits at 125 registers and 2000 bits', () => {
    const regs = Array.from({ length: 130 }, (_, i) => p(`r${i}`, 'holding', i));
    expect(planRequests(regs).requests.map((r) => [r.address, r.count])).toEqual([
      [0, MAX_READ.holding],
      [125, 5],
    ]);
    const floats = Array.from({ length: 63 }, (_, i) => p(`f${i}`, 'input', i * 2, 'float32'));
    expect(planRequests(floats).requests.map((r) => [r.address, r.count])).toEqual([
      [0, 124],
      [124, 2],
    ]);
    const bits = Array.from({ length: 2001 }, (_, i) => p(`b${i}`, 'coil', i, 'bool'));
    expect(planRequests(bits).requests.map((r) => [r.address, r.count])).toEqual([
      [0, 2000],
      [2000, 1],
    ]);
  });

  it('counts a coil as one bit whatever its type', () => {
    expect(shape([p('a', 'coil', 0, 'float64'), p('b', 'coil', 1, 'bool')])).toEqual(['coil@0+2:a/0,b/1']);
  });

  it('sets aside points whose registers run past address 65535', () => {
    const { requests, invalid } = planRequests([p('ok', 'holding', 65535), p('bad', 'holding', 65534, 'float64')]);
    expect(requests.map((r) => r.points.map((x) => x.point.id))).toEqual([['ok']]);
    expect(invalid.map((i) => [i.point.id, i.index])).toEqual([['bad', 1]]);
    expect(pointProblem(p('bad', 'holding', 65534, 'float64'))).toMatch(/past the last address/);
    expect(pointProblem(p('c', 'coil', 65535, 'float64'))).toBeUndefined();
  });
});

describe('planRequests with maxGap, coalesce and learned cuts', () => {
  it('reads through up to maxGap unused registers, never more', () => {
    const pts = [p('a', 'holding', 0), p('b', 'holding', 3), p('c', 'holding', 7, 'float32')];
    expect(shape(pts)).toEqual(['holding@0+1:a/0', 'holding@3+1:b/0', 'holding@7+2:c/0']);
    expect(shape(pts, { maxGap: 2 })).toEqual(['holding@0+4:a/0,b/3', 'holding@7+2:c/0']);
    expect(shape(pts, { maxGap: 3 })).toEqual(['holding@0+9:a/0,b/3,c/7']);
  });

  it('counts the gap in bits for coils and discrete inputs', () => {
    expect(shape([p('a', 'coil', 0, 'bool'), p('b', 'coil', 10, 'bool')], { maxGap: 9 })).toEqual(['coil@0+11:a/0,b/10']);
    expect(shape([p('a', 'coil', 0, 'bool'), p('b', 'coil', 10, 'bool')], { maxGap: 8 })).toHaveLength(2);
  });

  it('keeps the 125-register limit while bridging gaps', () => {
    const pts = [p('a', 'input', 0), p('b', 'input', 100), p('c', 'input', 124), p('d', 'input', 125)];
    expect(shape(pts, { maxGap: 100 })).toEqual(['input@0+125:a/0,b/100,c/124', 'input@125+1:d/0']);
  });

  it('a string spans its length', () => {
    expect(shape([p('name', 'holding', 10, 'string', 8), p('after', 'holding', 18)])).toEqual(['holding@10+9:name/0,after/8']);
    expect(pointProblem(p('long', 'holding', 65530, 'string', 8))).toMatch(/past the last address/);
  });

  it('coalesce: false gives one request per start address', () => {
    const pts = [p('a', 'holding', 0), p('b', 'holding', 1), p('bit0', 'holding', 5, 'bool'), p('bit3', 'holding', 5, 'bool'), p('wide', 'holding', 5, 'uint32')];
    expect(shape(pts, { coalesce: false, maxGap: 10 })).toEqual(['holding@0+1:a/0', 'holding@1+1:b/0', 'holding@5+2:bit0/0,bit3/0,wide/0']);
  });

  it('never joins points across a learned cut', () => {
    const pts = [p('a', 'holding', 0), p('b', 'holding', 1), p('c', 'holding', 2), p('d', 'holding', 3)];
    expect(shape(pts, { cuts: new Set([cutKey('holding', 2)]) })).toEqual(['holding@0+2:a/0,b/1', 'holding@2+2:c/0,d/1']);
    // A cut inside a gap that maxGap would bridge, and cuts of another table, which do not apply.
    const gapped = [p('a', 'holding', 0), p('b', 'holding', 4)];
    expect(shape(gapped, { maxGap: 5, cuts: new Set([cutKey('holding', 2), cutKey('input', 4)]) })).toEqual(['holding@0+1:a/0', 'holding@4+1:b/0']);
    expect(shape(gapped, { maxGap: 5, cuts: new Set([cutKey('input', 2)]) })).toEqual(['holding@0+5:a/0,b/4']);
  });
});

describe('the issue example: 40 points spread over 60 registers', () => {
  // 40 single-register points at the addresses 0..59 that are not multiples of 3 (gaps of one register).
  const addresses = Array.from({ length: 60 }, (_, a) => a).filter((a) => a % 3 !== 0);
  const pts = addresses.map((a) => p(`r${a}`, 'holding', a));

  it('is one request when the device tolerates reading the gaps', () => {
    expect(pts).toHaveLength(40);
    const { requests } = planRequests(pts, { maxGap: 1 });
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ address: 1, count: 59 });
    expect(requests[0]?.points.map((x) => x.offset)).toEqual(addresses.map((a) => a - 1));
  });

  it('is one request per run of touching registers when it does not', () => {
    expect(planRequests(pts).requests).toHaveLength(20);
    expect(planRequests(pts, { coalesce: false }).requests).toHaveLength(40);
  });
});

/** Seeded, so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The fewest requests, by exhaustive dynamic programming over the sorted, non-overlapping points. */
function minimalRequests(points: { address: number; width: number }[], maxGap: number, limit: number): number {
  const sorted = [...points].sort((a, b) => a.address - b.address);
  const best = [0];
  for (let i = 1; i <= sorted.length; i++) {
    best[i] = Infinity;
    for (let j = i - 1; j >= 0; j--) {
      const group = sorted.slice(j, i);
      const first = group[0]!;
      const last = group[group.length - 1]!;
      if (last.address + last.width - first.address > limit) break;
      const gapsOk = group.every((g, k) => k === 0 || g.address - (group[k - 1]!.address + group[k - 1]!.width) <= maxGap);
      if (gapsOk) best[i] = Math.min(best[i]!, best[j]! + 1);
    }
  }
  return best[sorted.length]!;
}

describe('planRequests is minimal (checked against exhaustive search)', () => {
  it('for 300 random layouts of mixed widths, gaps and limits', () => {
    const random = rng(7);
    const types: [ModbusType, number][] = [['uint16', 1], ['float32', 2], ['float64', 4]];
    const failures: string[] = [];
    for (let n = 0; n < 300; n++) {
      const points: P[] = [];
      let address = Math.floor(random() * 5);
      const count = 1 + Math.floor(random() * 40);
      for (let i = 0; i < count; i++) {
        const [type, width] = types[Math.floor(random() * types.length)]!;
        points.push(p(`p${i}`, 'input', address, type));
        address += width + Math.floor(random() * random() * 30);
      }
      const maxGap = Math.floor(random() * 12);
      const got = planRequests(points, { maxGap }).requests;
      const want = minimalRequests(points.map((x) => ({ address: x.address, width: x.type === 'uint16' ? 1 : x.type === 'float32' ? 2 : 4 })), maxGap, MAX_READ.input);
      const covered = got.flatMap((r) => r.points.map((x) => x.index)).sort((a, b) => a - b);
      const withinLimits = got.every((r) => r.count <= MAX_READ.input && r.points.every((x) => x.offset >= 0 && x.offset < r.count));
      if (got.length !== want || covered.length !== points.length || !withinLimits) failures.push(`layout ${n}: ${got.length} requests, minimal ${want}`);
    }
    expect(failures).toEqual([]);
  });
});

describe('bisect and SplitLog: finding the address a device rejects', () => {
  const request = (ids: [string, number][]) => planRequests(ids.map(([id, a]) => p(id, 'holding', a)), { maxGap: 10 }).requests[0]!;

  it('splits at the middle start address and recomputes offsets', () => {
    const r = request([['a', 0], ['b', 2], ['c', 4], ['d', 6], ['e', 8]]);
    const halves = bisect(r)!;
    expect(halves.boundary).toBe(4);
    expect(describeRequests([halves.left, halves.right] as ReadRequest<P>[])).toEqual(['holding@0+3:a/0,b/2', 'holding@4+5:c/0,d/2,e/4']);
    expect(bisect(request([['x', 5], ['y', 5]]))).toBeUndefined();
  });

  /** Plays a device that rejects any request touching `bad` addresses, split by split as the driver does. */
  function discover(ids: [string, number][], bad: (a: number) => boolean, cuts = new Set<string>()) {
    const pts = ids.map(([id, a]) => p(id, 'holding', a));
    const log = new SplitLog();
    const work = [...planRequests(pts, { maxGap: 10, cuts }).requests];
    let sent = 0;
    const rejectedPoints: string[] = [];
    for (let r = work.shift(); r !== undefined; r = work.shift()) {
      sent++;
      const rejected = Array.from({ length: r.count }, (_, i) => r!.address + i).some(bad);
      if (!rejected) log.ok(r);
      else {
        const halves = bisect(r);
        if (halves) {
          log.split(r, halves);
          work.unshift(halves.left, halves.right);
        } else {
          log.rejected(r);
          rejectedPoints.push(...r.points.map((x) => x.point.id));
        }
      }
    }
    for (const c of log.cuts()) cuts.add(c);
    return { sent, cuts, rejectedPoints, next: () => shape(pts, { maxGap: 10, cuts }) };
  }

  it('one unmapped register inside a point: only that point stays bad, and the plan remembers', () => {
    const ids: [string, number][] = Array.from({ length: 8 }, (_, i) => [`p${i}`, i]);
    const first = discover(ids, (a) => a === 3);
    expect(first.rejectedPoints).toEqual(['p3']);
    expect([...first.cuts].sort()).toEqual(['holding:3', 'holding:4']);
    expect(first.next()).toEqual(['holding@0+3:p0/0,p1/1,p2/2', 'holding@3+1:p3/0', 'holding@4+4:p4/0,p5/1,p6/2,p7/3']);
    // The next poll sends the three planned requests, no search.
    const second = discover(ids, (a) => a === 3, first.cuts);
    expect(second.sent).toBe(3);
    expect(second.rejectedPoints).toEqual(['p3']);
  });

  it('an unmapped register in a bridged gap: no point is bad, the gap is cut', () => {
    const ids: [string, number][] = [['a', 0], ['b', 1], ['c', 5], ['d', 6]];
    const first = discover(ids, (a) => a === 3);
    expect(first.rejectedPoints).toEqual([]);
    expect([...first.cuts]).toEqual(['holding:5']);
    expect(first.next()).toEqual(['holding@0+2:a/0,b/1', 'holding@5+2:c/0,d/1']);
  });

  it('converges over polls when halves fail for different reasons', () => {
    const ids: [string, number][] = Array.from({ length: 16 }, (_, i) => [`p${i}`, i * 2]);
    const bad = (a: number) => a === 9 || a === 21; // two unmapped registers between points
    let cuts = new Set<string>();
    const sentPerPoll: number[] = [];
    for (let poll = 0; poll < 6; poll++) {
      const r = discover(ids, bad, cuts);
      cuts = r.cuts;
      sentPerPoll.push(r.sent);
      expect(r.rejectedPoints).toEqual([]);
    }
    // The plan settles on three requests, cut exactly at the two bad gaps, and stays there.
    expect([...cuts].sort()).toEqual(['holding:10', 'holding:22']);
    expect(sentPerPoll.slice(-3)).toEqual([3, 3, 3]);
    expect(discover(ids, bad, cuts).next().map((r) => r.split(':')[0])).toEqual(['holding@0+9', 'holding@10+11', 'holding@22+9']);
  });
});

describe('PlanCache', () => {
  const clock = { now: () => 1000, setTimeout: () => undefined, clearTimeout: () => undefined };

  it('plans once while points, options and cuts stay the same, and again when any changes', () => {
    const points = [p('a', 'holding', 0), p('b', 'holding', 1), p('c', 'holding', 2)];
    const cuts = new Set<string>();
    const cache = new PlanCache();
    const first = cache.plan(points, { maxGap: 0, cuts });
    expect(cache.plan(points, { maxGap: 0, cuts })).toBe(first);
    cuts.add(cutKey('holding', 2));
    const cut = cache.plan(points, { maxGap: 0, cuts });
    expect(cut).not.toBe(first);
    expect(describeRequests(cut.requests as ReadRequest<P>[])).toEqual(['holding@0+2:a/0,b/1', 'holding@2+1:c/0']);
    expect(cache.plan(points, { maxGap: 2, cuts })).not.toBe(cut);
    expect(cache.plan([...points], { maxGap: 2, cuts })).not.toBe(cut);
  });

  it('a cycle that splits a cached request leaves the cached plan as it was', () => {
    const points = [p('a', 'holding', 0), p('b', 'holding', 1)];
    const cache = new PlanCache();
    const cycle = new ReadCycle(points, {}, clock, cache);
    const request = cycle.next() as ReadRequest;
    expect(cycle.exception(request, { code: exceptionCode(2), detail: 'illegal data address' })).toBe(true);
    expect(cycle.remaining).toBe(2);
    const again = new ReadCycle(points, {}, clock, cache);
    expect(again.remaining).toBe(1);
    expect(describeRequests(cache.plan(points, {}).requests as ReadRequest<P>[])).toEqual(['holding@0+2:a/0,b/1']);
  });
});
