/** Driver construction by the device's `driver` key. New protocols register here. */
import type { ResolvedDevice } from '../config/types.js';
import { ModbusTcpDriver } from '../drivers/modbus/tcp-driver.js';
import type { PolledDriver } from '../drivers/types.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';

export function createDriver(device: ResolvedDevice, deps: { clock: Clock; logger: Logger }): PolledDriver {
  switch (device.driver) {
    case 'modbus':
      return new ModbusTcpDriver({ device, clock: deps.clock, logger: deps.logger });
  }
}
