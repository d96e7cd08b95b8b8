/**
 * The agent as users run it, for the phases that start it as its own process. A release runs the
 * esbuild bundle through its launcher (packaging/launcher.sh); the source install's unit and the
 * Docker image run dist/ on the system's node. All three pass the same node flags
 * (packaging/node-flags.ts: one set for the daemon, one for the other commands). The bench
 * measures the bundle by default and says which build and flags it measured.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle } from '../packaging/bundle.js';
import { nodeFlagArgs, nodeFlagsFor } from '../packaging/node-flags.js';

export type AgentBuild = 'bundle' | 'dist';

export interface AgentProgram {
  build: AgentBuild;
  /** the entry point node runs */
  cli: string;
  /** node flags before it, for a command line starting with `command` */
  flags: (command: string) => string[];
  /** for tables: what was measured */
  label: string;
}

/**
 * The flags for `command` (`run` or another), as the launcher picks them; BENCH_AGENT_NODE_FLAGS
 * replaces them (set and empty: Node's defaults), as EDGE_NODE_FLAGS does for users.
 */
export function benchNodeFlags(command: string, env: NodeJS.ProcessEnv = process.env): string[] {
  return nodeFlagArgs(env.BENCH_AGENT_NODE_FLAGS ?? nodeFlagsFor(command));
}

export function parseAgentBuild(text: string | undefined): AgentBuild {
  if (text === undefined || text === 'bundle' || text === 'dist') return text ?? 'bundle';
  throw new Error(`--agent must be bundle or dist, got '${text}'`);
}

const bundles = new Map<string, Promise<string>>();

/** The program for `build`; the bundle is built once per bench directory (about 30 s). */
export async function agentProgram(build: AgentBuild, dir: string, env: NodeJS.ProcessEnv = process.env): Promise<AgentProgram> {
  const flags = (command: string) => benchNodeFlags(command, env);
  if (build === 'dist') {
    return { build, cli: fileURLToPath(new URL('../agent/cli.js', import.meta.url)), flags, label: 'dist/ (source install, Docker)' };
  }
  const outDir = path.join(dir, 'bundle');
  if (!bundles.has(outDir)) bundles.set(outDir, buildBundle({ outDir }).then((r) => path.join(r.dir, 'cli.js')));
  return { build, cli: await bundles.get(outDir)!, flags, label: 'bundle (release)' };
}

/** How a row says which flags it ran with. */
export function showFlags(flags: readonly string[]): string {
  return flags.length === 0 ? 'no node flags' : flags.join(' ');
}
