/**
 * Tags the agent sets on every point itself. A user tag with one of these names would silently
 * relabel a series (or be silently dropped), so it is an error instead.
 */
import { childPath } from './issues.js';
import type { ConfigIssue } from './types.js';

export const RESERVED_TAGS = ['gateway', 'site', 'device', 'point'] as const;

/**
 * The field keys the InfluxDB sink writes (sinks/influx.ts: a point's `value`, an alert's fields).
 * InfluxDB 3 refuses a line whose tag shares its name with a field, so such a tag is an error here,
 * before it reaches the central side as a rejected batch.
 */
export const FIELD_NAMES = ['value', 'value_text', 'alert_id', 'state', 'message', 'active', 'acknowledged', 'threshold', 'threshold_text'] as const;

/** The message for a tag key that would collide with a field, or undefined. */
export function fieldCollision(key: string): string | undefined {
  if (!(FIELD_NAMES as readonly string[]).includes(key)) return undefined;
  return `"${key}" is a field name the InfluxDB sink writes; InfluxDB 3 refuses a tag with a field's name (fields: ${FIELD_NAMES.join(', ')}); rename the tag`;
}

export function reservedTagIssues(tags: Readonly<Record<string, string>> | undefined, path: string): ConfigIssue[] {
  if (tags === undefined) return [];
  return Object.keys(tags)
    .filter((key) => (RESERVED_TAGS as readonly string[]).includes(key))
    .map((key) => ({
      path: childPath(path, key),
      message: `"${key}" is a reserved tag the agent sets itself (reserved: ${RESERVED_TAGS.join(', ')})`,
    }))
    .concat(
      Object.keys(tags).flatMap((key) => {
        const message = fieldCollision(key);
        return message === undefined ? [] : [{ path: childPath(path, key), message }];
      }),
    );
}
