// Room agent/central: the ops link over MQTT (config push, commands, reports); may import config and the running rooms, never commands or agent.ts.
/**
 * The request handlers, one per command. Each gets a validated request (protocol.ts) and returns
 * the reply's `data`, or throws a CommandError with a stable code.
 */
import type { AlertEngine } from '../alerts/engine.js';
import type { Clock } from '../clock.js';
import type { AgentView } from '../ops/status.js';
import type { DeviceRunner } from '../pipeline/device-runner.js';
import { transformReading } from '../pipeline/transform.js';
import type { ConfigPusher } from './config-push.js';
import { Codes, CommandError, type Command, type RequestOf } from './protocol.js';

/** What the handlers use of the agent (the Agent class fits; central never imports the composition root). */
export interface CommandTarget extends Pick<AgentView, 'config' | 'pipeline' | 'deliveryCounters'> {
  readonly runners: ReadonlyMap<string, Pick<DeviceRunner, 'pollOnce'>>;
  readonly alerts: Pick<AlertEngine, 'ack'>;
}

export interface CommandContext {
  agent: CommandTarget;
  pusher: ConfigPusher;
  restart: (() => void) | undefined;
  clock: Clock;
}

/** How long `points/read` waits for a device. */
const READ_TIMEOUT_MS = 15_000;

export async function handleCommand(command: Command, request: unknown, ctx: CommandContext): Promise<unknown> {
  switch (command) {
    case 'config/get':
      return ctx.pusher.get();
    case 'config/validate':
      return ctx.pusher.validate((request as RequestOf<'config/validate'>).config);
    case 'config/set':
      return ctx.pusher.set(request as RequestOf<'config/set'>);
    case 'restart':
      if (ctx.restart === undefined) throw new CommandError(Codes.internal, 'this agent was not started by the CLI run loop and cannot restart itself');
      return { restarting: true };
    case 'alerts/ack':
      return ackAlert(ctx.agent, request as RequestOf<'alerts/ack'>);
    case 'points/read':
      return readPoints(ctx, request as RequestOf<'points/read'>);
    case 'buffer/stats': {
      const counters = ctx.agent.deliveryCounters();
      if (counters === undefined) throw new CommandError(Codes.notRunning, 'the buffer is not open');
      return counters;
    }
  }
}

function ackAlert(agent: CommandTarget, req: RequestOf<'alerts/ack'>): unknown {
  const r = agent.alerts.ack(req.id, req.by);
  if (!r.ok) throw new CommandError(r.code, r.error);
  return { alert: r.alert };
}

async function readPoints(ctx: CommandContext, req: RequestOf<'points/read'>): Promise<unknown> {
  const device = ctx.agent.config.devices.find((d) => d.id === req.device);
  if (device === undefined) throw new CommandError(Codes.deviceUnknown, `no device '${req.device}'`, { devices: ctx.agent.config.devices.map((d) => d.id) });
  const wanted = req.points ?? device.points.map((p) => p.id);
  const unknown = wanted.filter((id) => !device.points.some((p) => p.id === id));
  if (unknown.length > 0) throw new CommandError(Codes.pointUnknown, `device ${device.id} has no point ${unknown.map((u) => `'${u}'`).join(', ')}`);
  const runner = ctx.agent.runners.get(device.id);
  if (runner === undefined) {
    // A device that pushes its readings cannot be asked; its latest values are the answer.
    const latest = [...ctx.agent.pipeline.latest.values()].filter((p) => p.deviceId === device.id && wanted.includes(p.pointId));
    return { device: device.id, source: 'latest', points: latest.map((p) => ({ id: p.pointId, value: p.value, unit: p.unit, quality: p.quality, ts: p.ts, tags: p.tags })) };
  }
  const ctl = new AbortController();
  const timer = ctx.clock.setTimeout(() => ctl.abort(), READ_TIMEOUT_MS);
  try {
    // Not stored: a read on request must not disturb report-by-exception or add points.
    const { readings } = await runner.pollOnce(ctl.signal, false);
    const points = readings
      .filter((r) => wanted.includes(r.pointId))
      .map((r) => {
        const cfg = device.points.find((p) => p.id === r.pointId);
        const point = cfg === undefined ? undefined : transformReading(r, cfg);
        return { id: r.pointId, value: point?.value ?? null, raw: r.raw, unit: cfg?.unit, quality: r.quality, ts: r.ts, ...(r.error === undefined ? {} : { error: r.error }) };
      });
    return { device: device.id, source: 'device', points };
  } finally {
    ctx.clock.clearTimeout(timer);
  }
}
