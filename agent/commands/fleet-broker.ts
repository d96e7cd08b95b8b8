// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/**
 * What `fleet status` and `fleet push` share: an ops connection to the central broker (no
 * reconnect: a CLI run that loses the broker reports it) and reading a gateway topic
 * `<prefix>/<gateway>/<rest>` back into its parts.
 */
import type { MqttClient } from 'mqtt';
import { redactUrl } from '../logger.js';

export type Print = (line: string) => void;

/** The connected client, or undefined after saying why on `err`. */
export async function connectOps(url: string, err: Print): Promise<MqttClient | undefined> {
  const { connectAsync } = await import('mqtt');
  try {
    return await connectAsync(url, { clientId: `edge-fleet-${process.pid}-${Math.random().toString(16).slice(2, 8)}`, reconnectPeriod: 0, connectTimeout: 10_000 });
  } catch (e) {
    err(`edge-agent: cannot connect to ${redactUrl(url)}: ${(e as Error).message}`);
    return undefined;
  }
}

/** `{gateway, rest}` of a topic under `prefix/`, or undefined for any other topic. */
export function gatewayTopic(prefix: string, topic: string): { gateway: string; rest: string } | undefined {
  if (!topic.startsWith(`${prefix}/`)) return undefined;
  const parts = topic.slice(prefix.length + 1).split('/');
  const gateway = parts[0];
  if (gateway === undefined || gateway === '' || parts.length < 2) return undefined;
  return { gateway, rest: parts.slice(1).join('/') };
}

/** The retained `info` fields the fleet commands read. */
export interface InfoSeen {
  version?: string;
  rev?: number;
  lastApply?: { outcome: string; rev?: number; at?: number; reason?: string } | null;
  config?: { settings?: { gateway?: { site?: unknown; tags?: unknown } } };
}
