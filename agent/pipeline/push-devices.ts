// Room agent/pipeline: the path of a reading (schedule, poll or push, transform, clock guard, into the buffer); may import config, drivers, buffer, broker and agent/{clock,logger}.
/**
 * The agent's push side: the embedded MQTT broker and the devices that push readings (MQTT
 * sensors, streaming serial devices). Kept out of agent.ts so the composition root only says
 * *when*: `prepare` before the devices (MQTT devices subscribe on the broker in-process, so it
 * must exist), `start(device)` per device, `listen` after all devices (sensors may connect
 * once someone listens), `stop` first in the stop order.
 */
import type { EmbeddedBroker } from '../../broker/broker.js';
import type { AgentConfig, ResolvedDevice } from '../../config/types.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Pipeline } from './pipeline.js';
import { createPushDriver, isPush, PushRunner } from './push-runner.js';

export interface PushDevicesOptions {
  config: AgentConfig;
  pipeline: Pipeline;
  clock: Clock;
  logger: Logger;
}

export class PushDevices {
  readonly runners = new Map<string, PushRunner>();
  private broker: EmbeddedBroker | undefined;
  private readonly opts: PushDevicesOptions;

  constructor(opts: PushDevicesOptions) {
    this.opts = opts;
  }

  /** The embedded broker, when the config has one (for status and tests). */
  get embeddedBroker(): EmbeddedBroker | undefined {
    return this.broker;
  }

  /** Creates the embedded broker (not listening yet) when the config turns it on. */
  async prepare(): Promise<void> {
    const settings = this.opts.config.broker;
    if (settings === undefined || !settings.enabled || this.broker !== undefined) return;
    // aedes and its parser load only when the config turns the broker on.
    const { EmbeddedBroker } = await import('../../broker/broker.js');
    this.broker = new EmbeddedBroker({ settings, logger: this.opts.logger.child({ component: 'broker' }) });
    await this.broker.prepare();
  }

  /** Starts one push device. A driver never throws for a device fault (it retries by itself). */
  async start(device: ResolvedDevice): Promise<void> {
    if (!isPush(device)) throw new Error(`device ${device.id} is polled, not a push device`);
    const log = this.opts.logger.child({ component: 'device', device: device.id });
    const driver = await createPushDriver(device, { clock: this.opts.clock, logger: log, broker: this.broker });
    const runner = new PushRunner(device, driver, this.opts.pipeline, this.opts.clock, log);
    this.runners.set(device.id, runner);
    await runner.start();
  }

  /** Stops one push device (a config push removed or changed it); no-op for an unknown id. */
  async stopDevice(id: string, bounded: (what: string, p: Promise<void>) => Promise<void>): Promise<void> {
    const runner = this.runners.get(id);
    if (runner === undefined) return;
    this.runners.delete(id);
    await bounded(`device ${id}`, runner.stop());
  }

  /** The broker's listener: after the devices, so their subscriptions catch the first messages. */
  async listen(): Promise<void> {
    await this.broker?.start();
  }

  /** Broker first (no more sensor input), then the push devices; each bounded by the caller. */
  async stop(bounded: (what: string, p: Promise<void>) => Promise<void>): Promise<void> {
    const broker = this.broker;
    this.broker = undefined;
    if (broker !== undefined) await bounded('broker', broker.stop());
    await Promise.all([...this.runners.values()].map((r) => bounded(`device ${r.device.id}`, r.stop())));
    this.runners.clear();
  }
}
