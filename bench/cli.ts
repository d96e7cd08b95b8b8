/**
 * The `cli` phase: what a command costs on a small box. `--version` and `validate --demo` are
 * run as fresh processes (start time is wall time to exit, RSS is the kernel's peak, read with
 * GNU time's %M); `run --demo` is left to settle and its RSS read from /proc.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { median } from './figures.js';

const CLI = path.resolve('dist/agent/cli.js');
const RUNS = 5;

export interface CliFigures {
  cli_start_ms_version: number;
  cli_rss_mb_version: number;
  cli_start_ms_validate: number;
  cli_rss_mb_validate: number;
  idle_rss_mb: number;
}

/** Median wall time and peak RSS of one command over RUNS fresh processes. */
function measure(args: string[]): { ms: number; mb: number } {
  const ms: number[] = [];
  const mb: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    // GNU time writes "%M" (max RSS, KiB) to stderr on the last line.
    const run = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    ms.push(performance.now() - t);
    if (run.status !== 0) throw new Error(`edge-agent ${args.join(' ')} exited with ${run.status}: ${run.stderr}`);
    const kib = Number(run.stderr.trim().split('\n').at(-1));
    if (!Number.isFinite(kib)) throw new Error(`could not read the peak RSS of ${args.join(' ')}: ${run.stderr}`);
    mb.push(kib / 1024);
  }
  return { ms: median(ms), mb: median(mb) };
}

/** RSS of `run --demo` after it has polled for `settleMs` (its own buffer file, a free HTTP port). */
async function idleRss(dir: string, settleMs: number): Promise<number> {
  const child = spawn(process.execPath, [CLI, 'run', '--demo'], {
    env: { ...process.env, EDGE_BUFFER_PATH: path.join(dir, 'idle.db'), EDGE_HTTP_PORT: '0' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await new Promise((r) => setTimeout(r, settleMs));
    if (child.exitCode !== null) throw new Error(`run --demo exited with ${child.exitCode}`);
    const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return kib / 1024;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

export async function benchCli(dir: string, settleMs = 15_000): Promise<CliFigures> {
  if (!fs.existsSync('/usr/bin/time')) throw new Error('the cli phase needs GNU time (/usr/bin/time, Debian package time)');
  const version = measure(['--version']);
  const validate = measure(['validate', '--demo']);
  return {
    cli_start_ms_version: version.ms,
    cli_rss_mb_version: version.mb,
    cli_start_ms_validate: validate.ms,
    cli_rss_mb_validate: validate.mb,
    idle_rss_mb: await idleRss(dir, settleMs),
  };
}
