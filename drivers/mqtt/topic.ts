/**
 * Matching a received topic against a point's filter, and reading the captured segments.
 * (The filter and the capture names were compiled from `ward/{ward}/bed/{bed}/vitals` by the
 * config room; this side only matches.)
 */
import { topicMatches } from '../../config/topic-pattern.js';

export { topicMatches };


/**
 * The tags a topic gives under a filter with captures, or undefined when it does not match.
 * An empty captured segment (`ward//bed`) matches `+` in MQTT but makes no useful tag: no match.
 */
export function capturedTags(filter: string, captures: readonly (string | undefined)[], topic: string): Record<string, string> | undefined {
  if (!topicMatches(filter, topic)) return undefined;
  const segments = topic.split('/');
  const tags: Record<string, string> = {};
  for (const [i, name] of captures.entries()) {
    if (name === undefined) continue;
    const value = segments[i];
    if (value === undefined || value === '') return undefined;
    tags[name] = value;
  }
  return tags;
}
