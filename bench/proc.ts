/**
 * What the kernel says a child process costs: resident memory, bytes written to storage and CPU
 * time, read from /proc. Used by the phases that run the agent (or its rival) as its own process,
 * so a figure is the whole process — event loop, GC, native code — and not a guess from inside.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** A `Key:  value` line of /proc/PID/status or /proc/PID/io, as a number (kB for status, bytes for io). */
export function procField(pid: number, file: 'status' | 'io', key: string): number {
  const text = fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
  if (m === null) throw new Error(`no ${key} in /proc/${pid}/${file}`);
  return Number(m[1]);
}

export function rssMb(pid: number): number {
  return procField(pid, 'status', 'VmRSS') / 1024;
}

let clockTicks: number | undefined;

/** Clock ticks per second of /proc/PID/stat times (USER_HZ, 100 on every Linux we run on). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * CPU time (user + system, all threads: libuv's pool and V8's GC helpers included) the process
 * has used so far, in milliseconds. Resolution is one clock tick (10 ms): measure windows of
 * seconds, not single operations.
 */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) is parenthesised and may hold spaces: count fields after its closing paren.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const ticks = Number(rest[11]) + Number(rest[12]);
  if (!Number.isFinite(ticks)) throw new Error(`cannot read utime/stime from /proc/${pid}/stat`);
  return (ticks * 1000) / ticksPerSecond();
}

/** CPU milliseconds per 1000 points over a window: (cpu₁ − cpu₀) / (points₁ − points₀) × 1000. */
export function cpuPer1000(cpuFrom: number, cpuTo: number, pointsFrom: number, pointsTo: number): number {
  const points = pointsTo - pointsFrom;
  return points > 0 ? ((cpuTo - cpuFrom) * 1000) / points : Number.NaN;
}
