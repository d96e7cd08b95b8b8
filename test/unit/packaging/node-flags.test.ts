/**
 * One source of node/V8 flags (packaging/node-flags.ts: the daemon's and the other commands') for
 * every way the agent starts: the release's launcher, the source install's unit and the Docker
 * image each carry them literally, so this holds them to it — and runs the launcher and the image's
 * entrypoint command for real (with a stand-in program that prints what node was given) to show
 * the flags reach node as separate arguments, EDGE_NODE_FLAGS replaces them, and the command's
 * own arguments pass through unchanged.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMAND_NODE_FLAGS, nodeFlagArgs, nodeFlagsFor, RUN_NODE_FLAGS } from '../../../packaging/node-flags.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** A program that prints the flags node ran it with and its own arguments. */
function standIn(path: string): void {
  writeFileSync(path, 'console.log(JSON.stringify({ execArgv: process.execArgv, argv: process.argv.slice(2) }));\n');
}

function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv): { execArgv: string[]; argv: string[] } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env });
  expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as { execArgv: string[]; argv: string[] };
}

/** The environment without EDGE_NODE_FLAGS, plus `extra`. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (!('EDGE_NODE_FLAGS' in extra)) delete e.EDGE_NODE_FLAGS;
  return e;
}

const ARGS = ['validate', '--config', 'a file with spaces.yaml'];
const RUN = ['run', '--config', 'a file with spaces.yaml'];

describe('the node flags', () => {
  it('are V8 heap sizes only: no flag that costs the daemon its JIT; a bigger young generation for the daemon', () => {
    expect(nodeFlagArgs(RUN_NODE_FLAGS)).toEqual(['--max-semi-space-size=4', '--max-old-space-size=256']);
    expect(nodeFlagArgs(COMMAND_NODE_FLAGS)).toEqual(['--max-semi-space-size=1', '--max-old-space-size=256']);
    for (const f of nodeFlagArgs(`${RUN_NODE_FLAGS} ${COMMAND_NODE_FLAGS}`)) expect(f).not.toMatch(/jitless|lite-mode|no-opt/);
    expect(nodeFlagsFor('run')).toBe(RUN_NODE_FLAGS);
    expect(nodeFlagsFor('validate')).toBe(COMMAND_NODE_FLAGS);
    expect(nodeFlagsFor('--version')).toBe(COMMAND_NODE_FLAGS);
  });

  it('are the same in the launcher, the systemd unit and the Dockerfile', () => {
    const launcher = read('packaging/launcher.sh');
    expect(/^ {4}default="([^"]*)"$/m.exec(launcher)?.[1]).toBe(RUN_NODE_FLAGS);
    expect(/^default="([^"]*)"$/m.exec(launcher)?.[1]).toBe(COMMAND_NODE_FLAGS);
    const unit = read('systemd/edge-agent.service');
    expect(/^Environment="EDGE_NODE_FLAGS=([^"]*)"$/m.exec(unit)?.[1]).toBe(RUN_NODE_FLAGS);
    // Unbraced: systemd splits the value into separate arguments (none when it is empty).
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node \$EDGE_NODE_FLAGS \/opt\/edge-agent\/dist\/agent\/cli\.js run /m);
    // The image starts the daemon.
    expect(/^ENV EDGE_NODE_FLAGS="([^"]*)"/m.exec(read('Dockerfile'))?.[1]).toBe(RUN_NODE_FLAGS);
    expect(read('Dockerfile')).toMatch(/^CMD \["run", /m);
  });

  it('reach node from the release launcher, and EDGE_NODE_FLAGS replaces them', () => {
    const home = mkdtempSync(join(tmpdir(), 'edge-launcher-'));
    mkdirSync(join(home, 'bin'));
    mkdirSync(join(home, 'node', 'bin'), { recursive: true });
    mkdirSync(join(home, 'app'));
    cpSync(join(ROOT, 'packaging', 'launcher.sh'), join(home, 'bin', 'edge-agent'));
    chmodSync(join(home, 'bin', 'edge-agent'), 0o755);
    symlinkSync(process.execPath, join(home, 'node', 'bin', 'node'));
    standIn(join(home, 'app', 'cli.js'));
    const launcher = join(home, 'bin', 'edge-agent');

    expect(runJson(launcher, ARGS, env())).toEqual({ execArgv: nodeFlagArgs(COMMAND_NODE_FLAGS), argv: ARGS });
    expect(runJson(launcher, RUN, env())).toEqual({ execArgv: nodeFlagArgs(RUN_NODE_FLAGS), argv: RUN });
    expect(runJson(launcher, ['--version'], env()).execArgv).toEqual(nodeFlagArgs(COMMAND_NODE_FLAGS));
    // The command after its options is still the daemon.
    expect(runJson(launcher, ['--config', 'gw.yaml', 'run'], env()).execArgv).toEqual(nodeFlagArgs(RUN_NODE_FLAGS));
    expect(runJson(launcher, RUN, env({ EDGE_NODE_FLAGS: '--max-old-space-size=128' })).execArgv).toEqual(['--max-old-space-size=128']);
    expect(runJson(launcher, RUN, env({ EDGE_NODE_FLAGS: '' })).execArgv).toEqual([]);
  });

  it("reach node from the Docker image's entrypoint command, and EDGE_NODE_FLAGS replaces them", () => {
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(read('Dockerfile'))?.[1] ?? '[]') as string[];
    expect(entrypoint.slice(0, 4)).toEqual(['/usr/bin/tini', '--', '/bin/sh', '-c']);
    const dir = mkdtempSync(join(tmpdir(), 'edge-entrypoint-'));
    standIn(join(dir, 'cli.js'));
    // The shell command as the image runs it (without tini), on this machine's node and a stand-in cli.js.
    const [, , shell, c, script, name] = entrypoint as [string, string, string, string, string, string];
    expect(script).toContain('/opt/edge-agent/dist/agent/cli.js');
    const here = script.replace('exec node ', `exec ${process.execPath} `).replace('/opt/edge-agent/dist/agent/cli.js', join(dir, 'cli.js'));
    const run = (extra: Record<string, string>) => runJson(shell, [c, here, name, ...ARGS], env(extra));

    expect(run({ EDGE_NODE_FLAGS: RUN_NODE_FLAGS })).toEqual({ execArgv: nodeFlagArgs(RUN_NODE_FLAGS), argv: ARGS });
    expect(run({ EDGE_NODE_FLAGS: '' }).execArgv).toEqual([]);
  });
});
