// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/**
 * `edge-agent command sign …`: ops tooling that prints a signed `request/points/write` payload
 * (config/command-signing.ts) on stdout, ready for any MQTT client, and the topics to use on
 * stderr. A fresh random nonce each time: every run makes a command that can be executed once.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { signWriteCommand, WRITE_COMMAND, type WriteCommand, type WriteValue } from '../../config/command-signing.js';
import { keyFingerprint } from '../../config/signing.js';
import { expiresFromNow, withPrivateKey } from './keys.js';

export const COMMAND_HELP = `Usage: edge-agent command sign --key PRIVATE_KEY --gateway ID --device D --point P --value V [options]

Prints a signed points/write payload on one line (stdout), and the topics to publish it on and to
read the outcome from (stderr). Each run makes a new nonce: the gateway executes the command once,
refuses it as replayed after that, and as expired once --expires has passed. For example
  edge-agent command sign --key ops/config-signing.key --gateway gw-pozo-17 --device pump-1 \\
    --point setpoint --value 42.5 --by maria > write.json
  mosquitto_pub -h BROKER -t edge/gw-pozo-17/request/points/write -f write.json
The gateway must have central.allowWrites: true and the public half of the key as
central.commandKey (or central.publicKey).

Options:
      --key FILE        Ed25519 private key (edge-agent keygen)
      --gateway ID      the gateway that executes it (signed: no other gateway accepts it)
      --device ID       the device
      --point ID        the point (it needs a write: block in the gateway's config)
      --value V         the value in engineering units: a number, true/false, or a state name;
                        JSON for anything else ('"42"' is the text 42)
      --by NAME         who asks, for the audit (default ops:<user>@<host>)
      --expires DURATION
                        refused after this long (default 5m; the gateway refuses more than
                        central.commandMaxExpiry, 15m by default; by the gateway's clock)
      --prefix PREFIX   central.prefix of the gateway, for the topics (default edge)
  -h, --help            this text`;

type Print = (line: string) => void;

export interface WriteSignOptions {
  key: string;
  gateway: string;
  device: string;
  point: string;
  value: string;
  by?: string | undefined;
  expires?: string | undefined;
  prefix?: string | undefined;
  /** Tests: the signing time and the nonce. */
  now?: () => number;
  nonce?: () => string;
}

/** `edge-agent command …`; returns the exit code (0 printed, 1 key or value unusable, 2 usage). */
export function commandCommand(argv: string[], out: Print = console.log, err: Print = console.error): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        key: { type: 'string' },
        gateway: { type: 'string' },
        device: { type: 'string' },
        point: { type: 'string' },
        value: { type: 'string' },
        by: { type: 'string' },
        expires: { type: 'string' },
        prefix: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return usage((e as Error).message, err);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(COMMAND_HELP);
    return 0;
  }
  const [sub, extra] = positionals;
  if (sub !== 'sign') return usage(sub === undefined ? 'missing command (sign)' : `unknown command '${sub}'`, err);
  if (extra !== undefined) return usage(`unexpected argument '${extra}'`, err);
  for (const name of ['key', 'gateway', 'device', 'point', 'value'] as const) {
    if (values[name] === undefined || values[name] === '') return usage(`missing --${name}`, err);
  }
  if (values.by !== undefined && values.by.trim() === '') return usage('--by must not be empty', err);
  return signWriteCommandCli(
    { key: values.key as string, gateway: values.gateway as string, device: values.device as string, point: values.point as string, value: values.value as string, by: values.by, expires: values.expires, prefix: values.prefix },
    out,
    err,
  );
}

export function signWriteCommandCli(opts: WriteSignOptions, out: Print, err: Print): number {
  const expires = expiresFromNow(opts.expires ?? '5m', (opts.now ?? Date.now)(), '5m', err);
  if (typeof expires === 'number') return expires;
  const value = parseValue(opts.value);
  if (value === undefined) {
    err(`edge-agent: --value ${JSON.stringify(opts.value)} is JSON but not a number, text or true/false`);
    return 1;
  }
  const command: WriteCommand = {
    gateway: opts.gateway,
    device: opts.device,
    point: opts.point,
    value,
    by: opts.by ?? `ops:${os.userInfo().username}@${os.hostname()}`,
    expires,
    nonce: (opts.nonce ?? (() => randomBytes(18).toString('base64url')))(),
  };
  return withPrivateKey(opts.key, err, (key) => {
    out(JSON.stringify({ ...command, signature: signWriteCommand(key, command) }));
    const base = `${opts.prefix ?? 'edge'}/${opts.gateway}`;
    err(`publish on: ${base}/request/${WRITE_COMMAND}`);
    err(`outcome on: ${base}/response/${WRITE_COMMAND}`);
    err(`expires ${command.expires}; signed by ${keyFingerprint(key)}`);
    return 0;
  });
}

/** `42.5` → number, `true` → boolean, `running` → text, `"42"` → the text 42; undefined for other JSON. */
function parseValue(text: string): WriteValue | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return text;
  }
  return typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? v : undefined;
}

function usage(message: string, err: Print): number {
  err(`edge-agent command: ${message}\n\n${COMMAND_HELP}`);
  return 2;
}
