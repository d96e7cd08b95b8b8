// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/**
 * `edge-agent write DEVICE/POINT VALUE` and `edge-agent commands list`: a technician's write to a
 * field device through the running agent (the request is queued in the buffer file, as
 * `alerts ack` is; the agent guards, writes, reads back and audits it), and the audit itself.
 * `write` exits 0 only when the device read back what was written.
 */
import os from 'node:os';
import type { CommandRecord } from '../../buffer/types.js';
import type { Env } from '../../config/types.js';
import { age, alignColumns, openBufferFile } from './buffer.js';

export interface WriteCliValues {
  config?: string | undefined;
  json?: boolean | undefined;
  by?: string | undefined;
}

export async function writeCli(command: 'write' | 'commands', args: string[], values: WriteCliValues, env: Env, usage: (message: string) => number): Promise<number> {
  if (values.config === undefined) return usage('missing --config FILE');
  if (command === 'commands') {
    if (args[0] !== 'list') return usage(args[0] === undefined ? 'missing commands command (list)' : `unknown commands command '${args[0]}'`);
    if (args.length > 1) return usage(`unexpected argument '${args[1]}'`);
    return commandsList({ file: values.config, env, json: values.json === true });
  }
  const [target, value, extra] = args;
  if (target === undefined || value === undefined) return usage('write needs DEVICE/POINT and VALUE');
  if (extra !== undefined) return usage(`unexpected argument '${extra}'`);
  const slash = target.indexOf('/');
  if (slash <= 0 || slash === target.length - 1) return usage(`'${target}' is not DEVICE/POINT`);
  if (values.by !== undefined && values.by.trim() === '') return usage('--by must not be empty');
  return writeCommand({ file: values.config, env, json: values.json === true, device: target.slice(0, slash), point: target.slice(slash + 1), value, by: values.by });
}

export interface WriteCommandOptions {
  file: string;
  env: Env;
  json: boolean;
  device: string;
  point: string;
  value: string;
  by?: string | undefined;
  /** How long to wait for the running agent's outcome. Default 30 s. */
  waitMs?: number;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

export async function writeCommand(opts: WriteCommandOptions): Promise<number> {
  const out = opts.out ?? ((l: string) => console.log(l));
  const err = opts.err ?? ((l: string) => console.error(l));
  const opened = openBufferFile(opts.file, opts.env, { write: true }, err);
  if (opened === undefined) return 1;
  const { inspector } = opened;
  try {
    const by = opts.by ?? `cli:${os.userInfo().username}@${os.hostname()}`;
    const id = inspector.commands.requestWrite(opts.device, opts.point, opts.value, by, Date.now());
    const requestId = `local:${id}`;
    const deadline = Date.now() + (opts.waitMs ?? 30_000);
    for (;;) {
      const done = inspector.commands.recent(50).find((c) => c.requestId === requestId && c.outcome !== 'pending');
      if (done !== undefined) {
        out(opts.json ? JSON.stringify(done) : describe(done));
        return done.outcome === 'verified' ? 0 : 1;
      }
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const taken = inspector.commands.requestOutcome(id)?.doneAt !== null;
    err(
      taken
        ? `edge-agent: EDGE_WRITE_NO_OUTCOME: the agent took the write but gave no outcome in time; see edge-agent commands list`
        : `edge-agent: EDGE_WRITE_AGENT_NOT_RUNNING: no running agent took the write (is it running with this config?); it will be refused as stale, not executed late`,
    );
    return 1;
  } finally {
    inspector.close();
  }
}

function describe(c: CommandRecord): string {
  const v = (x: unknown) => (x === null || x === undefined ? '—' : JSON.stringify(x));
  const head = `${c.outcome}: ${c.device}/${c.point} = ${String(c.requested)}`;
  const detail = [`previous ${v(c.previous)}`, `read back ${v(c.readback)}`, ...(c.raw === null ? [] : [`raw ${JSON.stringify(c.raw)}`])].join(', ');
  return `${head} (${detail})${c.code === null ? '' : ` ${c.code}`}${c.message === null ? '' : `: ${c.message}`}`;
}

export function commandsList(opts: { file: string; env: Env; json: boolean; limit?: number; out?: (l: string) => void; err?: (l: string) => void }): number {
  const out = opts.out ?? ((l: string) => console.log(l));
  const err = opts.err ?? ((l: string) => console.error(l));
  const opened = openBufferFile(opts.file, opts.env, { write: false }, err);
  if (opened === undefined) return 1;
  try {
    const list = opened.inspector.commands.recent(opts.limit ?? 100);
    if (opts.json) {
      out(JSON.stringify(list, null, 2));
      return 0;
    }
    if (list.length === 0) {
      out('no writes recorded');
      return 0;
    }
    const now = Date.now();
    const rows = [['when', 'device/point', 'value', 'outcome', 'code', 'read back', 'by', 'origin']];
    for (const c of list) {
      rows.push([`${age(now - c.requestedAt)} ago`, `${c.device}/${c.point}`, String(c.requested), c.outcome, c.code ?? '', c.readback === null ? '—' : String(c.readback), c.by, c.origin]);
    }
    for (const l of alignColumns(rows)) out(l);
    return 0;
  } finally {
    opened.inspector.close();
  }
}
