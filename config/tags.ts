/**
 * Tags the agent sets on every point itself. A user tag with one of these names would silently
 * relabel a series (or be silently dropped), so it is an error instead.
 */
import { childPath } from './issues.js';
import type { ConfigIssue } from './types.js';

export const RESERVED_TAGS = ['gateway', 'site', 'device', 'point'] as const;

export function reservedTagIssues(tags: Readonly<Record<string, string>> | undefined, path: string): ConfigIssue[] {
  if (tags === undefined) return [];
  return Object.keys(tags)
    .filter((key) => (RESERVED_TAGS as readonly string[]).includes(key))
    .map((key) => ({
      path: childPath(path, key),
      message: `"${key}" is a reserved tag the agent sets itself (reserved: ${RESERVED_TAGS.join(', ')})`,
    }));
}
