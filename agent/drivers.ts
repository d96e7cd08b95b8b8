/**
 * Driver construction by the device's `driver` key. New protocols register here. Each driver's
 * module (and its library: modbus-serial, serialport) is imported when a device first needs it,
 * so a gateway that has no such device never pays its memory (issue 14: Pi-class footprint).
 */
import type { ResolvedDevice } from '../config/types.js';
import type { ModbusBusRegistry } from '../drivers/modbus/bus-registry.js';
import type { PolledDriver } from '../drivers/types.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';

export interface DriverDeps {
  clock: Clock;
  logger: Logger;
  /** The agent's one bus registry: Modbus RTU devices on one serial port (or device server) share a bus. */
  buses: ModbusBusRegistry;
}

export async function createDriver(device: ResolvedDevice, deps: DriverDeps): Promise<PolledDriver> {
  switch (device.driver) {
    case 'modbus': {
      const connection = device.connection;
      if (connection.protocol === 'tcp') {
        const { ModbusTcpDriver } = await import('../drivers/modbus/tcp-driver.js');
        return new ModbusTcpDriver({ device: { ...device, connection }, clock: deps.clock, logger: deps.logger });
      }
      const { ModbusRtuDriver } = await import('../drivers/modbus/rtu-driver.js');
      return new ModbusRtuDriver({ device: { ...device, connection }, buses: deps.buses, clock: deps.clock, logger: deps.logger });
    }
    case 'serial': {
      // Polled serial devices (with a command); streaming ones are push devices (push-runner.ts).
      const { SerialLineDriver } = await import('../drivers/serial/driver.js');
      return new SerialLineDriver({ device, clock: deps.clock, logger: deps.logger });
    }
    case 'mqtt':
      throw new Error(`device ${device.id}: MQTT devices are not polled (see push-runner.ts)`);
  }
}
