import { describe, expect, it } from 'vitest';
import { checkConfig, substituteEnv } from '../../../config/index.js';

describe('${VAR} substitution', () => {
  it('replaces references in string values anywhere in the document, from the injected env', () => {
    const { value, issues } = substituteEnv(
      { sinks: { influx: { token: '${TOKEN}', url: 'https://${HOST}:8086' } }, devices: [{ connection: { host: '${PLC}' } }] },
      { TOKEN: 's3cret', HOST: 'influx.ops', PLC: '10.0.0.5' },
    );
    expect(issues).toEqual([]);
    expect(value).toEqual({ sinks: { influx: { token: 's3cret', url: 'https://influx.ops:8086' } }, devices: [{ connection: { host: '10.0.0.5' } }] });
  });

  it('uses the default after :- when the variable is unset or empty', () => {
    const { value } = substituteEnv({ a: '${UNSET:-fallback}', b: '${EMPTY:-x}', c: '${SET:-x}', d: '${UNSET:-}' }, { EMPTY: '', SET: 'y' });
    expect(value).toEqual({ a: 'fallback', b: 'x', c: 'y', d: '' });
  });

  it('reports an unset variable at the path where it occurred', () => {
    const { issues } = substituteEnv({ sinks: { influx: { token: '${INFLUX_TOKEN}' } }, devices: [{ id: 'a' }, { tags: { k: '${TAG}' } }] }, {});
    expect(issues).toEqual([
      { path: 'sinks.influx.token', message: 'environment variable INFLUX_TOKEN is not set' },
      { path: 'devices[1].tags.k', message: 'environment variable TAG is not set' },
    ]);
  });

  it('treats $${X} as a literal ${X}', () => {
    const { value, issues } = substituteEnv({ a: 'cost: $${PRICE} and ${N}', b: '$$${N}' }, { N: '3' });
    expect(issues).toEqual([]);
    expect(value).toEqual({ a: 'cost: ${PRICE} and 3', b: '$${N}' });
  });

  it('reports malformed references instead of passing them through', () => {
    const { issues } = substituteEnv({ a: '${1BAD}', b: 'x ${OPEN' }, {});
    expect(issues.map((i) => i.path)).toEqual(['a', 'b']);
    expect(issues[0]?.message).toMatch(/invalid reference "\$\{1BAD\}"/);
    expect(issues[1]?.message).toMatch(/unterminated/);
  });

  it('leaves keys, numbers and booleans alone and does not mutate its input', () => {
    const input = { '${K}': 5, b: true, c: ['${V}'] };
    const { value } = substituteEnv(input, { K: 'k', V: 'v' });
    expect(value).toEqual({ '${K}': 5, b: true, c: ['v'] });
    expect(input.c).toEqual(['${V}']);
  });

  it('works on the parsed YAML, so a value with quotes and colons cannot break the file', () => {
    const text = 'gateway: { id: gw-1 }\nsinks:\n  influx: { url: "http://i:8086", org: o, bucket: b, token: "${TOKEN}" }\n';
    const r = checkConfig({ text, env: { TOKEN: 'a"b: c\n- d' } });
    expect(r.ok && r.config.settings.sinks.influx.token).toBe('a"b: c\n- d');
  });

  it('reports the missing variable once, not also as the empty value it left behind', () => {
    const r = checkConfig({ text: 'gateway: { id: "${GATEWAY}" }\n', env: {} });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues).toEqual([{ path: 'gateway.id', message: 'environment variable GATEWAY is not set' }]);
  });
});
