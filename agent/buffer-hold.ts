/**
 * `run` holds its buffer file's lock (buffer/lock.ts) for the life of the process: a second agent
 * on the same file stops at once with EDGE_BUFFER_IN_USE instead of losing readings to a seq
 * collision. The demo buffers under ./data wherever it is started, so a second `npm start` in the
 * same folder takes ./data/buffer-2.db (then -3, …) and says so; a user's config never moves.
 */
import path from 'node:path';
import { lockBuffer, type BufferLock } from '../buffer/lock.js';
import type { Logger } from './logger.js';

/** How many demos may run side by side in one folder. */
const DEMO_BUFFERS = 9;

export interface BufferHold {
  /** The buffer file this process writes: the configured one, or the demo's next free one. */
  path: string;
  lock: BufferLock;
}

/** `./data/buffer.db` → `./data/buffer-2.db`. */
export function numberedBuffer(file: string, n: number): string {
  const ext = path.extname(file);
  return `${file.slice(0, file.length - ext.length)}-${n}${ext}`;
}

/** The lock of the configured buffer (or, for the demo, of the next free one); undefined after logging FATAL when it is held. */
export function holdBuffer(file: string, opts: { demo: boolean; logger: Logger }): BufferHold | undefined {
  if (file === ':memory:') return { path: file, lock: { file, release() {} } }; // nothing on disk to share
  const tries = opts.demo ? [file, ...Array.from({ length: DEMO_BUFFERS - 1 }, (_, i) => numberedBuffer(file, i + 2))] : [file];
  for (const candidate of tries) {
    const lock = lockBuffer(candidate);
    if (lock === undefined) continue;
    if (candidate !== file) {
      opts.logger.warn({ code: 'EDGE_BUFFER_IN_USE', configured: file, path: candidate }, `buffer ${file} is in use by another demo: this one buffers in ${candidate}`);
    }
    return { path: candidate, lock };
  }
  opts.logger.fatal(
    { code: 'EDGE_BUFFER_IN_USE', path: file, lock: `${path.resolve(file)}.lock` },
    opts.demo
      ? `buffer ${file} and its ${DEMO_BUFFERS - 1} spares are in use by other demos: stop one, or give EDGE_BUFFER_PATH`
      : `buffer ${file} is in use by another edge-agent process (the service, or a manual run): stop it first (systemctl stop edge-agent), or give this run another buffer.path`,
  );
  return undefined;
}
