/**
 * Builds dist/ once per test run: the CLI tests run the real `edge-agent` binary as a child
 * process (signals, exit codes and stdout are part of what they check).
 */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  if (process.env.EDGE_SKIP_BUILD === '1') return;
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
