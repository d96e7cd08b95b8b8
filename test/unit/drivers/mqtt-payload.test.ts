import { describe, expect, it } from 'vitest';
import { compileTopicPattern, topicPatternProblem } from '../../../config/topic-pattern.js';
import { jsonDeeperThan, jsonPathSegments, PayloadErrors, PayloadReader, valueAt } from '../../../drivers/mqtt/payload.js';
import { capturedTags, topicMatches } from '../../../drivers/mqtt/topic.js';

describe('topic patterns', () => {
  it('compiles {name} captures into + and the tag names', () => {
    expect(compileTopicPattern('ward/{ward}/bed/{bed}/vitals')).toEqual({ filter: 'ward/+/bed/+/vitals', captures: [undefined, 'ward', undefined, 'bed', undefined], names: ['ward', 'bed'] });
    expect(compileTopicPattern('site/+/{sensor}/#').filter).toBe('site/+/+/#');
  });

  it('says what is wrong with a pattern', () => {
    expect(topicPatternProblem('a/{x}/{x}')).toBe('capture {x} appears twice');
    expect(topicPatternProblem('a/#/b')).toBe('# must be the last segment');
    expect(topicPatternProblem('a/b+/c')).toMatch(/stand alone/);
    expect(topicPatternProblem('$SYS/#')).toMatch(/broker's own/);
    expect(topicPatternProblem('a/{bed-no}')).toMatch(/a capture is a whole segment/);
    expect(topicPatternProblem('ward/{ward}/#')).toBeUndefined();
  });

  it('matches topics as MQTT does', () => {
    expect(topicMatches('a/+/c', 'a/b/c')).toBe(true);
    expect(topicMatches('a/+/c', 'a/b/c/d')).toBe(false);
    expect(topicMatches('a/#', 'a')).toBe(true);
    expect(topicMatches('a/#', 'a/b/c')).toBe(true);
    expect(topicMatches('#', '$SYS/broker/x')).toBe(false);
    expect(topicMatches('+/x', '$SYS/x')).toBe(false);
  });

  it('captures segments into tags, and refuses empty ones', () => {
    const { filter, captures } = compileTopicPattern('ward/{ward}/bed/{bed}/vitals');
    expect(capturedTags(filter, captures, 'ward/3/bed/12/vitals')).toEqual({ ward: '3', bed: '12' });
    expect(capturedTags(filter, captures, 'ward//bed/12/vitals')).toBeUndefined();
    expect(capturedTags(filter, captures, 'ward/3/bed/12/other')).toBeUndefined();
  });
});

describe('payloads', () => {
  it('parses JSON paths', () => {
    expect(jsonPathSegments('a.b[0].c')).toEqual(['a', 'b', 0, 'c']);
    expect(jsonPathSegments('[2].v')).toEqual([2, 'v']);
    expect(valueAt({ a: { b: [{ c: 5 }] } }, ['a', 'b', 0, 'c'])).toBe(5);
    expect(valueAt({ a: [] }, ['a', 0])).toBeUndefined();
    expect(valueAt({ a: 1 }, ['toString'])).toBeUndefined();
  });

  it('gives one reading per point, bad ones with a code, tags on each', () => {
    const points = [
      { id: 'hr', path: 'vitals.hr', type: 'number' as const },
      { id: 'alarm', path: 'alarm', type: 'bool' as const },
      { id: 'first', path: 'list[0]', type: 'string' as const },
      { id: 'missing', path: 'vitals.bp', type: 'number' as const },
      { id: 'text', path: 'note', type: 'number' as const },
    ];
    const reader = new PayloadReader(points);
    const readings = reader.read(Buffer.from('{"vitals":{"hr":72},"alarm":"on","list":["x"],"note":"n/a"}'), points, 1000, { bed: '12' });
    expect(readings.map((r) => [r.pointId, r.raw, r.quality, r.error])).toEqual([
      ['hr', 72, 'good', undefined],
      ['alarm', true, 'good', undefined],
      ['first', 'x', 'good', undefined],
      ['missing', null, 'bad', 'EDGE_PAYLOAD_PATH_MISSING'],
      ['text', null, 'bad', 'EDGE_VALUE_NOT_NUMERIC'],
    ]);
    expect(readings.every((r) => r.tags?.bed === '12' && r.ts === 1000)).toBe(true);
  });

  it('reads a plain payload as the value, and says when JSON was expected', () => {
    const raw = [{ id: 'v', type: 'number' as const }];
    expect(new PayloadReader(raw).read(Buffer.from(' 21.5\n'), raw, 1, undefined)[0]).toEqual({ pointId: 'v', ts: 1, raw: 21.5, quality: 'good' });
    const json = [{ id: 'v', path: 'v', type: 'number' as const }];
    expect(new PayloadReader(json).read(Buffer.from('21.5 C'), json, 1, undefined)[0]).toMatchObject({ quality: 'bad', error: 'EDGE_PAYLOAD_NOT_JSON' });
  });
});

describe('payload bounds', () => {
  const reader = new PayloadReader([{ id: 'hr', path: 'vitals.hr', type: 'number' }], { maxDepth: 4 });
  const points = [{ id: 'hr', path: 'vitals.hr', type: 'number' as const }];

  it('refuses JSON nested deeper than maxDepth without parsing it; brackets in strings do not count', () => {
    const deep = `{"vitals":{"hr":${'['.repeat(10)}1${']'.repeat(10)}}}`;
    expect(reader.read(Buffer.from(deep), points, 1, undefined)[0]).toMatchObject({ quality: 'bad', error: PayloadErrors.tooDeep });
    expect(reader.read(Buffer.from('{"vitals":{"hr":72,"note":"[[[[[[{{{{\\"}}"}}'), points, 1, undefined)[0]).toMatchObject({ quality: 'good', raw: 72 });
    expect(jsonDeeperThan('[[[[]]]]', 4)).toBe(false);
    expect(jsonDeeperThan('[[[[[]]]]]', 4)).toBe(true);
  });

  it('refuses a whole message with one code for every point', () => {
    expect(PayloadReader.refuse(points, 5, { bed: '3' }, PayloadErrors.tooLarge, 'big')).toEqual([
      { pointId: 'hr', ts: 5, raw: null, quality: 'bad', error: 'EDGE_PAYLOAD_TOO_LARGE', detail: 'big', tags: { bed: '3' } },
    ]);
  });
});
