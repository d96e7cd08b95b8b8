/**
 * npm 12 runs no dependency's install script unless package.json's `allowScripts` names it (npm
 * 11.16+ only warns). Without better-sqlite3's build the agent cannot start, so the README's `npm ci`
 * on a fresh machine would give a broken install. This walks the installed tree, as npm does, and
 * holds `allowScripts` to every package that has an install-time script.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'] as const;

interface Manifest {
  name: string;
  scripts?: Record<string, string>;
}

/** Every package under node_modules (scoped and nested ones too) that runs something when installed. */
function packagesWithInstallScripts(dir: string, found: Map<string, string>): void {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir)) {
    if (entry.startsWith('.')) continue;
    const full = path.join(dir, entry);
    if (entry.startsWith('@')) {
      packagesWithInstallScripts(full, found);
      continue;
    }
    const manifestPath = path.join(full, 'package.json');
    if (!fs.existsSync(manifestPath)) continue;
    const m = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Manifest;
    const scripts = INSTALL_SCRIPTS.filter((s) => m.scripts?.[s] !== undefined);
    // npm's default: a package with binding.gyp and no install script gets `node-gyp rebuild`.
    if (scripts.length === 0 && fs.existsSync(path.join(full, 'binding.gyp'))) found.set(m.name, 'install (implicit node-gyp rebuild)');
    else if (scripts.length > 0) found.set(m.name, scripts.map((s) => `${s}: ${m.scripts![s]}`).join('; '));
    packagesWithInstallScripts(path.join(full, 'node_modules'), found);
  }
}

describe('package.json allowScripts', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };

  it('approves the native builds the agent cannot run without', () => {
    expect(pkg.allowScripts).toMatchObject({ 'better-sqlite3': true, '@serialport/bindings-cpp': true, esbuild: true });
  });

  it('names every installed package that has an install script, so npm 12 neither skips one silently nor runs an unreviewed one', () => {
    const found = new Map<string, string>();
    packagesWithInstallScripts(path.join(root, 'node_modules'), found);
    expect(found.size).toBeGreaterThan(0);
    const unreviewed = [...found].filter(([name]) => pkg.allowScripts?.[name] === undefined).map(([name, what]) => `${name} (${what})`);
    expect(unreviewed).toEqual([]);
  });
});
