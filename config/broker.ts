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
