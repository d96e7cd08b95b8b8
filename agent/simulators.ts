/**
 * The in-process simulators of a config (the demo's well pump), started before the devices that
 * poll them. The demo may move: two `run --demo` on one box (two terminals, two test files) both
 * want 127.0.0.1:15020, and the second would die of EADDRINUSE before printing a reading. With
 * `movable`, a simulator whose port is taken listens on a free one, and the Modbus TCP devices that
 * poll its host and port follow it. Only the demo asks for that: a user's config never moves, since
 * a device polled somewhere else than configured is a wrong reading, not a convenience.
 */
import type { AgentConfig, ResolvedDevice } from '../config/types.js';
import { WellPumpSimulator } from '../drivers/modbus/simulator.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';

export interface StartSimulatorsOptions {
  clock: Clock;
  logger: Logger;
  /** A port in use moves the simulator (and its devices) to a free port instead of failing the start. */
  movable: boolean;
}

/**
 * Starts every simulator of `config`, each pushed onto `started` as soon as it listens (so a
 * failure later still stops the earlier ones), and returns the config the devices must be run
 * with: `config` itself unless a simulator moved.
 */
export async function startSimulators(config: AgentConfig, started: WellPumpSimulator[], opts: StartSimulatorsOptions): Promise<AgentConfig> {
  let devices = config.devices;
  for (const sim of config.simulators) {
    let s = new WellPumpSimulator({ host: sim.host, port: sim.port, unitId: sim.unitId, clock: opts.clock });
    try {
      await s.start();
    } catch (err) {
      if (!opts.movable || sim.port === 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      s = new WellPumpSimulator({ host: sim.host, port: 0, unitId: sim.unitId, clock: opts.clock });
      await s.start();
      const moved = devices.filter((d) => polls(d, sim.host, sim.port)).map((d) => d.id);
      devices = devices.map((d) => (polls(d, sim.host, sim.port) ? { ...d, connection: { ...d.connection, port: s.port } } : d));
      opts.logger.warn(
        { simulator: sim.type, host: sim.host, configuredPort: sim.port, port: s.port, devices: moved },
        `simulator port ${sim.port} is in use (another demo?): the simulator listens on ${s.port} and ${moved.length === 1 ? 'its device polls' : 'its devices poll'} it there`,
      );
    }
    started.push(s);
    opts.logger.info({ simulator: sim.type, host: sim.host, port: s.port }, 'simulator listening');
  }
  return devices === config.devices ? config : { ...config, devices };
}

/** A Modbus TCP device polling host:port (the simulator speaks Modbus TCP only, not RTU over TCP). */
function polls(d: ResolvedDevice, host: string, port: number): d is ResolvedDevice & { driver: 'modbus' } {
  return d.driver === 'modbus' && d.connection.protocol === 'tcp' && d.connection.host === host && d.connection.port === port;
}
