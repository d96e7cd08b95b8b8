/**
 * Builds dist/ once per test run: the CLI tests run the real `edge-agent` binary as a child
 * process (signals, exit codes and stdout are part of what they check). Type errors do not stop
 * the run here (tsc still emits, and `npm run lint` is where type errors fail CI); they are shown.
 */
import { spawnSync } from 'node:child_process';

export default function setup(): void {
  if (process.env.EDGE_SKIP_BUILD === '1') return;
  const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { encoding: 'utf8' });
  if (r.status !== 0) console.warn(`tsc reported problems while building dist/ for the tests:\n${r.stdout}${r.stderr}`);
}
