// Room agent/central: the ops link over MQTT (config push, commands, reports); may import config and the running rooms, never commands or agent.ts.
/**
 * Did a pushed config come up? A driver that started is not enough: a mistyped host or port
 * starts fine and then fails every poll. Each new or changed device must, within the bound, give
 * one reading that is not bad (polled: a probe read, not stored), or have its transport up (push
 * devices: the MQTT subscription or the serial port). A device that is not wired yet therefore
 * rolls the push back; push it once the device answers.
 */
import { sleep, type Clock } from '../clock.js';
import type { DeviceRunner } from '../pipeline/device-runner.js';
import type { PushRunner } from '../pipeline/push-runner.js';
import type { ApplyPlan } from './apply-plan.js';

export interface ApplyFailure {
  /** Config path of what failed: `devices.pump-2`, `sinks.influx`. */
  subject: string;
  code: string;
  error: string;
}

export interface ApplyResult extends ApplyPlan {
  failures: ApplyFailure[];
}

const RETRY_MS = 250;

/** undefined when `p` settled well before the deadline, else what went wrong. */
export async function withinDeadline(p: Promise<void>, deadline: number, clock: Clock): Promise<string | undefined> {
  let handle: unknown;
  const timeout = new Promise<string>((resolve) => {
    handle = clock.setTimeout(() => resolve('did not start in time'), Math.max(0, deadline - clock.now()));
  });
  try {
    return await Promise.race([p.then(() => undefined), timeout]);
  } catch (err) {
    return (err as Error).message;
  } finally {
    clock.clearTimeout(handle);
  }
}

export async function comeUp(runners: ReadonlyArray<DeviceRunner | PushRunner | undefined>, deadline: number, clock: Clock): Promise<ApplyFailure[]> {
  const results = await Promise.all(runners.map((r) => (r === undefined ? Promise.resolve(undefined) : answers(r, deadline, clock))));
  const out: ApplyFailure[] = [];
  results.forEach((error, i) => {
    const r = runners[i];
    if (error !== undefined && r !== undefined) out.push({ subject: `devices.${r.device.id}`, code: 'EDGE_DEVICE_NOT_ANSWERING', error });
  });
  return out;
}

async function answers(r: DeviceRunner | PushRunner, deadline: number, clock: Clock): Promise<string | undefined> {
  let last = 'no answer';
  while (clock.now() < deadline) {
    if ('pollOnce' in r) {
      const ctl = new AbortController();
      const timer = clock.setTimeout(() => ctl.abort(), Math.max(0, deadline - clock.now()));
      try {
        const { readings } = await r.pollOnce(ctl.signal, false);
        if (readings.some((x) => x.quality !== 'bad')) return undefined;
        const bad = readings.find((x) => x.quality === 'bad');
        last = bad === undefined ? 'no readings' : `${bad.error ?? 'bad reading'}${bad.detail === undefined ? '' : `: ${bad.detail}`}`;
      } finally {
        clock.clearTimeout(timer);
      }
    } else {
      const stats = r.driver.stats;
      if ('connected' in stats ? stats.connected : stats.open) return undefined;
      last = stats.lastError ?? 'not connected';
    }
    await sleep(clock, RETRY_MS);
  }
  return `did not answer within the apply bound (${last})`;
}
