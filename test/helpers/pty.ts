/**
 * A pair of connected pseudo-terminals made by socat: what one end writes, the other reads, like
 * the two ends of a serial cable (or a master and its slaves on an RS-485 pair). Real device
 * files, opened by serialport, pymodbus or mbpoll exactly as they open /dev/ttyUSB0. A pty has no
 * baud rate: bytes arrive at once, whatever the line settings say.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PtyPair {
  /** The end the agent (the master) opens. */
  master: string;
  /** The end the slaves (or a test master) open. */
  slave: string;
  close(): Promise<void>;
}

export function socatAvailable(): boolean {
  return spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** A new pair; `master` reuses a path (a serial adapter plugged in again where it was). */
export async function openPtyPair(opts: { master?: string } = {}): Promise<PtyPair> {
  const master = opts.master ?? join(mkdtempSync(join(tmpdir(), 'edge-pty-')), 'master');
  const slave = `${master}-slave-${Date.now().toString(36)}`;
  const child: ChildProcess = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${master}`, `pty,raw,echo=0,link=${slave}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socat did not start in 5 s:\n${stderr}`)), 5000);
    const check = () => {
      if (/starting data transfer loop/.test(stderr) && existsSync(master) && existsSync(slave)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`socat exited with ${code}:\n${stderr}`));
    });
  });
  let closing: Promise<void> | undefined;
  return {
    master,
    slave,
    close: () =>
      (closing ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      })()),
  };
}
