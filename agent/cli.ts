#!/usr/bin/env node
/**
 * edge-agent's command line. Exit codes: 0 ok, 1 invalid config or failed run, 2 usage error.
 */
import { join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { setFlagsFromString } from 'node:v8';
// Commands load only what they use (a dynamic import each): `--version` and `validate` must not
// pay for pg, mqtt, aedes, serialport and SQLite on a Pi-class box.
import type { AgentConfig } from '../config/types.js';
import type { BootConfig } from '../config/config-state.js';
import type { BufferHold } from './buffer-hold.js';
import type { Agent } from './agent.js';
import type { Logger } from './logger.js';
import { packageRoot, packageVersion } from './ops/http-static.js';
import { COMMANDS_HELP, WRITE_HELP } from './commands/write-help.js';

const HELP: Record<string, string> = {
  write: WRITE_HELP,
  commands: COMMANDS_HELP,
  main: `edge-agent — reads Modbus devices, transforms and buffers readings, forwards them to InfluxDB and PostgreSQL.

Usage: edge-agent <command> [options]

Commands:
  run        run the agent (polling, buffering, forwarding) until SIGTERM/SIGINT
  validate   check a configuration file and list every error with its path
  buffer     the store-and-forward buffer: stats (how far behind each sink is), dead-letters, replay
  alerts     local alerts: list (the active ones), ack ID
  write      write a value to a device point through the running agent, read back and audited
  commands   the write audit: list
  probe      look at one device for commissioning: probe modbus, serial, mqtt (see 'edge-agent probe --help')
  keygen     make the Ed25519 key pair that signs config pushes from central ops
  config     config sign: print a signed config/set payload for central ops to push
  command    command sign: print a signed points/write payload (a device write from central ops)
  fleet      fleet status: every gateway on the central broker (state, version, rev, sink lag, alerts);
             fleet push: a staged config rollout (canaries, then batches; stops at the first failure)

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
the matching settings; \${VAR} in the file is replaced from the environment (for secrets).

With central.url set, the agent links to central ops over MQTT and, once a pushed config came up,
boots from the last-known-good in central.stateDir (the file still gives the central section).`,
  fleet: `Usage: edge-agent fleet status --central URL [--prefix PREFIX] [--wait DURATION] [--json]
       edge-agent fleet push --central URL --key KEY --rev N FILE (--gateways a,b,… | --all)
                             [--canary N] [--batch N|P%] [--timeout DURATION] [--json]

Lists every gateway under PREFIX/ (default edge) on the central broker: online/offline (retained
state), agent version, running config rev, the last apply, each sink's lag (asked with buffer/stats)
and active alerts with the worst severity (retained health). Credentials go in the URL
(mqtt://ops:PASSWORD@broker:1883, mqtts:// for TLS).

push signs FILE for each gateway (its own gateway section, bound to it) and sends config/set:
first --canary gateways (default 1) one by one, then batches of --batch gateways (default 10%
of those selected) at once, waiting for every reply. It stops at the first rollback, refusal or
timeout; the rest stay untouched. Gateways whose info shows rev N or newer are skipped, so the same
command resumes a stopped rollout. Exit 0 all at rev N, 1 stopped, 3 offline gateways left out.

Options:
      --central URL       the central broker, with the ops account
      --prefix PREFIX     central.prefix of the gateways (default edge)
      --wait DURATION     how long to collect answers (default 3s)
      --json              machine-readable output
      --key FILE          push: Ed25519 private key (edge-agent keygen)
      --rev N             push: the revision, above the one the gateways run
      --gateways a,b,…    push: these gateways, in this order
      --all               push: every gateway under PREFIX/ (by name)
      --canary N          push: gateways pushed alone first (default 1)
      --batch N|P%        push: gateways per batch after the canaries (default 10%)
      --timeout DURATION  push: wait this long for each reply (default 60s; above central.applyTimeout)
  -h, --help              this text`,
  keygen: `Usage: edge-agent keygen --out DIR

Writes DIR/config-signing.key (Ed25519 private key, mode 0600; keep it with ops, never on a
gateway) and DIR/config-signing.pub (install on each gateway; central.publicKey names it).
Refuses to overwrite existing keys.

Options:
      --out DIR       where to write the pair
  -h, --help          this text`,
  config: `Usage: edge-agent config sign --key PRIVATE_KEY --rev N [--gateway ID] [--expires DURATION] FILE

Prints the config/set payload for FILE (YAML or JSON, the whole config) on one line:
{"rev":N,"config":{…},"signature":"…"}. Push it with any MQTT client, e.g.
  edge-agent config sign --key ops/config-signing.key --rev 8 gw.yaml > push.json
  mosquitto_pub -h BROKER -t edge/GATEWAY/request/config/set -f push.json
and read the reply on edge/GATEWAY/response/config/set. N must be higher than the revision the
gateway runs (see its retained edge/GATEWAY/info).

Options:
      --key FILE      Ed25519 private key (edge-agent keygen)
      --rev N         the revision, a whole number above the running one
      --gateway ID    only this gateway accepts the push (signed with it)
      --expires DURATION
                      the gateway refuses the push once this long has passed
                      (e.g. 12h, 7d; signed with it; by the gateway's clock)
  -h, --help          this text`,
  alerts: `Usage: edge-agent alerts <list | ack ID> (--config FILE | --demo) [options]

Reads the alert state the agent keeps in its buffer file (buffer.path). Safe while the agent runs.

  list       the alerts active now: id, severity, since when, state, the value that raised it
  ack ID     acknowledge an alert (its id, or device/point/rule); the running agent applies it
             within a second, publishes the change and sends it central. A latched alert whose
             condition is gone clears on it.

Options:
  -c, --config FILE   configuration file (YAML or JSON)
      --json          machine-readable output
      --by NAME       who acknowledges (default cli:<user>@<host>)
  -h, --help          this text`,
  validate: `Usage: edge-agent validate (--config FILE | --demo)

Checks the file completely: settings, templates, devices and every merged point. Prints a one-line
summary and exits 0, or prints every error as 'path: message' and exits 1.

Options:
  -c, --config FILE   configuration file (YAML or JSON)
      --demo          check the built-in demo config
  -h, --help          this text`,
  buffer: `Usage: edge-agent buffer <stats | dead-letters | replay> (--config FILE | --demo) [options]

Looks into the store-and-forward buffer named by buffer.path in the config (EDGE_BUFFER_PATH
overrides it). Safe while the agent runs: stats and dead-letters only read.

  stats          points buffered and the bound; per sink: how many points it is behind, the age of
                 the oldest point waiting, points dropped, dead letters
  dead-letters   points a sink rejected as invalid, with the sink's error (newest last)
  replay         moves dead letters back so the agent delivers them again, each to its own sink

Options:
  -c, --config FILE   configuration file (YAML or JSON)
      --json          machine-readable output
      --sink NAME     only this sink (influx, postgres)
      --id N          only this dead letter (repeatable; dead-letters and replay)
      --limit N       list at most N dead letters (default 50)
  -h, --help          this text`,
};

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  sink: { type: 'string' },
  id: { type: 'string', multiple: true },
  limit: { type: 'string' },
  demo: { type: 'boolean' },
  print: { type: 'boolean' },
  once: { type: 'boolean' },
  by: { type: 'string' },
  out: { type: 'string' },
  key: { type: 'string' },
  rev: { type: 'string' },
  gateway: { type: 'string' },
  expires: { type: 'string' },
  central: { type: 'string' },
  prefix: { type: 'string' },
  wait: { type: 'string' },
  gateways: { type: 'string' },
  all: { type: 'boolean' },
  canary: { type: 'string' },
  batch: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} satisfies ParseArgsConfig['options'];

