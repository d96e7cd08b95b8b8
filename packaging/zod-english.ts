/**
 * An esbuild plugin: zod's messages in English only. zod 4 puts all of its ~50 locales in its
 * namespace (`z.locales`), so a bundle carries them all (about 300 KB of the chunk `validate`
 * loads: parsed at every start, 1.3 MB of peak RSS) though only English is ever configured — zod
 * sets it itself, and the agent never calls `z.config()` with another. The locales index is
 * replaced by one that exports `en` alone.
 */
import type { Plugin } from 'esbuild';

export function zodEnglishOnly(): Plugin {
  return {
    name: 'zod-english-only',
    setup(build) {
      build.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({ contents: "export { default as en } from './en.js';\n", loader: 'js' }));
    },
  };
}
