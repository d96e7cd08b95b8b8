/** The .deb's Version and mtimes (packaging/deb.ts): npm's version as dpkg orders it, and the build's fixed time. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { debVersion, sourceDateEpoch } from '../../packaging/deb.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dpkgLess = (a: string, b: string) => spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status === 0;

describe('debVersion', () => {
  it('keeps a release version and turns a pre-release into one dpkg sorts before its release', () => {
    expect(debVersion('0.1.0')).toBe('0.1.0');
    expect(debVersion('1.0.0-rc.1')).toBe('1.0.0~rc.1');
    expect(dpkgLess(debVersion('1.0.0-rc.1'), debVersion('1.0.0'))).toBe(true);
    expect(dpkgLess(debVersion('1.0.0-rc.1'), debVersion('1.0.0-rc.2'))).toBe(true);
    expect(debVersion('1.0.0+build.5')).toBe('1.0.0+build.5');
  });

  it('refuses what cannot be a Debian version, naming it', () => {
    expect(() => debVersion('v1.0.0')).toThrow(/EDGE_RELEASE_VERSION: 'v1\.0\.0' in package\.json/);
    expect(() => debVersion('1.0 beta')).toThrow(/EDGE_RELEASE_VERSION/);
  });
});

describe('sourceDateEpoch', () => {
  it('is SOURCE_DATE_EPOCH when set, else the last commit’s time', () => {
    expect(sourceDateEpoch(ROOT, { SOURCE_DATE_EPOCH: '1700000000' })).toBe(1_700_000_000);
    const commit = Number(spawnSync('git', ['-C', ROOT, 'log', '-1', '--format=%ct'], { encoding: 'utf8' }).stdout.trim());
    expect(commit).toBeGreaterThan(1_600_000_000);
    expect(sourceDateEpoch(ROOT, {})).toBe(commit);
  });
});
