/**
 * `npm run schema`: writes config/edge-agent.schema.json from the code's own schemas
 * (json-schema.ts). Run it after changing a setting or a catalog key; a unit test fails while
 * the file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configJsonSchemaText } from './json-schema.js';

// dist/config/… or config/…: the file lives in the package's config/ folder either way
const here = fileURLToPath(new URL('.', import.meta.url));
const target = here.replace(/\/dist\/config\/$/, '/config/') + 'edge-agent.schema.json';
writeFileSync(target, configJsonSchemaText());
console.log(`wrote ${target}`);
