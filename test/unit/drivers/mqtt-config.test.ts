import { describe, expect, it } from 'vitest';
import type { MqttDevice } from '../../../config/types.js';
import { doc, issues, ok } from '../config/helpers.js';

const broker = { users: [{ username: 'sensor', password: 'pw' }] };
const mqtt = (over: Record<string, unknown> = {}) => ({
  id: 'ward-monitors',
  driver: 'mqtt',
  topic: 'ward/{ward}/bed/{bed}/vitals',
  points: { hr: { path: 'hr', unit: 'bpm' }, spo2: { path: 'spo2' } },
  ...over,
});

function device(over: Record<string, unknown> = {}, extra: Record<string, unknown> = { broker }): MqttDevice {
  const d = ok(doc({ devices: [mqtt(over)], ...extra })).devices[0];
  if (d?.driver !== 'mqtt') expect.fail('expected an MQTT device');
  return d;
}

describe('MQTT device config', () => {
  it('compiles the topic pattern into a filter and the capture names, per point', () => {
    const d = device();
    expect(d.schedule).toBeUndefined();
    expect(d.qos).toBe(0);
    expect(d.connection).toBeUndefined();
    expect(d.points[0]).toMatchObject({ id: 'hr', topic: 'ward/{ward}/bed/{bed}/vitals', filter: 'ward/+/bed/+/vitals', captures: [undefined, 'ward', undefined, 'bed', undefined], path: 'hr', type: 'number' });
  });

  it('lets a point have its own topic and read the whole payload', () => {
    const d = device({ topic: undefined, points: { temp: { topic: 'sensors/{room}/temperature' }, state: { topic: 'sensors/+/relay/#', type: 'bool' } } });
    expect(d.points.map((p) => [p.filter, p.path, p.type])).toEqual([['sensors/+/temperature', undefined, 'number'], ['sensors/+/relay/#', undefined, 'bool']]);
  });

  it('takes an external broker with no embedded one', () => {
    const d = device({ connection: { url: 'mqtts://broker.example:8883', username: 'u', password: 'p', ca: '/etc/ssl/ca.pem' } }, {});
    expect(d.connection).toEqual({ url: 'mqtts://broker.example:8883', username: 'u', password: 'p', ca: '/etc/ssl/ca.pem', rejectUnauthorized: true });
  });

  it('lists every mistake with its path', () => {
    expect(
      issues(
        doc({
          devices: [
            mqtt({ topic: 'ward/{ward}/b{bed}/#/x', every: '10s' }),
            mqtt({ id: 'm2', topic: 'a/{device}/b', points: { hr: { path: 'a..b' }, ok: {}, t: { type: 'int16', register: 'holding' } } }),
            mqtt({ id: 'm3', topic: undefined, points: { hr: {} } }),
            mqtt({ id: 'm4', connection: { url: 'http://x' }, qos: 3 }),
          ],
        }),
      ),
    ).toEqual([
      'devices[0].topic: "b{bed}": a capture is a whole segment, a name in braces like {bed} (letters, digits, _)',
      'devices[3].qos: must be 0, 1 or 2',
      'devices[3].connection.url: must start with mqtt://, mqtts://, ws:// or wss://',
      'devices[0].every: MQTT devices are not polled (a reading arrives whenever the sensor publishes): remove it',
      'devices[1].points.hr.path: must be a JSON path like a.b[0].c (names with letters, digits, _ $ @ -, and [index])',
      'devices[1].topic: {device} would overwrite a reserved tag the agent sets itself (reserved: gateway, site, device, point)',
      'devices[1].points.t.type: must be one of number, string, bool (got "int16")',
      'devices[1].points.t.register: not an MQTT point key',
      'devices[2].points.hr.topic: required: give the device a topic, or this point its own',
    ]);
  });

  it('needs the embedded broker when the device has no connection', () => {
    expect(issues(doc({ devices: [mqtt()] }))).toEqual([
      'devices[0].connection: required: there is no embedded broker (no broker: section); give connection.url of a broker, or add a broker: section',
    ]);
    expect(issues(doc({ devices: [mqtt()], broker: { ...broker, enabled: false } }))).toEqual([
      'devices[0].connection: required: the embedded broker is off (broker.enabled: false); give connection.url of a broker, or turn the broker on',
    ]);
    // A disabled device needs nothing.
    expect(ok(doc({ devices: [mqtt({ enabled: false })] })).devices).toEqual([]);
  });
});

