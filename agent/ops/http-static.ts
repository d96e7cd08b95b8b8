// Room agent/ops: the agent's face to a technician and systemd (HTTP, status, metrics, watchdog, notify, page); may import every room but commands, never agent.ts.
/**
 * The status page's files: plain HTML, CSS and JavaScript in agent/ops/static (no build step, no
 * framework). They are read once when the server is made and served from memory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StaticFile {
  body: Buffer;
  contentType: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * The chart library (uPlot, MIT, about 50 KB) comes from node_modules, which the package, the
 * install script and the Docker image carry: served by the agent itself, as gateways are often
 * offline (no CDN). Without it the page still works, with no charts.
 */
const VENDOR: ReadonlyArray<readonly [string, string]> = [
  ['/uplot.js', 'uplot/dist/uPlot.iife.min.js'],
  ['/uplot.css', 'uplot/dist/uPlot.min.css'],
];

/** URL path → file, for the page, its assets and the chart library. */
export function loadStaticFiles(dir = join(packageRoot(), 'agent', 'ops', 'static')): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const [path, name] of [
    ['/', 'index.html'],
    ['/app.js', 'app.js'],
    ['/style.css', 'style.css'],
  ] as const) {
    const ext = name.slice(name.lastIndexOf('.'));
    files.set(path, { body: readFileSync(join(dir, name)), contentType: TYPES[ext] ?? 'application/octet-stream' });
  }
  const require = createRequire(import.meta.url);
  for (const [path, name] of VENDOR) {
    try {
      files.set(path, { body: readFileSync(require.resolve(name)), contentType: TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream' });
    } catch {
      // No uplot in node_modules: the page draws no charts and says so.
    }
  }
  return files;
}

/** The package root, found from this file whether it runs from source (agent/) or from dist/agent/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'edge-agent') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the edge-agent package root');
    dir = up;
  }
}

export function packageVersion(root = packageRoot()): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}
