import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../../config/index.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    [' 2s ', 2000],
    ['250', 250],
    [750, 750],
  ] as const)('%j is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['', '10 seconds', '10sec', 's', '-5s', '5x', '1h junk', 'ms10'])('rejects %j, naming it', (input) => {
    expect(() => parseDuration(input)).toThrow(`invalid duration "${input}"`);
  });

  it('rejects negative and non-finite numbers', () => {
    expect(() => parseDuration(-1)).toThrow(/non-negative/);
    expect(() => parseDuration(Number.NaN)).toThrow(/invalid duration/);
  });

  it('formats back to the largest whole unit', () => {
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(300_000)).toBe('5m');
    expect(formatDuration(1500)).toBe('1500ms');
  });
});