class UsageError extends Error {}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // probe has its own options per kind (agent/probe.ts).
  if (argv[0] === 'probe') return (await import('./commands/probe.js')).probeCommand(argv.slice(1));
  if (argv[0] === 'command') return (await import('./commands/sign-command.js')).commandCommand(argv.slice(1));
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
  if (command === 'buffer') return bufferSubcommand(positionals.slice(1), values, env);
  if (command === 'alerts') return alertsSubcommand(positionals.slice(1), values, env);
  if (command === 'write' || command === 'commands') return (await import('./commands/write.js')).writeCli(command, positionals.slice(1), values, env, (m) => usage(m, command));
  if (command === 'keygen') {
    if (positionals.length > 1) return usage(`unexpected argument '${positionals[1]}'`, 'keygen');
    if (values.out === undefined) return usage('missing --out DIR', 'keygen');
    return (await import('./commands/keys.js')).keygenCommand(values.out, console.log, console.error);
  }
  if (command === 'config') return configSubcommand(positionals.slice(1), values);
  if (command === 'fleet') return fleetSubcommand(positionals.slice(1), values);
  if (positionals.length > 1) return usage(`unexpected argument '${positionals[1]}'`);
  try {
    const file = configFile(values);
    if (command === 'validate') return await validate(file, env);
    return await run(file, env, { demo: values.demo === true, print: values.print === true || values.demo === true, once: values.once === true });
  } catch (err) {
    if (err instanceof UsageError) return usage(err.message, command);
    throw err;
  }
}

