import { describe, expect, it } from 'vitest';
import { numberedBuffer } from '../../../agent/buffer-hold.js';

describe('numberedBuffer', () => {
  it('numbers the demo spares before the extension', () => {
    expect(numberedBuffer('./data/buffer.db', 2)).toBe('./data/buffer-2.db');
    expect(numberedBuffer('/var/lib/edge-agent/buf', 3)).toBe('/var/lib/edge-agent/buf-3');
  });
});
