/** Driver construction by the device's `driver` key. New protocols register here. */
import type { ResolvedDevice } from '../config/types.js';
import type { ModbusBusRegistry } from '../drivers/modbus/bus-registry.js';
import { ModbusRtuDriver } from '../drivers/modbus/rtu-driver.js';
import { ModbusTcpDriver } from '../drivers/modbus/tcp-driver.js';
import { SerialLineDriver } from '../drivers/serial/driver.js';
import type { PolledDriver } from '../drivers/types.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';

export interface DriverDeps {
  clock: Clock;
  logger: Logger;
  /** The agent's one bus registry: Modbus RTU devices on one serial port (or device server) share a bus. */
  buses: ModbusBusRegistry;
}

export function createDriver(device: ResolvedDevice, deps: DriverDeps): PolledDriver {
  switch (device.driver) {
    case 'modbus': {
      const connection = device.connection;
      if (connection.protocol === 'tcp') return new ModbusTcpDriver({ device: { ...device, connection }, clock: deps.clock, logger: deps.logger });
      return new ModbusRtuDriver({ device: { ...device, connection }, buses: deps.buses, clock: deps.clock, logger: deps.logger });
    }
    case 'serial':
      // Polled serial devices (with a command); streaming ones are push devices (push-runner.ts).
      return new SerialLineDriver({ device, clock: deps.clock, logger: deps.logger });
    case 'mqtt':
      throw new Error(`device ${device.id}: MQTT devices are not polled (see push-runner.ts)`);
  }
}
