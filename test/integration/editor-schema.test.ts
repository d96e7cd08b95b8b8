/**
 * The config schema as an editor sees it: yaml-language-server (the engine of VS Code's YAML
 * extension, of Neovim's yamlls and of other LSP editors) runs as a language server over stdio,
 * finds config/edge-agent.schema.json through the `# yaml-language-server: $schema=…` modeline
 * on the first line of config/demo.yaml, and answers what an editor asks while a technician
 * types: diagnostics on open, completion inside a mapping. ajv alone cannot catch what this
 * catches — YAML's own key types (`map: { 0: ok }` has number keys) and how the server picks a
 * branch of a `oneOf` (a device by its driver, a connection by its protocol).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LspClient, type LspMessage } from '../helpers/lsp-client.js';

const root = join(import.meta.dirname, '..', '..');
const demoPath = join(root, 'config', 'demo.yaml');
const demo = readFileSync(demoPath, 'utf8');
// the server's own entry point, as an editor extension starts it
const server = join(dirname(createRequire(import.meta.url).resolve('yaml-language-server/package.json')), 'bin', 'yaml-language-server');

interface Diagnostic {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  message: string;
}
interface CompletionItem {
  label: string;
}

let lsp: LspClient;

/**
 * Opens a document at `name` beside the demo config (so the modeline's relative path resolves to
 * the same schema) and returns the diagnostics the server publishes for it. The documents live
 * only in the server's memory: nothing is written to config/.
 */
async function open(name: string, text: string): Promise<{ uri: string; diagnostics: Diagnostic[] }> {
  const uri = pathToFileURL(join(root, 'config', name)).href;
  lsp.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'yaml', version: 1, text } });
  const published = await lsp.waitFor(
    (m: LspMessage) => m.method === 'textDocument/publishDiagnostics' && (m.params as { uri: string }).uri === uri,
    `diagnostics for ${name}`,
  );
  return { uri, diagnostics: (published.params as { diagnostics: Diagnostic[] }).diagnostics };
}

/** The 0-based line of the first line of `text` that contains `needle`. */
function lineOf(text: string, needle: string): number {
  const line = text.split('\n').findIndex((l) => l.includes(needle));
  if (line < 0) throw new Error(`no line with ${JSON.stringify(needle)}`);
  return line;
}

describe('the config schema in a real editor engine (yaml-language-server over stdio)', () => {
  beforeAll(async () => {
    lsp = new LspClient(process.execPath, [server, '--stdio'], 20_000);
    await lsp.request('initialize', {
      processId: process.pid,
      rootUri: pathToFileURL(root).href,
      capabilities: { textDocument: { completion: { completionItem: { snippetSupport: false } }, publishDiagnostics: {} } },
      workspaceFolders: null,
    });
    lsp.notify('initialized', {});
    // What the VS Code YAML extension sends by default: validation and completion on, and no
    // schema association of its own (no schema store), so only the modeline can name a schema.
    lsp.notify('workspace/didChangeConfiguration', {
      settings: { yaml: { validate: true, completion: true, hover: true, schemaStore: { enable: false }, schemas: {} } },
    });
  });
  afterAll(async () => {
    await lsp?.stop();
  });

  it('config/demo.yaml has no diagnostics, and the modeline did bring the schema in', async () => {
    const { uri, diagnostics } = await open('demo.yaml', demo);
    expect(diagnostics).toEqual([]);
    // an empty list would also come from a server that found no schema: hover shows which one it used
    const hover = (await lsp.request('textDocument/hover', {
      textDocument: { uri },
      position: { line: lineOf(demo, '  path: ./data/buffer.db'), character: 3 },
    })) as { contents: { value: string } } | null;
    expect(hover?.contents.value).toContain('SQLite store-and-forward file');
    expect(hover?.contents.value).toContain('edge-agent.schema.json');
  });

  it('an unknown key and a wrong type are marked at their own lines, by name', async () => {
    const bad = demo
      .replace('  path: ./data/buffer.db', '  path: ./data/buffer.db\n  maxRow: 100000')
      .replace('port: 15020, unitId: 1, timeout: 1s', 'port: 15020, unitId: one, timeout: 1s');
    const { diagnostics } = await open('demo-with-mistakes.yaml', bad);
    const summary = diagnostics.map((d) => ({ line: d.range.start.line, message: d.message }));
    expect(summary).toContainEqual({ line: lineOf(bad, 'maxRow: 100000'), message: 'Property maxRow is not allowed.' });
    const unitId = diagnostics.find((d) => d.range.start.line === lineOf(bad, 'unitId: one'));
    expect(unitId?.message).toBe('Incorrect type. Expected "integer".');
    // the range is the value itself, so the editor underlines `one`
    expect(bad.split('\n')[unitId?.range.start.line ?? -1]?.slice(unitId?.range.start.character, unitId?.range.end.character)).toBe('one');
    expect(diagnostics).toHaveLength(2);
  });

  it('completion inside devices[0].connection offers that protocol’s keys from the schema', async () => {
    // the demo device with its connection written as a block, and the cursor on a new key line
    const flow = '    connection: { protocol: tcp, host: 127.0.0.1, port: 15020, unitId: 1, timeout: 1s }';
    expect(demo).toContain(flow);
    const text = demo.replace(flow, '    connection:\n      protocol: tcp\n      host: 127.0.0.1\n      \n');
    const { uri } = await open('demo-completion.yaml', text);
    const line = text.split('\n').indexOf('      ');
    const result = (await lsp.request('textDocument/completion', { textDocument: { uri }, position: { line, character: 6 } })) as
      | { items: CompletionItem[] }
      | CompletionItem[];
    const labels = (Array.isArray(result) ? result : result.items).map((i) => i.label).sort();
    // tcp's remaining keys; not the keys already written, nor an RTU line's (path, baudRate, …)
    expect(labels).toEqual(['port', 'timeout', 'unitId']);
  });
});
