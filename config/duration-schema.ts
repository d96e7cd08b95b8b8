/** A duration key in a schema (`500ms`, `10s`, or milliseconds as a number), normalised to ms. */
import { z } from 'zod';
import { parseDuration } from './duration.js';

export const duration = z.union([z.string(), z.number()]).transform((v, ctx): number => {
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});
