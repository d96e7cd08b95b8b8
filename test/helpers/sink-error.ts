import { expect } from 'vitest';
import { SinkError } from '../../sinks/types.js';

/** Awaits a promise that must reject with a SinkError, and returns the error. */
export async function rejection(p: Promise<unknown>): Promise<SinkError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SinkError);
  return err as SinkError;
}
