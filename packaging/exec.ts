/** Running the build's tools: a failure names the command and shows its output, as a build log should. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** pass the tool's output through (long compiles show progress) instead of capturing it */
  inherit?: boolean;
}

/** Runs `cmd args`, returns its stdout; throws EDGE_RELEASE_TOOL with the output when it fails. */
export function exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): string {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: opts.inherit === true ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
  });
  if (r.error !== undefined) throw new Error(`EDGE_RELEASE_TOOL: cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n');
    throw new Error(`EDGE_RELEASE_TOOL: ${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}${opts.cwd === undefined ? '' : ` (in ${opts.cwd})`}\n${out}`);
  }
  return r.stdout ?? '';
}

/** The ELF e_machine of a file (x64 0x3e, aarch64 0xb7, arm 0x28), or undefined when it is no ELF file. */
export function elfMachine(file: string): number | undefined {
  const head = readFileSync(file).subarray(0, 20);
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return head.readUInt16LE(18);
}

export function log(message: string): void {
  console.error(`release: ${message}`);
}

/** A packaging script's command line: runs `body` when the module at `moduleUrl` is the program; a failure prints its message and exits 1. */
export async function runAsProgram(moduleUrl: string, body: () => unknown): Promise<void> {
  if (process.argv[1] !== fileURLToPath(moduleUrl)) return;
  try {
    await body();
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
