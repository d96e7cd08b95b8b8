import { describe, expect, it } from 'vitest';
import { fleetPushOptions } from '../../../agent/commands/fleet-push-args.js';
import { parseBatch, planStages } from '../../../agent/commands/fleet-stages.js';

const gws = (n: number) => Array.from({ length: n }, (_, i) => `g${i}`);

describe('fleet push stages', () => {
  it('pushes the canaries alone, then batches', () => {
    expect(planStages(gws(7), 7, 2, { count: 2 }).map((s) => [s.name, s.gateways])).toEqual([
      ['canary 1', ['g0']],
      ['canary 2', ['g1']],
      ['batch 1', ['g2', 'g3']],
      ['batch 2', ['g4', 'g5']],
      ['batch 3', ['g6']],
    ]);
  });

  it('takes a percentage of the gateways selected, rounded up, so a resumed rollout keeps its batch size', () => {
    expect(planStages(['a', 'b', 'c'], 10, 0, { percent: 30 }).map((s) => s.gateways)).toEqual([['a', 'b', 'c']]);
    expect(planStages(gws(5), 5, 0, { percent: 10 }).map((s) => s.gateways.length)).toEqual([1, 1, 1, 1, 1]);
    expect(planStages(gws(2), 2, 5, { count: 3 }).map((s) => s.name)).toEqual(['canary 1', 'canary 2']);
    expect(planStages([], 4, 1, { count: 1 })).toEqual([]);
  });

  it('reads --batch as a count or a percentage and refuses anything else', () => {
    expect(parseBatch('5')).toEqual({ count: 5 });
    expect(parseBatch('25%')).toEqual({ percent: 25 });
    for (const bad of ['0', '0%', '101%', '-1', 'x', '5 %']) expect(parseBatch(bad), bad).toBeUndefined();
  });

  it('names what is wrong with the options', () => {
    const base = { central: 'mqtt://b', key: 'k', rev: '3' };
    expect(fleetPushOptions({ ...base, all: true }, undefined)).toEqual({ usage: 'missing FILE to push' });
    expect(fleetPushOptions({ ...base }, 'f.yaml')).toEqual({ usage: 'give either --gateways a,b,… or --all' });
    expect(fleetPushOptions({ ...base, all: true, gateways: 'a' }, 'f.yaml')).toEqual({ usage: 'give either --gateways a,b,… or --all' });
    expect(fleetPushOptions({ ...base, gateways: 'a,a' }, 'f.yaml')).toEqual({ usage: '--gateways names a gateway twice' });
    expect(fleetPushOptions({ ...base, gateways: 'a,edge/#' }, 'f.yaml')).toMatchObject({ usage: expect.stringMatching(/--gateways takes gateway ids/) });
    expect(fleetPushOptions({ ...base, all: true, rev: '0' }, 'f.yaml')).toMatchObject({ usage: expect.stringMatching(/--rev N/) });
    expect(fleetPushOptions({ ...base, all: true, timeout: 'soon' }, 'f.yaml')).toMatchObject({ usage: expect.stringMatching(/--timeout takes a duration/) });
    expect(fleetPushOptions({ ...base, gateways: 'a, b', canary: '0', batch: '50%' }, 'f.yaml')).toMatchObject({
      gateways: ['a', 'b'],
      canary: 0,
      batch: { percent: 50 },
      rev: 3,
      prefix: 'edge',
      timeoutMs: 60_000,
    });
  });
});
