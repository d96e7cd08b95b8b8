// Room agent/pipeline: the path of a reading (schedule, poll or push, transform, clock guard, into the buffer); may import config, drivers, buffer, broker and agent/{clock,logger}.
/**
 * Devices that speak when they have something to say: streaming serial devices and MQTT
 * sensors. No schedule; the driver pushes readings, which go through the same pipeline as polled
 * ones (transforms, report by exception, one buffer append per batch). The same health as a
 * polled device: last success, consecutive failures, last error, plus the driver's own counters
 * (garbage lines, bad payloads, connection state).
 */
import type { MqttDevice, PolledDevice, ResolvedDevice, SerialDevice } from '../../config/types.js';
import type { EmbeddedBroker } from '../../broker/broker.js';
import type { LocalBroker, MqttStats } from '../../drivers/mqtt/driver.js';
import type { SerialStats } from '../../drivers/serial/driver.js';
import type { PushDriver, Reading } from '../../drivers/types.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Pipeline } from './pipeline.js';

/** A device no scheduler polls: MQTT, and serial devices without a command. */
export type PushDevice = MqttDevice | (SerialDevice & { schedule?: undefined });

export function isPolled(device: ResolvedDevice): device is PolledDevice {
  return device.schedule !== undefined;
}

export function isPush(device: ResolvedDevice): device is PushDevice {
  return device.schedule === undefined && (device.driver === 'mqtt' || device.driver === 'serial');
}

export type PushDriverWithStats = PushDriver & { readonly stats: SerialStats | MqttStats };

/** A push device's driver; its module (serialport, mqtt) is imported when a device first needs it. */
export async function createPushDriver(device: PushDevice, deps: { clock: Clock; logger: Logger; broker?: EmbeddedBroker | undefined }): Promise<PushDriverWithStats> {
  switch (device.driver) {
    case 'serial': {
      const { SerialLineDriver } = await import('../../drivers/serial/driver.js');
      return new SerialLineDriver({ device, clock: deps.clock, logger: deps.logger });
    }
    case 'mqtt': {
      const { MqttDriver } = await import('../../drivers/mqtt/driver.js');
      return new MqttDriver({ device, clock: deps.clock, logger: deps.logger, ...(deps.broker === undefined ? {} : { local: localBroker(deps.broker) }) });
    }
  }
}

/** The embedded broker as the MQTT driver sees it (the drivers room knows nothing of broker/). */
export function localBroker(broker: EmbeddedBroker): LocalBroker {
  return {
    subscribe: (filter, handler) => broker.subscribe(filter, handler),
    unsubscribe: (filter, handler) => broker.unsubscribe(filter, handler),
  };
}

export interface PushHealth {
  /** When the last batch of readings (a line, a message) arrived. */
  lastReadingAt: number | null;
  /** When the last batch with at least one good reading arrived. */
  lastSuccessAt: number | null;
  /** Batches in a row where every reading was bad. */
  consecutiveFailures: number;
  lastError: string | null;
  batches: number;
  pointsRead: number;
  pointsFailed: number;
  /** Batches the buffer could not store (the readings are lost; logged at error). */
  storeErrors: number;
}

export class PushRunner {
  readonly health: PushHealth = {
    lastReadingAt: null,
    lastSuccessAt: null,
    consecutiveFailures: 0,
    lastError: null,
    batches: 0,
    pointsRead: 0,
    pointsFailed: 0,
    storeErrors: 0,
  };
  private started = false;

  constructor(
    readonly device: PushDevice,
    readonly driver: PushDriverWithStats,
    private readonly pipeline: Pipeline,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    driver.onReadings((readings) => this.onReadings(readings));
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.driver.start();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.driver.stop();
  }

  /** Health plus the driver's counters, for logs and the status API. */
  snapshot(): { health: PushHealth; driver: SerialStats | MqttStats } {
    return { health: { ...this.health }, driver: { ...this.driver.stats } };
  }

  private onReadings(readings: Reading[]): void {
    if (readings.length === 0) return;
    this.noteHealth(readings);
    try {
      this.pipeline.process(this.device, readings);
    } catch (err) {
      this.health.storeErrors += 1;
      // ERROR: these readings are lost. Rate-limited like the failure warnings.
      if (this.health.storeErrors === 1 || this.health.storeErrors % 100 === 0) {
        this.log.error({ err, storeErrors: this.health.storeErrors }, 'readings could not be stored');
      }
    }
  }

  private noteHealth(readings: readonly Reading[]): void {
    const h = this.health;
    const now = this.clock.now();
    h.batches += 1;
    h.lastReadingAt = now;
    const bad = readings.filter((r) => r.quality === 'bad');
    h.pointsRead += readings.length - bad.length;
    h.pointsFailed += bad.length;
    if (bad.length === readings.length) {
      const first = bad[0] as Reading;
      h.consecutiveFailures += 1;
      const changed = h.lastError !== first.error;
      h.lastError = first.error ?? 'EDGE_DEVICE_ERROR';
      // The first failure, a new error, then every 10th: not one line per message for days.
      if (h.consecutiveFailures === 1 || changed || h.consecutiveFailures % 10 === 0) {
        this.log.warn({ code: h.lastError, detail: first.detail, failures: h.consecutiveFailures }, 'device sends readings that cannot be used');
      }
      return;
    }
    if (h.consecutiveFailures > 0) {
      this.log.info({ afterFailures: h.consecutiveFailures, lastError: h.lastError }, 'device readings good again');
    }
    h.consecutiveFailures = 0;
    h.lastSuccessAt = now;
    if (bad.length > 0) h.lastError = bad[0]?.error ?? null;
  }
}
