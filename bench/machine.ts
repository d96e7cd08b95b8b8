/** The machine a run measured: every figure is only as meaningful as this line. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  ram_gb: number;
  disk: string;
  os: string;
  node: string;
  load_avg_1m_at_start: number;
}

function diskOf(dir: string): string {
  try {
    const src = execFileSync('findmnt', ['-n', '-o', 'SOURCE,FSTYPE', '-T', dir], { encoding: 'utf8' }).trim().split(/\s+/);
    const dev = (src[0] ?? '').replace(/^\/dev\//, '').replace(/\[.*\]$/, '');
    const base = dev.replace(/p?\d+$/, '');
    const rotational = [dev, base].map((d) => `/sys/block/${d}/queue/rotational`).find((f) => fs.existsSync(f));
    const kind = rotational === undefined ? 'unknown medium' : fs.readFileSync(rotational, 'utf8').trim() === '0' ? 'non-rotational' : 'rotational';
    const size = execFileSync('df', ['-h', '--output=size', dir], { encoding: 'utf8' }).trim().split('\n').at(-1)?.trim();
    return `${src[0] ?? '?'} (${src[1] ?? '?'}, ${kind}, ${size ?? '?'})`;
  } catch {
    return 'unknown';
  }
}

export function describeMachine(dir: string): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    ram_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    disk: diskOf(dir),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    load_avg_1m_at_start: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
  };
}
