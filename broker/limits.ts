/**
 * The bookkeeping behind `broker.limits`: what each refusal is called, the publish-rate bucket of
 * one client, the retained messages clients left behind, and the queue of a persistent session.
 * broker.ts decides when each applies; this file only counts.
 */
import type { Aedes, AedesPublishPacket } from 'aedes';

/** Each kind of refusal, as counted on /status and /metrics (`reason` label). */
export const REFUSALS = ['packetTooLarge', 'connections', 'connectionsPerUser', 'subscriptions', 'retained', 'inflight', 'queued', 'publishRate'] as const;
export type Refusal = (typeof REFUSALS)[number];

export const RefusalCodes: Record<Refusal, string> = {
  packetTooLarge: 'EDGE_BROKER_PACKET_TOO_LARGE',
  connections: 'EDGE_BROKER_TOO_MANY_CONNECTIONS',
  connectionsPerUser: 'EDGE_BROKER_TOO_MANY_CONNECTIONS',
  subscriptions: 'EDGE_BROKER_TOO_MANY_SUBSCRIPTIONS',
  retained: 'EDGE_BROKER_RETAINED_FULL',
  inflight: 'EDGE_BROKER_INFLIGHT_FULL',
  queued: 'EDGE_BROKER_QUEUE_FULL',
  publishRate: 'EDGE_BROKER_PUBLISH_RATE',
};

export function noRefusals(): Record<Refusal, number> {
  return Object.fromEntries(REFUSALS.map((r) => [r, 0])) as Record<Refusal, number>;
}

/**
 * A token bucket: `rate` tokens a second, holding at most one second's worth, so a sensor may
 * send a short burst (a reconnect flushing its readings) but not keep above the rate.
 */
export class RateBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly rate: number,
    now: number,
  ) {
    this.tokens = rate;
    this.at = now;
  }

  take(now: number): boolean {
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.at) * this.rate) / 1000);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** The retained messages clients published (the agent's own retained alerts are not counted). */
export class RetainedLedger {
  private readonly sizes = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: { maxRetained: number; maxRetainedBytes: number }) {}

  get count(): number {
    return this.sizes.size;
  }

  get bytes(): number {
    return this.total;
  }

  /** Notes a retained PUBLISH; false when keeping it would pass a bound (then nothing changes). */
  admit(topic: string, payloadBytes: number): boolean {
    const old = this.sizes.get(topic);
    if (payloadBytes === 0) {
      // An empty retained message deletes the topic's (MQTT 3.1.1 §3.3.1.3).
      if (old !== undefined) this.total -= old;
      this.sizes.delete(topic);
      return true;
    }
    const count = this.sizes.size + (old === undefined ? 1 : 0);
    const total = this.total - (old ?? 0) + payloadBytes;
    if (count > this.limits.maxRetained || total > this.limits.maxRetainedBytes) return false;
    this.sizes.set(topic, payloadBytes);
    this.total = total;
    return true;
  }
}

type Sub = { clientId: string };

/**
 * Bounds the QoS 1/2 queue of each persistent session (clean: false) in aedes' in-memory
 * persistence, which otherwise keeps every message for a client that subscribed and went away
 * — forever. Wraps the broker's own persistence object: past `max` queued messages for a
 * client id, new ones are not queued for it (`onDrop` counts them). The count is ours, kept on
 * enqueue and on the acknowledgements that take a message off the queue; a session started
 * clean starts again at 0.
 */
export function boundSessionQueues(aedes: Aedes, max: number, onDrop: (clientId: string) => void): void {
  const p = (aedes as unknown as { persistence: unknown }).persistence as {
    outgoingEnqueue(sub: Sub, packet: AedesPublishPacket): Promise<void>;
    outgoingEnqueueCombi(subs: Sub[], packet: AedesPublishPacket): Promise<void>;
    outgoingClearMessageId(client: Sub | { id: string }, packet: AedesPublishPacket): Promise<unknown>;
    cleanSubscriptions(client: { id: string }): Promise<unknown>;
  };
  const queued = new Map<string, number>();
  const admit = (subs: readonly Sub[]): Sub[] =>
    subs.filter((s) => {
      const n = queued.get(s.clientId) ?? 0;
      if (n >= max) {
        onDrop(s.clientId);
        return false;
      }
      queued.set(s.clientId, n + 1);
      return true;
    });
  const enqueue = p.outgoingEnqueue.bind(p);
  const enqueueCombi = p.outgoingEnqueueCombi.bind(p);
  const clear = p.outgoingClearMessageId.bind(p);
  const clean = p.cleanSubscriptions.bind(p);
  p.outgoingEnqueue = (sub, packet) => (admit([sub]).length === 0 ? Promise.resolve() : enqueue(sub, packet));
  p.outgoingEnqueueCombi = (subs, packet) => {
    const kept = admit(subs);
    return kept.length === 0 ? Promise.resolve() : enqueueCombi(kept, packet);
  };
  p.outgoingClearMessageId = async (client, packet) => {
    const removed = await clear(client, packet);
    const id = 'id' in client ? client.id : client.clientId;
    if (removed !== undefined) queued.set(id, Math.max(0, (queued.get(id) ?? 0) - 1));
    return removed;
  };
  p.cleanSubscriptions = async (client) => {
    queued.delete(client.id);
    return clean(client);
  };
}
