/**
 * MQTT topic patterns as written in the config: an MQTT topic filter in which a whole segment
 * may be a named capture, `{ward}`. `ward/{ward}/bed/{bed}/vitals` subscribes to
 * `ward/+/bed/+/vitals` and turns the two segments into the tags `ward` and `bed`. The broker's
 * ACL uses plain filters (with `%u` for the user name). The resolved point carries the compiled
 * pattern; `topicMatches` is here so that the MQTT driver and the broker's ACL match topics by the
 * same rule.
 */

export interface TopicPattern {
  /** The MQTT filter to subscribe to (`{name}` → `+`). */
  filter: string;
  /** Capture name per segment, or undefined for a segment that is not captured. */
  captures: (string | undefined)[];
  /** The capture names in order. */
  names: string[];
}

const CAPTURE = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** Why a pattern cannot be used, or undefined when it is fine. */
export function topicPatternProblem(pattern: string): string | undefined {
  if (pattern === '') return 'must not be empty';
  if (pattern.startsWith('$')) return 'topics starting with $ are the broker\'s own ($SYS): not for sensors';
  const segments = pattern.split('/');
  const seen = new Set<string>();
  for (const [i, segment] of segments.entries()) {
    const capture = CAPTURE.exec(segment);
    if (capture !== null) {
      const name = capture[1] as string;
      if (seen.has(name)) return `capture {${name}} appears twice`;
      seen.add(name);
      continue;
    }
    if (segment.includes('{') || segment.includes('}')) {
      return `"${segment}": a capture is a whole segment, a name in braces like {bed} (letters, digits, _)`;
    }
    const problem = segmentProblem(segment, i === segments.length - 1);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** Why a plain MQTT filter (no captures) cannot be used, or undefined. */
export function topicFilterProblem(filter: string): string | undefined {
  if (filter === '') return 'must not be empty';
  const segments = filter.split('/');
  for (const [i, segment] of segments.entries()) {
    const problem = segmentProblem(segment, i === segments.length - 1);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function segmentProblem(segment: string, last: boolean): string | undefined {
  if (segment === '#') return last ? undefined : '# must be the last segment';
  if (segment === '+') return undefined;
  if (segment.includes('#') || segment.includes('+')) return `"${segment}": + and # stand alone in their segment (a/+/b, a/#)`;
  if (segment.includes('\u0000')) return 'must not contain a NUL character';
  return undefined;
}

/** Compiles a pattern that passed topicPatternProblem. */
export function compileTopicPattern(pattern: string): TopicPattern {
  const captures: (string | undefined)[] = [];
  const names: string[] = [];
  const filter = pattern
    .split('/')
    .map((segment) => {
      const name = CAPTURE.exec(segment)?.[1];
      captures.push(name);
      if (name === undefined) return segment;
      names.push(name);
      return '+';
    })
    .join('/');
  return { filter, captures, names };
}

/** Does a concrete topic match an MQTT filter? `$…` topics only match filters that name them. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const seg = f[i];
    if (seg === '#') return true;
    if (i >= t.length) return false;
    if (seg !== '+' && seg !== t[i]) return false;
  }
  return f.length === t.length;
}
