/**
 * The `cli` phase: what a command costs on a small box. `--version` and `validate --demo` are
 * run as fresh processes (start time is wall time to exit, RSS is the kernel's peak, read with
 * GNU time's %M; CPU is its user + system time, which a loaded machine inflates less than wall
 * time); `run --demo` is left to settle and its RSS read from /proc.
 *
 * Measured for what users run (bench/agent-program.ts): the release's bundle with the shipped
 * node flags (the commands' for --version and validate, the daemon's for run) gives the figures
 * the targets apply to; dist/ with the same flags (the source install and Docker) gives the same
 * figures with a `_dist` suffix.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AgentProgram } from './agent-program.js';
import { median } from './figures.js';

const RUNS = 5;

export interface CliFigures {
  cli_start_ms_version: number;
  cli_rss_mb_version: number;
  cli_cpu_ms_version: number;
  cli_start_ms_validate: number;
  cli_rss_mb_validate: number;
  cli_cpu_ms_validate: number;
  idle_rss_mb: number;
}

/** Median wall time, peak RSS and CPU time of one command over RUNS fresh processes. */
function measure(program: AgentProgram, args: string[]): { ms: number; mb: number; cpuMs: number } {
  const ms: number[] = [];
  const mb: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    // GNU time writes "%M %U %S" (max RSS in KiB, user and system seconds) to stderr on the last line.
    const run = spawnSync('/usr/bin/time', ['-f', '%M %U %S', process.execPath, ...program.flags(args[0] ?? ''), program.cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    ms.push(performance.now() - t);
    if (run.status !== 0) throw new Error(`edge-agent ${args.join(' ')} exited with ${run.status}: ${run.stderr}`);
    const [kib, user, system] = (run.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
    if (!Number.isFinite(kib) || !Number.isFinite(user) || !Number.isFinite(system)) throw new Error(`could not read the peak RSS and CPU time of ${args.join(' ')}: ${run.stderr}`);
    mb.push(kib! / 1024);
    cpu.push((user! + system!) * 1000);
  }
  return { ms: median(ms), mb: median(mb), cpuMs: median(cpu) };
}

/** RSS of `run --demo` after it has polled for `settleMs` (its own buffer file, a free HTTP port). */
async function idleRss(program: AgentProgram, dir: string, settleMs: number): Promise<number> {
  const child = spawn(process.execPath, [...program.flags('run'), program.cli, 'run', '--demo'], {
    env: { ...process.env, EDGE_BUFFER_PATH: path.join(dir, `idle-${program.build}.db`), EDGE_HTTP_PORT: '0' },
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

export async function benchCli(program: AgentProgram, dir: string, settleMs = 15_000): Promise<CliFigures> {
  if (!fs.existsSync('/usr/bin/time')) throw new Error('the cli phase needs GNU time (/usr/bin/time, Debian package time)');
  const version = measure(program, ['--version']);
  const validate = measure(program, ['validate', '--demo']);
  return {
    cli_start_ms_version: version.ms,
    cli_rss_mb_version: version.mb,
    cli_cpu_ms_version: version.cpuMs,
    cli_start_ms_validate: validate.ms,
    cli_rss_mb_validate: validate.mb,
    cli_cpu_ms_validate: validate.cpuMs,
    idle_rss_mb: await idleRss(program, dir, settleMs),
  };
}
