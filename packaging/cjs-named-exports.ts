/**
 * An esbuild plugin for `await import('some-commonjs-package')` in a split bundle. Node gives such
 * an import the package's named exports (`const { pino } = await import('pino')` works), but
 * esbuild's chunk for it exports `default` only, so the names come out undefined at run time.
 * Here a dynamic import of a CommonJS package goes through a small module that re-exports, by
 * name, the very names Node itself finds for it (read by importing the package at build time).
 */
import type { Plugin } from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const NAMESPACE = 'edge-cjs-named';
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function isCommonJs(file: string): boolean {
  if (file.endsWith('.cjs')) return true;
  if (!file.endsWith('.js')) return false;
  for (let dir = dirname(file); dirname(dir) !== dir; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: string }).type !== 'module';
  }
  return true;
}

export function cjsNamedExports(): Plugin {
  return {
    name: 'cjs-named-exports',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.kind !== 'dynamic-import' || args.path.startsWith('node:') || args.pluginData === NAMESPACE) return undefined;
        const resolved = await build.resolve(args.path, { kind: 'import-statement', resolveDir: args.resolveDir, pluginData: NAMESPACE });
        if (resolved.errors.length > 0 || resolved.external || !isCommonJs(resolved.path)) return undefined;
        return { path: resolved.path, namespace: NAMESPACE, pluginData: args.path };
      });
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, async (args) => {
        const names = Object.keys((await import(pathToFileURL(args.path).href)) as object).filter((n) => n !== 'default' && IDENTIFIER.test(n));
        const spec = JSON.stringify(args.path);
        return {
          contents: `import * as ns from ${spec};\nexport default ns.default;\nexport const { ${names.join(', ')} } = ns;\n`,
          resolveDir: dirname(args.path),
          loader: 'js',
        };
      });
    },
  };
}
