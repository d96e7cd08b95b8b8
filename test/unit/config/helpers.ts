/** Small builders for config tests: documents as objects, results as `path: message` lines. */
import { expect } from 'vitest';
import { checkDocument } from '../../../config/index.js';
import type { AgentConfig, Env } from '../../../config/types.js';

export const device = (over: Record<string, unknown> = {}) => ({
  id: 'pump-1',
  driver: 'modbus',
  connection: { protocol: 'tcp', host: '127.0.0.1' },
  every: '10s',
  ...over,
});

export function doc(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { gateway: { id: 'gw-1' }, ...over };
}

export function ok(document: unknown, env: Env = {}): AgentConfig {
  const r = checkDocument(document, { env });
  if (!r.ok) expect.fail(`expected a valid config, got:\n${r.issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`);
  return r.config;
}

export function issues(document: unknown, env: Env = {}): string[] {
  const r = checkDocument(document, { env });
  if (r.ok) expect.fail('expected issues, the config is valid');
  return r.issues.map((i) => `${i.path}: ${i.message}`);
}
