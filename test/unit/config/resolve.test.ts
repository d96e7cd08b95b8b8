import { describe, expect, it } from 'vitest';
import type { ModbusPoint } from '../../../config/types.js';
import { device, doc, issues, ok } from './helpers.js';

const meter = {
  measurement: 'flow',
  tags: { vendor: 'acme', kind: 'meter' },
  points: {
    flow: { register: 'holding', address: 0, type: 'float32', order: 'CDAB', unit: 'm3/h', scale: 1, tags: { quantity: 'rate', kind: 'tpl-point' } },
    total: { register: 'holding', address: 2, type: 'uint32', unit: 'm3', map: { '0': 'idle', '1': 'run' } },
  },
};

function point(config: ReturnType<typeof ok>, deviceIndex: number, id: string): ModbusPoint {
  const p = config.devices[deviceIndex]?.points.find((x) => x.id === id);
  if (p === undefined) expect.fail(`no point ${id} on device ${deviceIndex}`);
  return p as ModbusPoint;
}

describe('template merge', () => {
  it('merges the device override key by key into the template point, and keeps the rest of the template', () => {
    const config = ok(doc({ templates: { meter }, devices: [device({ template: 'meter', points: { flow: { scale: 0.1, unit: 'l/s' } } })] }));
    expect(point(config, 0, 'flow')).toMatchObject({ register: 'holding', address: 0, type: 'float32', order: 'CDAB', scale: 0.1, unit: 'l/s' });
    expect(point(config, 0, 'total')).toMatchObject({ register: 'holding', address: 2, type: 'uint32', unit: 'm3' });
    // template points first, in template order
    expect(config.devices[0]?.points.map((p) => p.id)).toEqual(['flow', 'total']);
  });

  it('leaves the template untouched for the next device using it', () => {
    const config = ok(
      doc({ templates: { meter }, devices: [device({ template: 'meter', points: { flow: { address: 10 } } }), device({ id: 'pump-2', template: 'meter' })] }),
    );
    expect(point(config, 0, 'flow').address).toBe(10);
    expect(point(config, 1, 'flow').address).toBe(0);
  });

  it('merges point tag maps but replaces a value map whole', () => {
    const config = ok(
      doc({ templates: { meter }, devices: [device({ template: 'meter', points: { flow: { tags: { quantity: 'flow' } }, total: { map: { '2': 'fault' } } } })] }),
    );
    expect(point(config, 0, 'flow').tags).toMatchObject({ quantity: 'flow', kind: 'tpl-point' });
    expect(point(config, 0, 'total').map).toEqual({ '2': 'fault' });
  });

  it('accepts points only the device has, after the template ones', () => {
    const config = ok(doc({ templates: { meter }, devices: [device({ template: 'meter', points: { level: { register: 'input', address: 7, type: 'int16' } } })] }));
    expect(config.devices[0]?.points.map((p) => p.id)).toEqual(['flow', 'total', 'level']);
    expect(point(config, 0, 'level')).toMatchObject({ register: 'input', address: 7, type: 'int16', order: 'ABCD' });
  });

  it('checks the merged point with the driver schema and says the template did not complete it', () => {
    expect(
      issues(doc({ templates: { partial: { points: { flow: { register: 'holding', type: 'int16' } } } }, devices: [device({ template: 'partial' })] })),
    ).toEqual(['devices[0].points.flow.address: required, set neither by template "partial" nor by this device']);
    // the device can complete it
    expect(ok(doc({ templates: { partial: { points: { flow: { register: 'holding', type: 'int16' } } } }, devices: [device({ template: 'partial', points: { flow: { address: 4 } } })] })).devices[0]?.points[0]).toMatchObject({ address: 4 });
  });

  it('reports an unknown template at the device, and still checks the device own points', () => {
    expect(issues(doc({ templates: { meter }, devices: [device({ template: 'nope', points: { level: { register: 'holding', type: 'int16' } } })] }))).toEqual([
      'devices[0].template: unknown template "nope" (defined: meter; built in: delta-ms300, eastron-sdm120, eastron-sdm630, waveshare-analog-input-8ch)',
      'devices[0].points.level.address: required',
    ]);
  });

  it('carries the converted transform settings into the resolved point', () => {
    const p = point(
      ok(doc({ devices: [device({ points: { t: { register: 'input', address: 1, type: 'int16', offset: -40, min: -20, max: 60, decimals: 1, deadband: 0.5, maxSilence: '5m' } } })] })),
      0,
      't',
    );
    expect(p).toMatchObject({ offset: -40, min: -20, max: 60, decimals: 1, deadband: 0.5, maxSilenceMs: 300_000 });
    expect(p).not.toHaveProperty('maxSilence');
  });
});

