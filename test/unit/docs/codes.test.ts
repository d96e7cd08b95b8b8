/**
 * docs/codes.md must list every EDGE_ code the source emits, and name none the source lost.
 * Rules: a token ending in `_` (`EDGE_SINK_${kind}`) is a family prefix; the page writes a family
 * with a placeholder (`EDGE_MODBUS_EXCEPTION_<n>`), which also covers the constant it is built
 * from (`EDGE_MODBUS_EXCEPTION`). A documented member of a template family that is no literal in
 * the source (EDGE_SINK_TOO_LARGE) must have its suffix as a string literal there ('too-large').
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const FOLDERS = ['agent', 'buffer', 'config', 'drivers', 'sinks', 'broker', 'packaging'];
const SOURCE = /\.(ts|js|mjs|cjs|sh)$/;
const TOKEN = /EDGE_[A-Z0-9_]+/g;

interface Found {
  codes: Set<string>;
  families: Set<string>;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sourceFiles(path);
    return SOURCE.test(e.name) ? [path] : [];
  });
}

export function scanSource(texts: readonly string[]): Found {
  const found: Found = { codes: new Set(), families: new Set() };
  for (const text of texts) for (const [t] of text.matchAll(TOKEN)) (t.endsWith('_') ? found.families : found.codes).add(t);
  return found;
}

/** The first cell of each table row: what the page documents. Families end in `_` (placeholder dropped). */
export function documented(md: string): Found {
  const found: Found = { codes: new Set(), families: new Set() };
  for (const m of md.matchAll(/^\| `(EDGE_[A-Z0-9_]+)(<[A-Za-z]+>)?` \|/gm)) {
    const [, name, placeholder] = m as unknown as [string, string, string | undefined];
    (placeholder === undefined ? found.codes : found.families).add(name);
  }
  return found;
}

/** Source codes without a row, and EDGE_ names anywhere on the page the source does not have. */
export function compare(src: Found, doc: Found, page: string, sourceText: string): { missing: string[]; stale: string[] } {
  const missing = [
    ...[...src.codes].filter((c) => !doc.codes.has(c) && !doc.families.has(`${c}_`)),
    ...[...src.families].filter((f) => !doc.families.has(f)).map((f) => `${f}<…>`),
  ];
  const named = new Set<string>();
  for (const m of page.matchAll(/(EDGE_[A-Z0-9_]+)(<[A-Za-z…]+>)?/g)) named.add(m[2] === undefined ? (m[1] as string) : `${m[1] as string}<>`);
  const stale = [...named].filter((n) => {
    if (n.endsWith('<>')) {
      const prefix = n.slice(0, -2);
      return !src.families.has(prefix) && !src.codes.has(prefix.slice(0, -1));
    }
    if (src.codes.has(n)) return false;
    const family = [...src.families].find((f) => n.startsWith(f));
    if (family === undefined) return true;
    const suffix = n.slice(family.length).toLowerCase();
    return ![suffix, suffix.replace(/_/g, '-')].some((s) => sourceText.includes(`'${s}'`));
  });
  return { missing: missing.sort(), stale: stale.sort() };
}

describe('docs/codes.md', () => {
  const texts = FOLDERS.flatMap((f) => sourceFiles(join(ROOT, f))).map((p) => readFileSync(p, 'utf8'));
  const page = readFileSync(join(ROOT, 'docs', 'codes.md'), 'utf8');
  const src = scanSource(texts);

  it('finds the codes in the source (the scan itself works)', () => {
    expect(src.codes.size).toBeGreaterThan(100);
    expect(src.codes).toContain('EDGE_CONFIG_INVALID');
    expect(src.codes).toContain('EDGE_NODE_FLAGS'); // packaging/launcher.sh
    expect(src.families).toContain('EDGE_SINK_');
  });

  it('lists every code of the source, and no code the source no longer has', () => {
    const { missing, stale } = compare(src, documented(page), page, texts.join('\n'));
    // One assertion, so a failure names both lists at once.
    expect({ missingFromDocs: missing, goneFromSource: stale }).toEqual({ missingFromDocs: [], goneFromSource: [] });
  });

  it('fails on a code missing from the page, a stale row, and a family member with no kind in the source', () => {
    const fake = scanSource(["throw x('EDGE_NEW_THING')", "`EDGE_FAM_${k}`; const k = 'too-big'", "'EDGE_BASE'"]);
    const md = '| `EDGE_GONE` | a |\n| `EDGE_BASE_<n>` | b |\n| `EDGE_FAM_<KIND>` | c |\n| `EDGE_FAM_TOO_BIG` | d |\n| `EDGE_FAM_NOPE` | e |\n';
    const r = compare(fake, documented(md), md, "const k = 'too-big'");
    expect(r.missing).toEqual(['EDGE_NEW_THING']);
    expect(r.stale).toEqual(['EDGE_FAM_NOPE', 'EDGE_GONE']);
  });

  it('links only to README and docs headings that exist', () => {
    const slug = (h: string) => h.trim().toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-');
    const anchors = (file: string) => new Set([...readFileSync(join(ROOT, file), 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1] as string)));
    const broken = [...page.matchAll(/\]\(([^)#]+)#([^)]+)\)/g)]
      .map((m) => ({ file: join('docs', m[1] as string), anchor: m[2] as string }))
      .filter(({ file, anchor }) => !anchors(file).has(anchor))
      .map(({ file, anchor }) => `${file}#${anchor}`);
    expect(broken).toEqual([]);
  });
});
