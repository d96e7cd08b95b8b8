#!/usr/bin/env node
/**
 * edge-agent's command line. Exit codes: 0 ok, 1 invalid config or failed run, 2 usage error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, checkConfig, loadConfig, summarize } from '../config/index.js';
import type { AgentConfig } from '../config/types.js';
import { Agent } from './agent.js';
import { createLogger, type Logger } from './logger.js';
import { formatPoint, formatReading } from './print.js';

const HELP: Record<string, string> = {
  main: `edge-agent — reads Modbus devices, transforms and buffers readings, forwards them to InfluxDB and PostgreSQL.

Usage: edge-agent <command> [options]

Commands:
  run        run the agent (polling, buffering, forwarding) until SIGTERM/SIGINT
  validate   check a configuration file and list every error with its path

Run 'edge-agent <command> --help' for a command's options.
Options: --help, --version`,
  run: `Usage: edge-agent run (--config FILE | --demo) [--print] [--once]

Runs the agent until SIGTERM or SIGINT, then stops polling, commits what was read and gives the
sinks a bounded time to deliver before exiting 0.

Options:
  -c, --config FILE   configuration file (YAML or JSON)
      --demo          run the built-in demo: a simulated well pump polled over Modbus TCP
      --print         print every point as a readable line (on by default with --demo)
      --once          poll every device once, print the readings and points, write nothing, exit
  -h, --help          this text

Environment: EDGE_GATEWAY_ID, EDGE_BUFFER_PATH, EDGE_LOG_LEVEL, EDGE_HTTP_HOST, EDGE_HTTP_PORT override
the matching settings; \${VAR} in the file is replaced from the environment (for secrets).`,
  validate: `Usage: edge-agent validate (--config FILE | --demo)

Checks the file completely: settings, templates, devices and every merged point. Prints a one-line
summary and exits 0, or prints every error as 'path: message' and exits 1.

Options:
  -c, --config FILE   configuration file (YAML or JSON)
      --demo          check the built-in demo config
  -h, --help          this text`,
};

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  demo: { type: 'boolean' },
  print: { type: 'boolean' },
  once: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} satisfies ParseArgsConfig['options'];

class UsageError extends Error {}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    return usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.version) {
    console.log(packageVersion());
    return 0;
  }
  if (command === undefined || command === 'help') {
    console.log(HELP.main);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (!(command in HELP) || command === 'main') return usage(`unknown command '${command}'`);
  if (values.help) {
    console.log(HELP[command]);
    return 0;
  }
  if (positionals.length > 1) return usage(`unexpected argument '${positionals[1]}'`);
  try {
    const file = configFile(values);
    if (command === 'validate') return validate(file, env);
    return await run(file, env, { demo: values.demo === true, print: values.print === true || values.demo === true, once: values.once === true });
  } catch (err) {
    if (err instanceof UsageError) return usage(err.message, command);
    throw err;
  }
}

function configFile(values: { config?: string; demo?: boolean }): string {
  if (values.config !== undefined && values.demo) throw new UsageError('give either --config FILE or --demo, not both');
  if (values.demo) return demoConfigPath();
  if (values.config === undefined) throw new UsageError('missing --config FILE (or --demo for the built-in demo)');
  return values.config;
}

function validate(file: string, env: NodeJS.ProcessEnv): number {
  const result = checkConfig({ file, env });
  if (!result.ok) {
    console.error(`${file}: ${result.issues.length} error${result.issues.length === 1 ? '' : 's'}`);
    for (const issue of result.issues) console.error(`  ${issue.path}: ${issue.message}`);
    return 1;
  }
  console.log(`${file}: ok, ${summarize(result.config)}`);
  return 0;
}

async function run(file: string, env: NodeJS.ProcessEnv, opts: { demo: boolean; print: boolean; once: boolean }): Promise<number> {
  let config: AgentConfig;
  try {
    config = loadConfig({ file, env });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`${file}: configuration invalid (${err.code})`);
      for (const issue of err.issues) console.error(`  ${issue.path}: ${issue.message}`);
      return 1;
    }
    throw err;
  }
  const logger = createLogger({
    level: opts.once ? 'warn' : config.settings.log.level,
    base: { gateway: config.settings.gateway.id },
  });
  // --once writes nothing: no sinks, and a throw-away in-memory buffer.
  if (opts.once) config = { ...config, settings: { ...config.settings, buffer: { ...config.settings.buffer, path: ':memory:' } } };
  const agent = new Agent({ config, logger, ...(opts.once ? { sinks: [] } : {}) });
  if (opts.once) return runOnce(agent, logger);
  if (opts.print) agent.pipeline.onPoints((points) => process.stdout.write(points.map(formatPoint).join('\n') + '\n'));
  if (opts.demo) logger.info({ config: file }, 'running the built-in demo config');
  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      agent.stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    // stdout closed under us (`run --print | head`): nobody reads the logs any more; stop cleanly.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') shutdown('EPIPE');
    });
    agent.start().catch((err: unknown) => {
      logger.fatal({ err }, 'agent could not start');
      resolve(1);
    });
  }).then((code) => flushed(logger, code));
}

async function runOnce(agent: Agent, logger: Logger): Promise<number> {
  await agent.start();
  const results = await agent.pollAllOnce(new AbortController().signal);
  for (const { device, readings } of results) {
    for (const r of readings) {
      const point = device.points.find((p) => p.id === r.pointId);
      if (point !== undefined) console.log(formatReading(device, point, r));
    }
  }
  await agent.stop();
  const bad = results.some((r) => r.readings.some((x) => x.quality === 'bad'));
  return flushed(logger, bad ? 1 : 0);
}

function flushed(logger: Logger, code: number): Promise<number> {
  return new Promise((resolve) => logger.flush(() => resolve(code)));
}

function usage(message: string, command = 'main'): number {
  console.error(`edge-agent: ${message}\n`);
  console.error(HELP[command]);
  return 2;
}

/** The package root, found from this file whether it runs from source or from dist/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'edge-agent') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the edge-agent package root');
    dir = up;
  }
}

export function demoConfigPath(): string {
  return join(packageRoot(), 'config', 'demo.yaml');
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === (await realpath(process.argv[1]));
async function realpath(p: string): Promise<string> {
  const { realpathSync } = await import('node:fs');
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error('edge-agent: unexpected failure:', err);
      process.exit(1);
    },
  );
}