describe('measurement', () => {
  const run = (tpl: Record<string, unknown>, dev: Record<string, unknown>) =>
    point(ok(doc({ templates: { t: { points: { p: { register: 'holding', address: 0, type: 'int16' } }, ...tpl } }, devices: [device({ template: 't', ...dev })] })), 0, 'p').measurement;

  it('is the point own, then the device, then the template, then telemetry', () => {
    expect(run({}, {})).toBe('telemetry');
    expect(run({ measurement: 'tpl' }, {})).toBe('tpl');
    expect(run({ measurement: 'tpl' }, { measurement: 'dev' })).toBe('dev');
    expect(run({ measurement: 'tpl', points: { p: { register: 'holding', address: 0, type: 'int16', measurement: 'tpl-point' } } }, { measurement: 'dev' })).toBe('tpl-point');
    expect(run({ measurement: 'tpl' }, { measurement: 'dev', points: { p: { measurement: 'dev-point' } } })).toBe('dev-point');
  });
});

describe('tags', () => {
  it('inherit gateway → template → device → template point → device point, and the reserved ones come last', () => {
    const config = ok({
      gateway: { id: 'gw-9', site: 'pozo-17', tags: { region: 'maule', a: 'gateway', b: 'gateway', c: 'gateway', d: 'gateway', e: 'gateway' } },
      templates: { t: { tags: { b: 'template', c: 'template', d: 'template', e: 'template' }, points: { p: { register: 'holding', address: 0, type: 'int16', tags: { d: 'template-point', e: 'template-point' } } } } },
      devices: [device({ template: 't', tags: { c: 'device', d: 'device', e: 'device' }, points: { p: { tags: { e: 'device-point' } } } })],
    });
    expect(point(config, 0, 'p').tags).toEqual({
      region: 'maule',
      a: 'gateway',
      b: 'template',
      c: 'device',
      d: 'template-point',
      e: 'device-point',
      gateway: 'gw-9',
      site: 'pozo-17',
      device: 'pump-1',
      point: 'p',
    });
    expect(config.devices[0]?.tags).toEqual({ region: 'maule', a: 'gateway', b: 'template', c: 'device', d: 'device', e: 'device', gateway: 'gw-9', site: 'pozo-17', device: 'pump-1' });
  });

  it('may not name a tag like a field the InfluxDB sink writes (InfluxDB 3 refuses it), at any level', () => {
    const lines = issues({
      gateway: { id: 'g', tags: { value: 'x' } },
      templates: { t: { tags: { state: 'x' }, points: { p: { register: 'holding', address: 0, type: 'int16', tags: { message: 'x' } } } } },
      devices: [device({ template: 't', tags: { threshold: 'x', region: 'ok' }, points: { p: { tags: { value: 'y' } } } })],
    });
    expect(lines.map((l) => l.slice(0, l.indexOf(':')))).toEqual(
      expect.arrayContaining(['gateway.tags.value', 'templates.t.tags.state', 'templates.t.points.p.tags.message', 'devices[0].tags.threshold', 'devices[0].points.p.tags.value']),
    );
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/field name the InfluxDB sink writes; InfluxDB 3 refuses/);
  });

  it('may not use a reserved name at any level, each reported at its path', () => {
    const lines = issues({
      gateway: { id: 'g', tags: { site: 'x' } },
      templates: { t: { tags: { device: 'x' }, points: { p: { register: 'holding', address: 0, type: 'int16', tags: { point: 'x' } } } } },
      devices: [device({ template: 't', tags: { gateway: 'x' }, points: { p: { tags: { site: 'y' } } } })],
    });
    expect(lines.map((l) => l.slice(0, l.indexOf(':')))).toEqual(
      expect.arrayContaining(['gateway.tags.site', 'templates.t.tags.device', 'templates.t.points.p.tags.point', 'devices[0].tags.gateway', 'devices[0].points.p.tags.site']),
    );
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/reserved tag/);
  });
});