async function fleetSubcommand(args: string[], values: import('./commands/fleet-push-args.js').FleetPushArgs): Promise<number> {
  const [sub, extra] = args;
  if (sub === 'push') {
    if (args.length > 2) return usage(`unexpected argument '${args[2]}'`, 'fleet');
    const opts = (await import('./commands/fleet-push-args.js')).fleetPushOptions(values, extra);
    if ('usage' in opts) return usage(opts.usage, 'fleet');
    return (await import('./commands/fleet-push.js')).fleetPush(opts, console.log, console.error);
  }
  if (sub !== 'status') return usage(sub === undefined ? 'missing fleet command (status or push)' : `unknown fleet command '${sub}'`, 'fleet');
  if (extra !== undefined) return usage(`unexpected argument '${extra}'`, 'fleet');
  if (values.central === undefined) return usage('missing --central URL', 'fleet');
  const { parseDuration } = await import('../config/duration.js');
  let waitMs = 3000;
  try {
    if (values.wait !== undefined) waitMs = parseDuration(values.wait);
  } catch (err) {
    return usage(`--wait takes a duration such as 3s: ${(err as Error).message}`, 'fleet');
  }
  const { fleetStatus } = await import('./commands/fleet.js');
  return fleetStatus({ central: values.central, prefix: values.prefix ?? 'edge', waitMs, json: values.json === true }, console.log, console.error);
}

async function bufferSubcommand(
  args: string[],
  values: { config?: string; demo?: boolean; json?: boolean; sink?: string; id?: string[]; limit?: string },
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const { BUFFER_SUBCOMMANDS, bufferCommand } = await import('./commands/buffer.js');
  const [sub, extra] = args;
  if (sub === undefined || !(BUFFER_SUBCOMMANDS as readonly string[]).includes(sub)) {
    return usage(sub === undefined ? 'missing buffer command (stats, dead-letters or replay)' : `unknown buffer command '${sub}'`, 'buffer');
  }
  if (extra !== undefined) return usage(`unexpected argument '${extra}'`, 'buffer');
  const ids = (values.id ?? []).map(Number);
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (ids.some((n) => !Number.isInteger(n) || n < 1)) return usage('--id takes a dead letter id (a whole number)', 'buffer');
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) return usage('--limit takes a whole number', 'buffer');
  try {
    const file = configFile(values);
    return bufferCommand(sub, { file, env, json: values.json === true, sink: values.sink, ids: ids.length > 0 ? ids : undefined, limit });
  } catch (err) {
    if (err instanceof UsageError) return usage(err.message, 'buffer');
    throw err;
  }
}

async function configSubcommand(args: string[], values: { key?: string; rev?: string; gateway?: string; expires?: string }): Promise<number> {
  const [sub, file, extra] = args;
  if (sub !== 'sign') return usage(sub === undefined ? 'missing config command (sign)' : `unknown config command '${sub}'`, 'config');
  if (file === undefined) return usage('missing FILE to sign', 'config');
  if (extra !== undefined) return usage(`unexpected argument '${extra}'`, 'config');
  if (values.key === undefined) return usage('missing --key PRIVATE_KEY', 'config');
  if (values.rev === undefined) return usage('missing --rev N', 'config');
  if (!/^[1-9]\d*$/.test(values.rev)) return usage('--rev must be a whole number, at least 1', 'config');
  const { signCommand } = await import('./commands/keys.js');
  return signCommand({ key: values.key, rev: values.rev, gateway: values.gateway, expires: values.expires, file }, console.log, console.error);
}

async function alertsSubcommand(args: string[], values: { config?: string; demo?: boolean; json?: boolean; by?: string }, env: NodeJS.ProcessEnv): Promise<number> {
  const { ALERTS_SUBCOMMANDS, alertsCommand } = await import('./commands/alerts.js');
  const [sub, id, extra] = args;
  if (sub === undefined || !(ALERTS_SUBCOMMANDS as readonly string[]).includes(sub)) {
    return usage(sub === undefined ? 'missing alerts command (list or ack ID)' : `unknown alerts command '${sub}'`, 'alerts');
  }
  if (sub === 'ack' && id === undefined) return usage('alerts ack needs the alert id (see edge-agent alerts list)', 'alerts');
  const unexpected = sub === 'list' ? id : extra;
  if (unexpected !== undefined) return usage(`unexpected argument '${unexpected}'`, 'alerts');
  if (values.by !== undefined && values.by.trim() === '') return usage('--by must not be empty', 'alerts');
  try {
    const file = configFile(values);
    return await alertsCommand(sub, { file, env, json: values.json === true, id, by: values.by });
  } catch (err) {
    if (err instanceof UsageError) return usage(err.message, 'alerts');
    throw err;
  }
}

