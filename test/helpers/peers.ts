/**
 * Tests that need a tool from Debian (socat, pymodbus, mbpoll, systemd-analyze, …) skip without
 * it on a developer's machine — and say so. Under test/run-all.sh (EDGE_TEST_STRICT=1), which
 * installs every such tool first, nothing is skipped: a missing peer fails the test, so CI can
 * never count a skipped integration test as a pass.
 */
import { spawnSync } from 'node:child_process';

export function hasCommand(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/** True when the test should be skipped: `ok` is false and this is not a strict (CI) run. */
export function missing(what: string, ok: boolean, install: string): boolean {
  if (ok) return false;
  if (process.env.EDGE_TEST_STRICT === '1') return false;
  console.warn(`SKIPPED: ${what} is not available (${install}; test/run-all.sh installs it)`);
  return true;
}