describe('broker config', () => {
  it('is off without a section, on with one, with safe defaults', () => {
    expect(ok(doc({})).broker).toBeUndefined();
    expect(ok(doc({ broker })).broker).toEqual({
      enabled: true, host: '127.0.0.1', allowAnonymous: false, users: [{ username: 'sensor', password: 'pw' }],
      limits: {
        maxPacketSize: 256 * 1024, maxConnections: 64, maxConnectionsPerUser: 16, maxSubscriptionsPerClient: 32, maxRetained: 1000, maxRetainedBytes: 4 * 1024 * 1024,
        maxInflight: 100, maxQueued: 1000, maxQueuedBytes: 1024 * 1024, maxPublishRate: 100,
      },
    });
    expect(ok(doc({ broker: { ...broker, limits: { maxPacketSize: '1MiB', maxPublishRate: 5 } } })).broker?.limits).toMatchObject({ maxPacketSize: 1024 * 1024, maxPublishRate: 5, maxConnections: 64 });
    expect(issues(doc({ broker: { ...broker, limits: { maxPacketSize: '12 parsecs', maxConnections: 0, maxQueud: 1 } } })).sort()).toEqual([
      'broker.limits.maxConnections: must be at least 1 (got 0)',
      'broker.limits.maxPacketSize: must be a size such as 512MB or 1GiB (units: b, kb, mb, gb, tb, kib, mib, gib, tib)',
      'broker.limits.maxQueud: unknown key',
    ]);
  });

  it('checks users, ACL entries and TLS', () => {
    expect(
      issues(
        doc({
          broker: {
            port: 70000,
            users: [{ username: 'a', password: 'x' }, { username: 'a', passwordHash: 'md5:abc' }, { username: 'b' }],
            acl: [{ user: 'a', publish: ['x/#/y'] }, { user: 'nobody', subscribe: ['#'] }],
            tls: { cert: '/c.pem', key: '/k.pem', requireClientCert: true },
          },
        }),
      ),
    ).toEqual([
      'broker.port: must be at most 65535 (got 70000)',
      'broker.users[1].passwordHash: must look like scrypt$<salt>$<hash> (see docs/broker.md)',
      'broker.acl[0].publish[0]: # must be the last segment',
    ]);
    expect(
      issues(
        doc({
          broker: {
            users: [{ username: 'a', password: 'x' }, { username: 'a', password: 'y' }, { username: 'b' }],
            acl: [{ user: 'nobody', subscribe: ['#'] }],
            tls: { cert: '/c.pem', key: '/k.pem', requireClientCert: true },
          },
        }),
      ),
    ).toEqual([
      'broker.users[1].username: duplicate user "a" (also broker.users[0])',
      'broker.users[2]: give exactly one of password or passwordHash',
      'broker.acl[0].user: unknown user "nobody" (anonymous only with allowAnonymous: true)',
      'broker.tls.requireClientCert: needs broker.tls.ca, the authority that signs the client certificates',
    ]);
    expect(issues(doc({ broker: {} }))).toEqual(['broker.users: nobody could connect: add users (username, password), or set allowAnonymous: true']);
    expect(ok(doc({ broker: { allowAnonymous: true, acl: [{ user: 'anonymous', publish: ['sensors/#'] }] } })).broker?.acl).toEqual([{ user: 'anonymous', publish: ['sensors/#'], subscribe: [] }]);
  });
});
