/**
 * Who may publish and subscribe where. Without an `acl:` list every authenticated client may do
 * anything but touch `$SYS`; with one, a client may do only what an entry for its user allows
 * (entries for the same user add up). `%u` in a filter is the client's own user name, so
 * `sensors/%u/#` gives every sensor its own subtree with one line.
 */
import type { BrokerSettings } from '../config/broker.js';
import { topicMatches } from '../config/topic-pattern.js';

export class Acl {
  private readonly publish = new Map<string, string[]>();
  private readonly subscribe = new Map<string, string[]>();
  private readonly open: boolean;

  constructor(acl: BrokerSettings['acl']) {
    this.open = acl === undefined;
    for (const entry of acl ?? []) {
      this.publish.set(entry.user, [...(this.publish.get(entry.user) ?? []), ...entry.publish]);
      this.subscribe.set(entry.user, [...(this.subscribe.get(entry.user) ?? []), ...entry.subscribe]);
    }
  }

  canPublish(user: string, topic: string): boolean {
    if (topic.startsWith('$')) return false;
    if (this.open) return true;
    return (this.publish.get(user) ?? []).some((f) => topicMatches(forUser(f, user), topic));
  }

  canSubscribe(user: string, filter: string): boolean {
    // $SYS (broker internals) only for an explicit entry; never through the open default.
    if (this.open) return !filter.startsWith('$');
    return (this.subscribe.get(user) ?? []).some((f) => filterCovers(forUser(f, user), filter));
  }
}

function forUser(filter: string, user: string): string {
  // A user name with + or # must not widen its own filter.
  return filter.includes('%u') ? filter.replaceAll('%u', user.replace(/[+#/]/g, '_')) : filter;
}


/**
 * Is every topic `requested` matches also matched by `allowed`? A client allowed `ward/#` may
 * subscribe to `ward/3/+`; one allowed `ward/+/vitals` may not subscribe to `ward/#`.
 */
export function filterCovers(allowed: string, requested: string): boolean {
  const a = allowed.split('/');
  const r = requested.split('/');
  if (requested.startsWith('$') !== allowed.startsWith('$')) return false;
  for (let i = 0; i < a.length; i++) {
    const seg = a[i];
    if (seg === '#') return true;
    const want = r[i];
    if (want === undefined || want === '#') return false;
    if (seg === '+') continue;
    if (want === '+' || want !== seg) return false;
  }
  return a.length === r.length;
}
