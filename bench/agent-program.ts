/**
 * The agent as users run it, for the phases that start it as its own process. A release runs the
 * esbuild bundle through its launcher (packaging/launcher.sh); the source install's unit and the
 * Docker image run dist/ on the system's node. All three pass the same node flags
 * (packaging/node-flags.ts). The bench measures the bundle by default and says which it measured.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle } from '../packaging/bundle.js';
import { nodeFlagArgs } from '../packaging/node-flags.js';

export type AgentBuild = 'bundle' | 'dist';

export interface AgentProgram {
  build: AgentBuild;
  /** the entry point node runs */
  cli: string;
  /** node flags before it */
  flags: string[];
  /** for tables: what was measured */
  label: string;
}

/** BENCH_AGENT_NODE_FLAGS replaces the shipped flags (set and empty: Node's defaults), as EDGE_NODE_FLAGS does for users. */
export function benchNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  return env.BENCH_AGENT_NODE_FLAGS === undefined ? nodeFlagArgs() : nodeFlagArgs(env.BENCH_AGENT_NODE_FLAGS);
}

export function parseAgentBuild(text: string | undefined): AgentBuild {
  if (text === undefined || text === 'bundle' || text === 'dist') return text ?? 'bundle';
  throw new Error(`--agent must be bundle or dist, got '${text}'`);
}

const bundles = new Map<string, Promise<string>>();

/** The program for `build`; the bundle is built once per bench directory (about 30 s). */
export async function agentProgram(build: AgentBuild, dir: string, flags: string[]): Promise<AgentProgram> {
  const shown = flags.length === 0 ? 'no node flags' : flags.join(' ');
  if (build === 'dist') {
    return { build, cli: fileURLToPath(new URL('../agent/cli.js', import.meta.url)), flags, label: `dist/ (source install, Docker), ${shown}` };
  }
  const outDir = path.join(dir, 'bundle');
  if (!bundles.has(outDir)) bundles.set(outDir, buildBundle({ outDir }).then((r) => path.join(r.dir, 'cli.js')));
  return { build, cli: await bundles.get(outDir)!, flags, label: `bundle (release), ${shown}` };
}
