// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/**
 * What `probe serial` and `probe mqtt` share: taking a device from a config file, running until
 * enough was seen (a count, a duration, or Ctrl-C), and the time stamps they print.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, ConfigError } from '../../config/index.js';
import { parseDuration } from '../../config/duration.js';
import type { AgentConfig, ResolvedDevice } from '../../config/types.js';

/** Where a probe prints: the console, or a test's collector. */
export interface ProbeOutput {
  log(s: string): void;
  error(s: string): void;
}

export class ProbeUsageError extends Error {}

/** The flags of the probes that listen (serial, mqtt): which device, and how long to listen. */
export const LISTEN_FLAGS = {
  config: { type: 'string', short: 'c' },
  device: { type: 'string' },
  count: { type: 'string', short: 'n' },
  duration: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The probe's flags, parsed strictly; a bad flag is a usage error. */
export function probeFlags<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values;
  } catch (err) {
    throw new ProbeUsageError((err as Error).message);
  }
}

/**
 * The front of every `probe X` command: parse, or print the help (exit 0), or print the usage
 * error with the help (exit 2). Returns the request, or the exit code when there is nothing to run.
 */
export function probeRequest<R>(name: string, help: string, parse: () => R | 'help', out: ProbeOutput): R | number {
  let req: R | 'help';
  try {
    req = parse();
  } catch (err) {
    if (!(err instanceof ProbeUsageError)) throw err;
    out.error(`edge-agent probe ${name}: ${err.message}\n\n${help}`);
    return 2;
  }
  if (req === 'help') {
    out.log(help);
    return 0;
  }
  return req;
}

/** The configured device `id`, of the driver asked for. */
export function configuredDevice<D extends ResolvedDevice['driver']>(
  file: string,
  id: string | undefined,
  driver: D,
  env: NodeJS.ProcessEnv,
): { config: AgentConfig; device: Extract<ResolvedDevice, { driver: D }> } {
  let config: AgentConfig;
  try {
    config = loadConfig({ file, env });
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new ProbeUsageError(`${file}: configuration invalid\n${err.issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
    }
    throw err;
  }
  const candidates = config.devices.filter((d): d is Extract<ResolvedDevice, { driver: D }> => d.driver === driver);
  if (id === undefined) {
    if (candidates.length === 1) return { config, device: candidates[0] as Extract<ResolvedDevice, { driver: D }> };
    throw new ProbeUsageError(`give --device ID (${driver} devices in ${file}: ${candidates.map((d) => d.id).join(', ') || 'none'})`);
  }
  const device = candidates.find((d) => d.id === id);
  if (device === undefined) throw new ProbeUsageError(`no enabled ${driver} device "${id}" in ${file} (${driver} devices: ${candidates.map((d) => d.id).join(', ') || 'none'})`);
  return { config, device };
}

export function durationOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseDuration(value);
  } catch (err) {
    throw new ProbeUsageError(`--${name}: ${(err as Error).message}`);
  }
}

export function countOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ProbeUsageError(`--count takes a whole number above 0 (got ${value})`);
  return n;
}

/** `\r\n` written on a command line → the two characters. */
export function unescape(text: string): string {
  return text.replace(/\\(r|n|t|\\|x([0-9a-fA-F]{2}))/g, (_, c: string, hex: string | undefined) =>
    hex !== undefined ? String.fromCharCode(parseInt(hex, 16)) : c === 'r' ? '\r' : c === 'n' ? '\n' : c === 't' ? '\t' : '\\',
  );
}

/**
 * Resolves when `count` items were seen, `durationMs` passed, or the user pressed Ctrl-C
 * (SIGINT) or the process got SIGTERM. `seen()` is called once per item.
 */
export function probeUntil(opts: { count?: number | undefined; durationMs?: number | undefined }): { seen(): void; done: Promise<'count' | 'time' | 'signal'> } {
  let n = 0;
  let finish: (why: 'count' | 'time' | 'signal') => void = () => {};
  const done = new Promise<'count' | 'time' | 'signal'>((resolve) => {
    const onSignal = () => finish('signal');
    const timer = opts.durationMs === undefined ? undefined : setTimeout(() => finish('time'), opts.durationMs);
    finish = (why) => {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(why);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  return {
    seen: () => {
      n += 1;
      if (opts.count !== undefined && n >= opts.count) finish('count');
    },
    done,
  };
}

export function clockTime(ts: number): string {
  return new Date(ts).toISOString().slice(11, 23);
}