function configFile(values: { config?: string; demo?: boolean }): string {
  if (values.config !== undefined && values.demo) throw new UsageError('give either --config FILE or --demo, not both');
  if (values.demo) return demoConfigPath();
  if (values.config === undefined) throw new UsageError('missing --config FILE (or --demo for the built-in demo)');
  return values.config;
}

async function validate(file: string, env: NodeJS.ProcessEnv): Promise<number> {
  const { CONFIG_INVALID, checkConfig, summarize } = await import('../config/index.js');
  const result = checkConfig({ file, env });
  if (!result.ok) {
    // The header `run` prints for the same file, with the count: a technician searches one code.
    const n = result.issues.length;
    console.error(`${file}: configuration invalid (${CONFIG_INVALID}), ${n} error${n === 1 ? '' : 's'}`);
    for (const issue of result.issues) console.error(`  ${issue.path}: ${issue.message}`);
    return 1;
  }
  console.log(`${file}: ok, ${summarize(result.config)}`);
  const { configHints, formatHints } = await import('./commands/hints.js');
  for (const line of formatHints(file, configHints(result.config))) console.log(line);
  return 0;
}

async function run(file: string, env: NodeJS.ProcessEnv, opts: { demo: boolean; print: boolean; once: boolean }): Promise<number> {
  const { ConfigError, loadConfig } = await import('../config/index.js');
  const { loadBootConfig } = await import('../config/config-state.js');
  let config: AgentConfig;
  let boot: BootConfig | undefined;
  try {
    // A service run boots from the last-known-good pushed config when there is one (config/config-state.ts).
    if (opts.once) config = loadConfig({ file, env });
    else {
      boot = loadBootConfig({ file, env });
      config = boot.config;
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`${file}: configuration invalid (${err.code})`);
      for (const issue of err.issues) console.error(`  ${issue.path}: ${issue.message}`);
      return 1;
    }
    throw err;
  }
  const [{ pino }, { createLogger, prettyDestination, prettyLogs }, { Agent }, { systemdFromEnv }, print, { configHints, DEFAULT_WATCHDOG_MS }] = await Promise.all([
    import('pino'),
    import('./logger.js'),
    import('./agent.js'),
    import('./ops/notify.js'),
    import('./commands/print.js'),
    import('./commands/hints.js'),
  ]);
  const { formatAlert, formatPoint } = print;
  // --once prints points on stdout for a person to read; its warnings go to stderr.
  const fd = opts.once ? 2 : 1;
  const out = opts.once ? process.stderr : process.stdout;
  const readable = prettyLogs(config.settings.log.format, out);
  const logger = createLogger({
    level: opts.once ? 'warn' : config.settings.log.level,
    base: { gateway: config.settings.gateway.id },
    ...(readable
      ? { destination: await prettyDestination(fd, out.isTTY === true && env.NO_COLOR === undefined) }
      : opts.once ? { destination: pino.destination({ fd: 2, sync: true }) } : {}),
  });
  // --once writes nothing: no sinks, and a throw-away in-memory buffer.
  if (opts.once) config = { ...config, settings: { ...config.settings, buffer: { ...config.settings.buffer, path: ':memory:' } } };
  // A running agent serves HTTP (settings.http) and, under systemd, says READY/WATCHDOG/STOPPING.
  const service = { http: true, systemd: systemdFromEnv(env, process.pid, logger) };
  // Likely mistakes in a valid config (the same as `validate` prints), judged against this process's watchdog.
  const logHints = (c: AgentConfig) => {
    for (const hint of configHints(c, service.systemd?.watchdogMs ?? DEFAULT_WATCHDOG_MS)) logger.warn({ path: hint.path }, `config hint: ${hint.path}: ${hint.message}`);
  };
  // --once polls; MQTT and streaming serial devices (and the embedded broker) are left out.
  if (opts.once) logHints(config);
  // The demo's simulator and HTTP server move to free ports when another demo holds theirs.
  const movablePorts = opts.demo;
  if (opts.once) return runOnce(new Agent({ config, logger, sinks: [], polledOnly: true, movablePorts }), logger);
  if (opts.demo) logger.info({ config: file }, 'running the built-in demo config');
  // One agent process per buffer file, held until the process ends (agent/buffer-hold.ts).
  const { holdBuffer } = await import('./buffer-hold.js');
  const first = holdBuffer(config.settings.buffer.path, { demo: opts.demo, logger });
  if (first === undefined) return flushed(logger, 1);
  let hold: BufferHold = first;
  const withHeldBuffer = (c: AgentConfig): AgentConfig =>
    c.settings.buffer.path === hold.path || !opts.demo ? c : { ...c, settings: { ...c.settings, buffer: { ...c.settings.buffer, path: hold.path } } };
  return new Promise<number>((resolve) => {
    let stopping = false;
    let restarting = false;
    const build = (b: BootConfig): Agent => {
      logHints(b.config);
      const a = new Agent({ config: withHeldBuffer(b.config), logger, ...service, movablePorts, central: { boot: b, env, restart } });
      if (opts.print) {
        a.pipeline.onPoints((points) => process.stdout.write(points.map(formatPoint).join('\n') + '\n'));
        a.alerts.onChange((_alert, record) => process.stdout.write(formatAlert(record) + '\n'));
      }
      return a;
    };
    // Central ops' `restart`: stop, boot again from the file and the state dir, start — in-process.
    const restart = (): void => {
      if (restarting || stopping) return;
      restarting = true;
      logger.info('restart requested by central ops');
      (async () => {
        await agent.stop();
        if (stopping) return;
        // Under systemd, stop() said STOPPING=1: exit and let Restart=always start a fresh process.
        if (service.systemd !== undefined) {
          resolve(0);
          return;
        }
        const next = loadBootConfig({ file, env });
        // A push that moved buffer.path: the new file is held like the first one before anything writes it.
        const wanted = next.config.settings.buffer.path;
        // Compared resolved: ./data/buffer.db and its absolute spelling are one file, whose lock this process holds.
        if (!opts.demo && resolvePath(wanted) !== resolvePath(hold.path)) {
          const moved = holdBuffer(wanted, { demo: false, logger });
          if (moved === undefined) {
            resolve(1);
            return;
          }
          logger.warn(
            { from: hold.path, to: moved.path },
            `buffer moved from ${hold.path} to ${moved.path}: readings no sink had received stay in the old file (EDGE_BUFFER_PATH=${hold.path} edge-agent buffer stats --config ${file})`,
          );
          hold.lock.release();
          hold = moved;
        }
        agent = build(next);
        await agent.start();
      })().then(
        () => (restarting = false),
        (err: unknown) => {
          logger.fatal({ err }, 'agent could not restart');
          resolve(1);
        },
      );
    };
    let agent = build(boot ?? { config, document: {}, localCentral: undefined, rev: 0, origin: 'file', notes: [], state: undefined });
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
  }).then((code) => {
    hold.lock.release();
    return flushed(logger, code);
  });
}

