/**
 * The `broker:` section: the embedded MQTT broker (aedes) that local sensors publish to.
 *
 * It lives in the catalog (zod), not in the convict settings: users and ACL entries are lists
 * of records that need per-entry paths in errors (`broker.acl[1].publish[0]`), and the broker
 * belongs to what central ops may push, not to the bootstrap keys the environment pins.
 *
 * No `broker:` section means no broker. A section means a broker, unless `enabled: false`.
 */
import { z } from 'zod';
import { byteSizeSchema } from './byte-size.js';
import { childPath, formatPath, type ConfigIssue } from './issues.js';
import { topicFilterProblem } from './topic-pattern.js';

/** The ACL's name for clients that connect without a user name (with `allowAnonymous`). */
export const ANONYMOUS_USER = 'anonymous';

/** `scrypt$<salt, base64>$<key, base64>`: see docs/broker.md for how to make one. */
export const PASSWORD_HASH = /^scrypt\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/;

const topicFilter = z.string().superRefine((filter, ctx) => {
  const problem = topicFilterProblem(filter);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

export const brokerUser = z.strictObject({
  username: z.string().min(1),
  // plain (write it as ${VAR}) or a scrypt hash; exactly one of them
  password: z.string().min(1).optional(),
  passwordHash: z.string().regex(PASSWORD_HASH, 'must look like scrypt$<salt>$<hash> (see docs/broker.md)').optional(),
});

export const brokerAclEntry = z.strictObject({
  user: z.string().min(1),
  // MQTT filters; %u stands for the user's own name (sensors/%u/#)
  publish: z.array(topicFilter).default([]),
  subscribe: z.array(topicFilter).default([]),
});

export const brokerTls = z.strictObject({
  // PEM file paths, or the PEM text itself
  cert: z.string().min(1),
  key: z.string().min(1),
  ca: z.string().min(1).optional(),
  // with a ca: clients must present a certificate it signed
  requireClientCert: z.boolean().default(false),
});

const count = (max: number) => z.number().int().min(1).max(max);

/**
 * What one client, one user and all of them together may hold of the broker (docs/broker.md,
 * "Limits"). The defaults fit a Pi Zero 2 W (512 MB) with room to spare: each bound holds a
 * hostile or broken client to a few MB at most, while a site's sensors stay far below them.
 */
export const brokerLimits = z.strictObject({
  // the largest MQTT packet (a PUBLISH with its topic and payload); a larger one closes the
  // connection as soon as its header says so, before the payload is buffered
  maxPacketSize: byteSizeSchema(1024).default(256 * 1024),
  // clients connected at once, in all and with one user name (anonymous counts as one user)
  maxConnections: count(100_000).default(64),
  maxConnectionsPerUser: count(100_000).default(16),
  // topic filters one client may hold; the next SUBSCRIBE filter gets the failure code (0x80)
  maxSubscriptionsPerClient: count(100_000).default(32),
  // retained messages kept from clients; past either bound a retained PUBLISH is delivered but not kept
  maxRetained: count(1_000_000).default(1000),
  maxRetainedBytes: byteSizeSchema(1024).default(4 * 1024 * 1024),
  // QoS 2 PUBLISHes one client may have awaiting PUBREL; past it the client is disconnected
  maxInflight: count(65_535).default(100),
  // QoS 1/2 messages queued for one client's persistent session; past it new ones are dropped for it
  maxQueued: count(1_000_000).default(1000),
  // bytes waiting in one client's socket (it reads slower than it is sent to); past it messages are dropped for it
  maxQueuedBytes: byteSizeSchema(1024).default(1024 * 1024),
  // PUBLISH packets per second from one client (a burst of one second's worth is allowed); past it the client is disconnected
  maxPublishRate: count(1_000_000).default(100),
});
export type BrokerLimits = z.infer<typeof brokerLimits>;

export const brokerSettings = z.strictObject({
  enabled: z.boolean().default(true),
  // 127.0.0.1 keeps the broker to this box; 0.0.0.0 lets sensors on the LAN in
  host: z.string().min(1).default('127.0.0.1'),
  // default 1883, or 8883 with tls; 0 picks a free port (tests)
  port: z.number().int().min(0).max(65535).optional(),
  allowAnonymous: z.boolean().default(false),
  users: z.array(brokerUser).default([]),
  // absent: every authenticated client may publish and subscribe anywhere (but $SYS);
  // present: a client may do only what an entry for its user allows
  acl: z.array(brokerAclEntry).optional(),
  tls: brokerTls.optional(),
  limits: brokerLimits.prefault({}),
});
export type BrokerSettings = z.infer<typeof brokerSettings>;

/** The port the broker listens on when none is given. */
export function brokerPort(b: BrokerSettings): number {
  return b.port ?? (b.tls === undefined ? 1883 : 8883);
}

/**
 * Checks across entries and against the devices: the schema has judged each entry alone. An
 * enabled MQTT device without its own `connection` needs the embedded broker.
 */
export function brokerIssues(
  broker: BrokerSettings | undefined,
  devices: ReadonlyArray<{ driver: string; enabled: boolean; connection?: unknown }>,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const on = broker !== undefined && broker.enabled;
  for (const [index, d] of devices.entries()) {
    if (d.driver === 'mqtt' && d.enabled && d.connection === undefined && !on) {
      issues.push({
        path: formatPath(['devices', index, 'connection']),
        message: broker === undefined
          ? 'required: there is no embedded broker (no broker: section); give connection.url of a broker, or add a broker: section'
          : 'required: the embedded broker is off (broker.enabled: false); give connection.url of a broker, or turn the broker on',
      });
    }
  }
  if (broker === undefined) return issues;

  const names = new Map<string, number>();
  broker.users.forEach((u, i) => {
    const at = formatPath(['broker', 'users', i]);
    const first = names.get(u.username);
    if (first !== undefined) issues.push({ path: childPath(at, 'username'), message: `duplicate user "${u.username}" (also broker.users[${first}])` });
    else names.set(u.username, i);
    if (broker.allowAnonymous && u.username === ANONYMOUS_USER) {
      issues.push({ path: childPath(at, 'username'), message: `"${ANONYMOUS_USER}" is the ACL's name for clients without a user name (allowAnonymous): choose another` });
    }
    if ((u.password === undefined) === (u.passwordHash === undefined)) {
      issues.push({ path: at, message: 'give exactly one of password or passwordHash' });
    }
  });
  if (broker.enabled && broker.users.length === 0 && !broker.allowAnonymous) {
    issues.push({ path: 'broker.users', message: 'nobody could connect: add users (username, password), or set allowAnonymous: true' });
  }
  broker.acl?.forEach((entry, i) => {
    const known = names.has(entry.user) || (broker.allowAnonymous && entry.user === ANONYMOUS_USER);
    if (!known) {
      const hint = broker.allowAnonymous ? '' : ` (${ANONYMOUS_USER} only with allowAnonymous: true)`;
      issues.push({ path: formatPath(['broker', 'acl', i, 'user']), message: `unknown user "${entry.user}"${hint}` });
    }
  });
  if (broker.tls?.requireClientCert === true && broker.tls.ca === undefined) {
    issues.push({ path: 'broker.tls.requireClientCert', message: 'needs broker.tls.ca, the authority that signs the client certificates' });
  }
  return issues;
}
