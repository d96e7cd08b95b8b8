import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinTemplateNames, builtinTemplatesDir, loadBuiltinTemplates } from '../../../config/builtin-templates.js';
import { device, doc, issues, ok } from './helpers.js';

describe('built-in device templates (templates/)', () => {
  const dir = builtinTemplatesDir();

  it('ships the four templates, each valid and citing the manual its register map comes from', () => {
    const names = builtinTemplateNames();
    expect(names).toEqual(['delta-ms300', 'eastron-sdm120', 'eastron-sdm630', 'waveshare-analog-input-8ch']);
    const loaded = loadBuiltinTemplates(names);
    expect(loaded.issues).toEqual([]);
    expect(Object.keys(loaded.templates).sort()).toEqual(names);
    for (const name of names) expect(readFileSync(join(dir as string, `${name}.yaml`), 'utf8'), name).toMatch(/^# Register map: .*(Manual|Protocol|wiki)/m);
  });

  it('is used by name; the device overrides and adds points as with its own templates', () => {
    const cfg = ok(doc({ devices: [device({ template: 'eastron-sdm120', points: { voltage: { decimals: 0 }, extra: { register: 'input', address: 400, type: 'float32' } } })] }));
    const points = cfg.devices[0]?.points ?? [];
    expect(points.find((p) => p.id === 'voltage')).toMatchObject({ register: 'input', address: 0, type: 'float32', decimals: 0, unit: 'V', measurement: 'electricity' });
    expect(points.find((p) => p.id === 'voltage')?.tags).toMatchObject({ vendor: 'eastron', model: 'SDM120', device: 'pump-1' });
    expect(points.map((p) => p.id)).toContain('extra');
    expect(points).toHaveLength(15);
  });

  it('gives way, whole, to a template of the same name in the config', () => {
    const templates = { 'eastron-sdm120': { points: { kwh: { register: 'input', address: 342, type: 'float32' } } } };
    const cfg = ok(doc({ templates, devices: [device({ template: 'eastron-sdm120' })] }));
    expect(cfg.devices[0]?.points.map((p) => p.id)).toEqual(['kwh']);
  });

  it('names the built-in templates when a device asks for one that does not exist', () => {
    expect(issues(doc({ devices: [device({ template: 'eastron-sdm1200' })] }))).toEqual([
      'devices[0].template: unknown template "eastron-sdm1200" (no templates are defined; built in: delta-ms300, eastron-sdm120, eastron-sdm630, waveshare-analog-input-8ch)',
    ]);
  });

  it('reports a broken template file with the file and the key', () => {
    const broken = loadBuiltinTemplates(['x'], join(import.meta.dirname, 'fixtures-templates'));
    expect(broken.issues).toEqual([{ path: expect.stringMatching(/^template x \(.*fixtures-templates\/x\.yaml\)$/), message: 'points.v.type: must be one of int16, uint16, int32, uint32, int64, uint64, float32, float64, bool, int8, uint8, string, number (got "float23")' }]);
  });
});