async function runOnce(agent: Agent, logger: Logger): Promise<number> {
  const [{ formatOnce }, { transformReading }] = await Promise.all([import('./commands/print.js'), import('./pipeline/transform.js')]);
  await agent.start();
  const results = await agent.pollAllOnce(new AbortController().signal);
  // In config order, each point after its transforms (scale, range, map…), as it would be stored.
  const order = agent.config.devices.map((d) => d.id);
  results.sort((a, b) => order.indexOf(a.device.id) - order.indexOf(b.device.id));
  for (const { device, readings } of results) {
    for (const r of readings) {
      const point = device.points.find((p) => p.id === r.pointId);
      if (point !== undefined) console.log(formatOnce(device, point, r, transformReading(r, point)));
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

export function demoConfigPath(): string {
  return join(packageRoot(), 'config', 'demo.yaml');
}

/**
 * Every command but `run` is over in well under a second: V8's optimising compiler (TurboFan)
 * only costs it there — on `validate` it compiled zod's and yaml's hot functions for ~130 ms of
 * CPU and 5 MB of peak RSS, and the command ended before the code paid back. So those commands
 * run on the interpreter and the baseline compiler; `run`, the daemon, keeps TurboFan. Set before
 * a command loads its modules (they are imported dynamically), once for the process.
 */
function oneShotCompiler(argv: string[]): void {
  if (commandOf(argv) !== 'run') setFlagsFromString('--no-opt');
}

/** The command word, wherever it stands among the options (`--config FILE run` is run too). */
function commandOf(argv: string[]): string | undefined {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: false }).positionals[0];
  } catch {
    return argv[0];
  }
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
  oneShotCompiler(process.argv.slice(2));
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error('edge-agent: unexpected failure:', err);
      process.exit(1);
    },
  );
}
