/** The one error the config room throws. Declared once, with a stable code (see STYLE.md). */
import type { ConfigIssue } from './types.js';

export const CONFIG_INVALID = 'EDGE_CONFIG_INVALID';

export class ConfigError extends Error {
  readonly code = CONFIG_INVALID;
  readonly issues: readonly ConfigIssue[];

  constructor(source: string, issues: readonly ConfigIssue[]) {
    const n = issues.length;
    // Every issue on its own line: a log line or a crash report shows the whole list, not the first.
    super(`${source}: configuration invalid, ${n} error${n === 1 ? '' : 's'}:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
