/** What the driver tests share: cleanup in reverse order after each test, and reading shorthands. */
import { afterEach } from 'vitest';
import type { Reading } from '../../drivers/types.js';

type Closeable = { stop(): Promise<void> } | { close(): Promise<void> };

/**
 * Registers an afterEach that runs the cleanups of the test, newest first. `later(thing)` stops or
 * closes `thing` then; `cleanups.push(fn)` adds any other step.
 */
export function useCleanups(): { cleanups: (() => Promise<void>)[]; later<T extends Closeable>(thing: T): T } {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return {
    cleanups,
    later(thing) {
      cleanups.push(() => ('stop' in thing ? thing.stop() : thing.close()));
      return thing;
    },
  };
}

/** A signal nobody aborts. */
export const live = (): AbortSignal => new AbortController().signal;
/** Each reading's error code, or its quality when it has none. */
export const codes = (rs: Reading[]): string[] => rs.map((r) => r.error ?? r.quality);
export const byId = (rs: Reading[]): Record<string, Reading> => Object.fromEntries(rs.map((r) => [r.pointId, r]));
