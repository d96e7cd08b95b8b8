import { describe, expect, it } from 'vitest';
import { atLeastFraction, atMost, below, equalTo, formatTable, growthPct, median, percentile, perSecond, pollSlips, ratio, secondsPerMillion } from '../../../bench/figures.js';
import { minimalRequests, wireTimeMs } from '../../../bench/wire.js';

describe('bench figures', () => {
  it('rates, ratios and growth', () => {
    expect(perSecond(5000, 2000)).toBe(2500);
    expect(() => perSecond(1, 0)).toThrow(RangeError);
    expect(ratio(50, 200)).toBe(0.25);
    expect(ratio(50, 0)).toBeNaN();
    expect(growthPct(80, 84)).toBeCloseTo(5);
    expect(growthPct(80, 76)).toBeCloseTo(-5);
    expect(secondsPerMillion(2_000_000, 30_000)).toBe(15);
  });

  it('percentiles by nearest rank, medians', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted on purpose
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([1, 2, 3, 1000], 99)).toBe(1000);
    expect(percentile([], 99)).toBeNaN();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('poll slip against the aligned tick, counting ticks with no poll', () => {
    const { slips, missedTicks } = pollSlips([10_003, 11_010, 12_002, 15_040], 1000);
    // 13 000 and 14 000 had no poll: each counts as a slip of one interval.
    expect(slips).toEqual([3, 10, 2, 1000, 1000, 40]);
    expect(missedTicks).toBe(2);
    expect(percentile(slips, 99)).toBe(1000);
    // A timer that fired 1 ms early polled its own tick, not the one before.
    expect(pollSlips([9_999, 11_004], 1000)).toEqual({ slips: [0, 4], missedTicks: 0 });
  });

  it('checks against targets', () => {
    expect(atLeastFraction('x', 60, 'c', 100, 0.5, '/s').pass).toBe(true);
    expect(atLeastFraction('x', 40, 'c', 100, 0.5, '/s').pass).toBe(false);
    expect(atLeastFraction('x', 40, 'c', Number.NaN, 0.5, '/s').pass).toBeNull();
    expect(atMost('rss', 100, 100, 'MB').pass).toBe(true);
    expect(below('slip', 1000, 1000, 'ms').pass).toBe(false);
    expect(equalTo('req', 5, 5, '', 'minimal 5').pass).toBe(true);
    const table = formatTable([atMost('rss_mb', 120, 100, 'MB')]);
    expect(table).toContain('FAIL');
    expect(table.split('\n')).toHaveLength(3);
  });
});

describe('bench wire yardsticks', () => {
  it('FACTS.md wire times: one 125-register read 281 ms at 9600 baud, 141 ms at 19200', () => {
    const one = [{ register: 'holding' as const, address: 0, count: 125 }];
    expect(wireTimeMs(one, { baudRate: 9600, bitsPerChar: 10 })).toBeCloseTo(281.3, 0);
    expect(wireTimeMs(one, { baudRate: 19200, bitsPerChar: 10 })).toBeCloseTo(140.6, 0);
  });

  it('minimal requests: limits, gaps and overlapping points', () => {
    const floats = Array.from({ length: 65 }, (_, i) => ({ register: 'holding' as const, address: 2 * i, width: 2 }));
    // 130 registers cannot be one read (125 at most): two.
    expect(minimalRequests(floats, 0)).toHaveLength(2);
    const gapped = [
      { register: 'holding' as const, address: 0, width: 1 },
      { register: 'holding' as const, address: 5, width: 1 },
      { register: 'input' as const, address: 0, width: 1 },
    ];
    expect(minimalRequests(gapped, 3)).toHaveLength(3);
    expect(minimalRequests(gapped, 4)).toEqual([
      { register: 'holding', address: 0, count: 6 },
      { register: 'input', address: 0, count: 1 },
    ]);
    // A wide point spanning the gap between two others lets all three share one read.
    const overlap = [
      { register: 'holding' as const, address: 0, width: 10 },
      { register: 'holding' as const, address: 1, width: 1 },
      { register: 'holding' as const, address: 9, width: 1 },
    ];
    expect(minimalRequests(overlap, 0)).toHaveLength(1);
  });
});
