import { describe, expect, it } from 'vitest';
import type { ModbusType, RegisterKind } from '../../../config/types.js';
import { MAX_READ, planRequests, pointProblem } from '../../../drivers/modbus/plan.js';

const p = (id: string, register: RegisterKind, address: number, type: ModbusType = 'uint16') => ({ id, register, address, type, order: 'ABCD' as const });
const shape = (points: ReturnType<typeof p>[]) =>
  planRequests(points).requests.map((r) => `${r.register}@${r.address}+${r.count}:${r.points.map((x) => `${x.point.id}/${x.offset}`).join(',')}`);

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
