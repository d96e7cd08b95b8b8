import { describe, expect, it } from 'vitest';
import { device, doc, issues, ok } from './helpers.js';

const point = (alerts: unknown, over: Record<string, unknown> = {}) => ({ register: 'holding', address: 0, type: 'uint16', alerts, ...over });

describe('alerts: config', () => {
  it('derives stable rule ids, applies defaults and turns durations into ms', () => {
    const cfg = ok(
      doc({
        devices: [
          device({
            points: {
              flow: point([
                { above: 120, for: '30s', clearBelow: 115, severity: 'critical' },
                { below: 2.5, clearAbove: 3, clearFor: '1m' },
                { rateOfChange: { rise: 5 } },
                { stale: '5m' },
                { badQuality: true, latch: true },
                { equals: 'tripped fault', id: 'trip' },
                { equals: 'tripped fault' },
              ]),
            },
          }),
        ],
      }),
    );
    const rules = cfg.devices[0]?.points[0]?.alerts ?? [];
    expect(rules.map((r) => r.id)).toEqual(['above-120', 'below-2.5', 'rise-5', 'stale', 'bad-quality', 'trip', 'equals-tripped_fault']);
    expect(rules[0]).toMatchObject({ above: 120, for: 30_000, clearBelow: 115, severity: 'critical', latch: false });
    expect(rules[1]).toMatchObject({ severity: 'warning', clearFor: 60_000 });
    expect(rules[2]?.rateOfChange).toEqual({ rise: 5, per: 60_000 });
    expect(rules[3]?.stale).toBe(300_000);
  });

  it('lists every mistake at once, with its path', () => {
    const found = issues(
      doc({
        devices: [
          device({
            points: {
              flow: point([
                { severity: 'warning' },
                { above: 1, below: 0 },
                { above: 10, clearBelow: 12 },
                { below: 10, clearBelow: 5 },
                { above: 5, for: 'soon' },
                { above: 5, colour: 'red' },
                { rateOfChange: { rise: 1, fall: 1 } },
                { above: 7, severity: 'urgent' },
              ]),
            },
          }),
        ],
      }),
    );
    const at = 'devices[0].points.flow.alerts';
    expect(found).toEqual(
      expect.arrayContaining([
        `${at}[0]: give a condition: one of above, below, equals, rateOfChange, stale, badQuality`,
        `${at}[1]: give one condition per rule (got above, below): write one rule for each`,
        `${at}[2].clearBelow: must not be above the threshold (12 > above 10)`,
        `${at}[3].clearBelow: goes with above (an above alert clears below it)`,
        expect.stringContaining(`${at}[4].for: invalid duration "soon"`),
        `${at}[5].colour: unknown key`,
        `${at}[6].rateOfChange: give rise or fall, not both (write two rules)`,
        `${at}[7].severity: must be one of critical, warning, info (got "urgent")`,
      ]),
    );
    expect(found).toHaveLength(8);
  });

  it('refuses two rules with one id: each id names one alert', () => {
    expect(issues(doc({ devices: [device({ points: { flow: point([{ above: 7 }, { above: 7, severity: 'critical' }]) } })] }))).toEqual([
      'devices[0].points.flow.alerts[1].id: duplicate rule id "above-7" (also alerts[0]): give one of them its own id',
    ]);
  });

  it('merges a template point\'s rules with the device\'s by rule id', () => {
    const cfg = ok(
      doc({
        templates: {
          pump: {
            points: {
              flow: point([{ above: 120, severity: 'warning', id: 'high' }, { stale: '5m' }]),
            },
          },
        },
        devices: [
          device({ template: 'pump', points: { flow: { alerts: [{ id: 'high', above: 100, severity: 'critical' }, { below: 1 }] } } }),
          device({ id: 'pump-2', template: 'pump' }),
        ],
      }),
    );
    const [one, two] = cfg.devices;
    expect(one?.points[0]?.alerts?.map((r) => [r.id, r.above ?? null, r.severity])).toEqual([
      ['high', 100, 'critical'],
      ['stale', null, 'warning'],
      ['below-1', null, 'warning'],
    ]);
    expect(two?.points[0]?.alerts?.map((r) => r.id)).toEqual(['high', 'stale']);
  });

  it('accepts alerts on MQTT and serial points too', () => {
    const cfg = ok(
      doc({
        broker: { allowAnonymous: true },
        devices: [{ id: 'ward-1', driver: 'mqtt', topic: 'ward/1/spo2', points: { spo2: { alerts: [{ below: 90, severity: 'critical', for: '10s' }] } } }],
      }),
    );
    expect(cfg.devices[0]?.points[0]?.alerts?.[0]).toMatchObject({ id: 'below-90', for: 10_000 });
  });
});
