/**
 * An ops-side MQTT client for the central link tests: records what the gateway publishes and
 * sends requests, waiting for the reply that echoes the request's transaction.
 */
import { connectAsync, type MqttClient } from 'mqtt';

export interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
}

export class OpsClient {
  readonly seen: Seen[] = [];
  private waiters: Array<() => void> = [];
  private counter = 0;

  private constructor(private readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.seen.push({ topic, payload: payload.toString(), retain: packet.retain });
      for (const w of this.waiters) w();
    });
  }

  static async connect(url: string, subscribe: string): Promise<OpsClient> {
    const client = await connectAsync(url, { clientId: `ops-${process.pid}-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 200 });
    const ops = new OpsClient(client);
    await client.subscribeAsync(subscribe, { qos: 1 });
    return ops;
  }

  /** The first message (after `from`) on `topic` that satisfies `match`. */
  wait(topic: string, match: (payload: string, m: Seen) => boolean = () => true, timeoutMs = 15_000, from = 0): Promise<Seen> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.seen.slice(from).find((m) => m.topic === topic && match(m.payload, m));
        if (found === undefined) return false;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== onMessage);
        resolve(found);
        return true;
      };
      const onMessage = () => void check();
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== onMessage);
        reject(new Error(`no message on ${topic} matching within ${timeoutMs} ms; seen: ${JSON.stringify(this.seen.slice(-10))}`));
      }, timeoutMs);
      if (!check()) this.waiters.push(onMessage);
    });
  }

  /** Publishes a request and resolves with the parsed reply envelope carrying the same transaction. */
  async request(base: string, command: string, body: Record<string, unknown> | string, timeoutMs = 20_000): Promise<Envelope> {
    const transaction = `t-${++this.counter}`;
    const payload = typeof body === 'string' ? body : JSON.stringify({ ...body, transaction });
    // A raw body (not JSON on purpose) cannot carry a transaction: its reply echoes null.
    const tx = typeof body === 'string' ? null : transaction;
    await this.client.publishAsync(`${base}/request/${command}`, payload, { qos: 1 });
    const m = await this.wait(`${base}/response/${command}`, (p) => (JSON.parse(p) as Envelope).transaction === tx, timeoutMs);
    return JSON.parse(m.payload) as Envelope;
  }

  async end(): Promise<void> {
    await this.client.endAsync(true);
  }
}

export interface Envelope {
  status: 'ok' | 'error';
  data: Record<string, unknown>;
  error: string | null;
  code: string | null;
  transaction: string | number | null;
}
