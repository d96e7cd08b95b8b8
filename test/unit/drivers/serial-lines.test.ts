import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../../drivers/serial/line-splitter.js';
import { lineParser, splitCsv } from '../../../drivers/serial/parse.js';
import { coerceValue } from '../../../drivers/values.js';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('LineSplitter', () => {
  it('splits on the delimiter across chunks, drops a trailing CR and empty lines', () => {
    const s = new LineSplitter('\n', 64);
    expect(s.push(b('T=21.5\r\nH=4')).lines).toEqual(['T=21.5']);
    expect(s.push(b('0\n\n\r\nX=1\n')).lines).toEqual(['H=40', 'X=1']);
  });

  it('takes a multi-byte delimiter even when it is split between chunks', () => {
    const s = new LineSplitter('\r\n', 64);
    expect(s.push(b('a=1\r')).lines).toEqual([]);
    expect(s.push(b('\nb=2\r\nc')).lines).toEqual(['a=1', 'b=2']);
    expect(s.push(b('=3\r\n')).lines).toEqual(['c=3']);
  });

  it('throws an overlong line away up to the next delimiter, and counts it once', () => {
    const s = new LineSplitter('\n', 16);
    const first = s.push(b('x'.repeat(40)));
    expect(first).toEqual({ lines: [], overlong: 1 });
    expect(s.push(b('y'.repeat(40)))).toEqual({ lines: [], overlong: 0 });
    expect(s.push(b('tail\nok=1\n'))).toEqual({ lines: ['ok=1'], overlong: 0 });
    // an overlong line that arrives whole
    expect(s.push(b(`${'z'.repeat(20)}\nfine\n`))).toEqual({ lines: ['fine'], overlong: 1 });
  });

  it('forgets a partial line on reset (before a poll)', () => {
    const s = new LineSplitter('\n', 64);
    s.push(b('stale fragm'));
    s.reset();
    expect(s.push(b('T=1\n')).lines).toEqual(['T=1']);
  });

  it('decodes latin1 when asked', () => {
    const s = new LineSplitter('\n', 64, 'latin1');
    expect(s.push(Buffer.from([0x54, 0x3d, 0xb0, 0x0a])).lines).toEqual(['T=°']);
  });
});

describe('line parsers', () => {
  it('regex: named groups by name, every group by number', () => {
    const p = lineParser({ kind: 'regex', regex: '^HR=(?<hr>\\d+) SPO2=(\\d+)(?: T=(?<t>[\\d.]+))?$' });
    const f = p('HR=72 SPO2=98');
    expect(f?.get('hr')).toBe('72');
    expect(f?.get(1)).toBe('72');
    expect(f?.get(2)).toBe('98');
    expect(f?.has('t')).toBe(false); // an optional group that did not take part
    expect(p('garbage')).toBeUndefined();
  });

  it('keyValue: default separators (spaces, commas, semicolons) and custom ones', () => {
    const p = lineParser({ kind: 'keyValue', valueSeparator: '=' });
    expect(Object.fromEntries(p('T=21.5, H=40;P = 1013 junk')?.entries() ?? [])).toEqual({ T: '21.5', H: '40', P: '1013' });
    const q = lineParser({ kind: 'keyValue', pairSeparator: '|', valueSeparator: ':' });
    expect(Object.fromEntries(q('temp: 21.5|state: open door')?.entries() ?? [])).toEqual({ temp: '21.5', state: 'open door' });
    expect(q('no pairs here')).toBeUndefined();
  });

  it('csv: by index and by column name, with quotes', () => {
    const p = lineParser({ kind: 'csv', separator: ',', columns: ['id', 'gross', 'note'] });
    const f = p('S1, 12.5 ,"a, ""quoted"" note"');
    expect([f?.get(0), f?.get('gross'), f?.get('note')]).toEqual(['S1', '12.5', 'a, "quoted" note']);
    expect(splitCsv('1;2;;4', ';')).toEqual(['1', '2', '', '4']);
    expect(p('ERR 7')).toBeUndefined(); // fewer cells than named columns
    expect(lineParser({ kind: 'csv', separator: ',' })('ERR 7')?.get(0)).toBe('ERR 7');
  });
});

describe('coerceValue', () => {
  it('reads numbers as devices print them, and refuses the rest', () => {
    expect(coerceValue(' -12.5 ', 'number')).toEqual({ ok: true, value: -12.5 });
    expect(coerceValue('1e3', 'number')).toEqual({ ok: true, value: 1000 });
    expect(coerceValue(true, 'number')).toEqual({ ok: true, value: 1 });
    expect(coerceValue('12abc', 'number')).toMatchObject({ ok: false, error: 'EDGE_VALUE_NOT_NUMERIC' });
    expect(coerceValue('0x10', 'number')).toMatchObject({ ok: false, error: 'EDGE_VALUE_NOT_NUMERIC' });
    expect(coerceValue({ a: 1 }, 'number')).toMatchObject({ ok: false, error: 'EDGE_VALUE_NOT_NUMERIC', detail: 'got an object' });
    expect(coerceValue('', 'number')).toMatchObject({ ok: false, error: 'EDGE_VALUE_EMPTY' });
    expect(coerceValue(null, 'string')).toMatchObject({ ok: false, error: 'EDGE_VALUE_EMPTY' });
  });

  it('reads booleans in the usual words, and anything as text', () => {
    expect(['ON', 'yes', '1', 'true'].map((v) => coerceValue(v, 'bool'))).toEqual(Array(4).fill({ ok: true, value: true }));
    expect(coerceValue(0, 'bool')).toEqual({ ok: true, value: false });
    expect(coerceValue('maybe', 'bool')).toMatchObject({ ok: false, error: 'EDGE_VALUE_NOT_BOOLEAN' });
    expect(coerceValue(21.5, 'string')).toEqual({ ok: true, value: '21.5' });
    expect(coerceValue([1, 2], 'string')).toEqual({ ok: true, value: '[1,2]' });
  });
});
