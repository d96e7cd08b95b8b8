/**
 * What the driver and the simulator need from the outside, declared here as shapes because the
 * drivers room imports nothing but config types: agent/clock.ts's Clock and a pino logger fit
 * these interfaces as they are.
 */

/** The time seam (same shape as agent/clock.ts `Clock`). */
export interface DriverClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: DriverClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The subset of pino the driver uses. Pass a child logger already bound to the device. */
export interface DriverLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export const silentLogger: DriverLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
