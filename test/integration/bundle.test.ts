/**
 * The bundle (npm run bundle, packaging/bundle.ts) as a program of its own: built into a folder
 * outside the checkout, so no node_modules of the repository can stand in for what it lacks, then
 * run for the commands a technician uses, and serving the status page with its chart library.
 * esbuild's metafile shows the laziness: what `--version` and `validate` load at start holds none
 * of the heavy libraries, which sit in chunks of their own.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect, waitForOutput } from '../helpers/cli.js';

const ROOT = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'edge-bundle-'));
const BUNDLE = join(work, 'app');
const META = join(work, 'meta.json');
const CLI = join(BUNDLE, 'cli.js');
/** Libraries no command should load unless its config or subcommand uses them. */
const HEAVY = ['mqtt', 'aedes', 'pg', 'prom-client', 'serialport', 'modbus-serial'];

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: work, timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The package an input of the bundle came from, or undefined for the agent's own sources. */
function packageOf(input: string): string | undefined {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m?.[1];
}

beforeAll(() => {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'packaging', 'bundle.js'), '--out', BUNDLE, '--metafile', META], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
}, 150_000);

describe('the bundle', () => {
  it('loads no heavy library at start: they are chunks of their own', () => {
    const meta = JSON.parse(readFileSync(META, 'utf8')) as Metafile;
    const outputs = new Map(Object.entries(meta.outputs).map(([k, v]) => [k.slice(k.indexOf('app/') + 'app/'.length), v]));
    // The files `node cli.js` reads before any dynamic import: the entry and its static imports, transitively.
    const atStart = new Set<string>();
    const visit = (file: string) => {
      if (atStart.has(file)) return;
      atStart.add(file);
      for (const imp of outputs.get(file)?.imports ?? []) if (imp.kind === 'import-statement' && !imp.external) visit(imp.path.slice(imp.path.indexOf('app/') + 'app/'.length));
    };
    visit('cli.js');
    const packagesAtStart = new Set([...atStart].flatMap((f) => Object.keys(outputs.get(f)?.inputs ?? {}).flatMap((i) => packageOf(i) ?? [])));
    const bundled = new Set(Object.keys(meta.inputs).flatMap((i) => packageOf(i) ?? []));
    for (const lib of HEAVY) {
      expect(bundled, `${lib} is in the bundle`).toContain(lib);
      expect(packagesAtStart, `${lib} is loaded at start`).not.toContain(lib);
    }
    // The InfluxDB sink writes line protocol over node:http itself: the client library is not shipped at all.
    expect(bundled, 'the InfluxDB client library is in the bundle').not.toContain('@influxdata/influxdb-client');
    // zod's messages in English only (packaging/zod-english.ts): none of its other locales is shipped.
    const zodLocales = Object.keys(meta.inputs).filter((i) => /zod\/v4\/locales\/(?!index\.js$)/.test(i));
    expect(zodLocales.map((i) => i.slice(i.lastIndexOf('/') + 1))).toEqual(['en.js']);
    expect(atStart.size).toBeLessThan(outputs.size);
  });

  it('answers --version, validates the demo config and polls the demo once, from a folder with no node_modules around it', () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(run(['--version'])).toEqual({ code: 0, out: `${version}\n` });
    const validate = run(['validate', '--config', join(BUNDLE, 'config', 'demo.yaml')]);
    expect(validate.out).toMatch(/demo\.yaml: ok, 1 device, 16 points/);
    expect(validate.code).toBe(0);
    // Without zod's other locales, a bad file still gets every error in the technician's words.
    writeFileSync(join(work, 'bad.yaml'), 'gateway:\n  id: gw\n  foo: 1\nbuffer:\n  maxRows: -1\n');
    const bad = run(['validate', '--config', join(work, 'bad.yaml')]);
    expect(bad.code, bad.out).toBe(1);
    expect(bad.out).toMatch(/^ {2}gateway\.foo: unknown key$/m);
    expect(bad.out).toMatch(/^ {2}buffer\.maxRows: must be a whole number, at least 1 \(got -1\)$/m);
    const once = run(['run', '--demo', '--once']);
    expect(once.code, once.out).toBe(0);
    expect(once.out).toMatch(/pump-1\/flow\s+[\d.]+ m3\/h/);
    expect(once.out).toMatch(/pump-1\/running\s+true/);
  });

  it('runs the demo with its SQLite buffer and serves the status page, its script and uPlot', async () => {
    const child = spawn(process.execPath, [CLI, 'run', '--demo'], {
      cwd: work,
      env: { ...process.env, EDGE_HTTP_PORT: '0', EDGE_BUFFER_PATH: join(work, 'buffer.db') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = collect(child, 60_000);
    try {
      const out = await waitForOutput(child, /pump-1\/flow/, 30_000);
      const port = (JSON.parse(out.split('\n').find((l) => l.includes('"http listening"')) ?? '{}') as { port?: number }).port;
      expect(port).toBeGreaterThan(0);
      const get = async (path: string) => {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
      };
      const page = await get('/');
      expect(page.status).toBe(200);
      expect(page.body).toMatch(/<script src="app\.js" defer>/);
      expect((await get('/app.js')).status).toBe(200);
      const uplot = await get('/uplot.js');
      expect(uplot.status).toBe(200);
      expect(uplot.type).toMatch(/javascript/);
      expect(uplot.body).toMatch(/uPlot/);
      expect(uplot.body).toBe(readFileSync(join(ROOT, 'node_modules', 'uplot', 'dist', 'uPlot.iife.min.js'), 'utf8'));
      const css = await get('/uplot.css');
      expect(css.status).toBe(200);
      expect(css.type).toMatch(/text\/css/);
    } finally {
      child.kill('SIGTERM');
    }
    const { code, stdout } = await exited;
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/"buffer open"/);
  });
});