describe('schedule', () => {
  const schedule = (over: Record<string, unknown>) => {
    const { every: _every, ...rest } = device();
    return doc({ devices: [{ ...rest, ...over }] });
  };

  it('takes every as a duration or cron as an expression', () => {
    expect(ok(schedule({ every: '500ms' })).devices[0]?.schedule).toEqual({ kind: 'every', everyMs: 500 });
    expect(ok(schedule({ every: 2000 })).devices[0]?.schedule).toEqual({ kind: 'every', everyMs: 2000 });
    expect(ok(schedule({ cron: '*/5 * * * *' })).devices[0]?.schedule).toEqual({ kind: 'cron', cron: '*/5 * * * *' });
    expect(ok(schedule({ cron: '*/10 * * * * *' })).devices[0]?.schedule).toEqual({ kind: 'cron', cron: '*/10 * * * * *' });
    expect(ok(schedule({ cron: '@hourly' })).devices[0]?.schedule).toEqual({ kind: 'cron', cron: '@hourly' });
  });

  it('needs exactly one of them, reported at the device', () => {
    expect(issues(schedule({}))).toEqual(['devices[0]: no schedule: set every (e.g. 10s) or cron (e.g. "*/5 * * * *")']);
    expect(issues(schedule({ every: '1s', cron: '* * * * *' }))).toEqual(['devices[0]: set either every or cron, not both']);
  });

  it('refuses an every below 100ms and a bad duration', () => {
    expect(issues(schedule({ every: '50ms' }))).toEqual(['devices[0].every: must be at least 100ms (got 50ms)']);
    expect(issues(schedule({ every: '10 seconds' }))[0]).toMatch(/^devices\[0\]\.every: invalid duration "10 seconds"/);
  });

  it('refuses a cron expression the scheduler could not run', () => {
    expect(issues(schedule({ cron: '61 * * * *' }))).toEqual(['devices[0].cron: invalid cron expression "61 * * * *": Constraint error, got value 61 expected range 0-59']);
    expect(issues(schedule({ cron: '* * *' }))[0]).toMatch(/^devices\[0\]\.cron: .*expected 5 fields .* got 3$/);
    expect(issues(schedule({ cron: 'every 5 minutes' }))[0]).toMatch(/^devices\[0\]\.cron: invalid cron expression/);
    expect(issues(schedule({ cron: '@fortnightly' }))[0]).toMatch(/^devices\[0\]\.cron: unknown cron macro/);
  });

  it('does not pile a "no schedule" on top of a bad duration', () => {
    expect(issues(schedule({ every: 'soon' }))).toHaveLength(1);
  });
});

describe('devices', () => {
  it('must have unique ids', () => {
    expect(issues(doc({ devices: [device(), device({ id: 'pump-2' }), device()] }))).toEqual(['devices[2].id: duplicate device id "pump-1" (also devices[0])']);
  });

  it('are validated when disabled but left out of what runs', () => {
    const config = ok(doc({ devices: [device({ enabled: false }), device({ id: 'pump-2' })] }));
    expect(config.devices.map((d) => d.id)).toEqual(['pump-2']);
    expect(issues(doc({ devices: [device({ enabled: false, every: '1ms' })] }))).toEqual(['devices[0].every: must be at least 100ms (got 1ms)']);
  });

  it('default a coil or discrete point to bool and refuse any other type there', () => {
    const config = ok(doc({ devices: [device({ points: { run: { register: 'coil', address: 0 }, alarm: { register: 'discrete', address: 1, type: 'bool' } } })] }));
    expect(point(config, 0, 'run').type).toBe('bool');
    expect(point(config, 0, 'alarm').type).toBe('bool');
    expect(issues(doc({ devices: [device({ points: { run: { register: 'coil', address: 0, type: 'uint16' } } })] }))).toEqual([
      'devices[0].points.run.type: a coil holds one bit: type must be bool (got uint16)',
    ]);
  });

  it('allow bool on a holding register (meaning non-zero)', () => {
    expect(point(ok(doc({ devices: [device({ points: { on: { register: 'holding', address: 9, type: 'bool' } } })] })), 0, 'on').type).toBe('bool');
  });

  it('report a template mistake once at the template, not once per device', () => {
    const templates = { t: { points: { run: { register: 'coil', address: 0, type: 'float32' } } } };
    expect(issues(doc({ templates, devices: [device({ template: 't' }), device({ id: 'pump-2', template: 't' })] }))).toEqual([
      'templates.t.points.run.type: a coil holds one bit: type must be bool (got float32)',
    ]);
  });

  it('refuse a value that runs past the last register, and min above max', () => {
    expect(
      issues(doc({ devices: [device({ points: { a: { register: 'holding', address: 65535, type: 'float32' }, b: { register: 'holding', address: 0, type: 'int16', min: 5, max: 1 } } })] })),
    ).toEqual(['devices[0].points.a.address: a float32 at 65535 runs past the last register (65535)', 'devices[0].points.b.min: must not be above max (5 > 1)']);
  });
});
