// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/**
 * `edge-agent buffer stats | dead-letters | replay`: what a technician asks a gateway about its
 * outbox — how far behind each sink is, what was dropped, what a sink refused and why — and the
 * one repair, moving dead letters back for delivery. Works beside a running agent (read-only
 * except replay), and reads the config leniently: a missing secret (`${PG_PASSWORD}` unset in a
 * technician's shell) must not hide the buffer from them.
 */
import { readFileSync } from 'node:fs';
import { BufferInspector } from '../../buffer/inspect.js';
import type { SqliteBufferOptions } from '../../buffer/sqlite-buffer.js';
import type { BufferStats, DeadLetter } from '../../buffer/types.js';
import { checkConfig, formatOf, substituteEnv, SETTINGS_KEYS } from '../../config/index.js';
import { parseText } from '../../config/parse.js';
import { loadSettings } from '../../config/settings.js';
import type { Env, Settings } from '../../config/types.js';
import type { Logger } from '../logger.js';

export const BUFFER_SUBCOMMANDS = ['stats', 'dead-letters', 'replay'] as const;

/** The agent's buffer options from the settings. */
export function agentBufferOptions(settings: Settings, sinks: readonly string[], logger: Logger): SqliteBufferOptions {
  const b = settings.buffer;
  return {
    path: b.path,
    sinks,
    synchronous: b.synchronous,
    maxRows: b.maxRows,
    maxBytes: b.maxBytes,
    whenFull: b.whenFull,
    historyMaxRows: b.history.maxRows,
    recoverCorrupt: true,
    logger: logger.child({ component: 'buffer' }),
  };
}

export interface BufferCommandOptions {
  file: string;
  env: Env;
  json: boolean;
  sink?: string | undefined;
  ids?: readonly number[] | undefined;
  limit?: number | undefined;
  now?: number;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

export function bufferCommand(sub: string, opts: BufferCommandOptions): number {
  const out = opts.out ?? ((l: string) => console.log(l));
  const err = opts.err ?? ((l: string) => console.error(l));
  const opened = openBufferFile(opts.file, opts.env, { write: sub === 'replay' }, err);
  if (opened === undefined) return 1;
  const { inspector, settings } = opened;
  try {
    const q = { sink: opts.sink, ids: opts.ids, limit: opts.limit };
    if (sub === 'stats') {
      const stats = inspector.stats(enabledSinks(settings));
      const now = opts.now ?? Date.now();
      if (opts.json) out(JSON.stringify(statsJson(stats, settings, now), null, 2));
      else for (const l of statsTable(stats, settings, now)) out(l);
    } else if (sub === 'dead-letters') {
      const list = inspector.deadLetterList({ ...q, limit: opts.limit ?? (opts.json ? undefined : 50) });
      if (opts.json) out(JSON.stringify(list, null, 2));
      else for (const l of deadLetterTable(list)) out(l);
    } else {
      const moved = inspector.replay(q);
      const total = Object.values(moved).reduce((a, b) => a + b, 0);
      if (opts.json) out(JSON.stringify({ moved: total, bySink: moved }));
      else if (total === 0) out('no dead letters to replay');
      else {
        const per = Object.entries(moved).map(([s, n]) => `${s} ${n}`).join(', ');
        out(`moved ${total} dead letter${total === 1 ? '' : 's'} back for delivery (${per}); a running agent sends them within seconds, a stopped one at its next start`);
      }
    }
    return 0;
  } finally {
    inspector.close();
  }
}

function enabledSinks(s: Settings): Set<string> {
  const names = new Set<string>();
  if (s.sinks.influx.url !== '') names.add('influx');
  if (s.sinks.postgres.url !== '') names.add('postgres');
  return names;
}

/**
 * For a command beside the agent: the buffer file the config names, opened (read-only unless
 * `write`), with the settings; or undefined once `err` was told why not (no config, no file, a
 * file of another schema). Configuration problems elsewhere are only mentioned.
 */
export function openBufferFile(file: string, env: Env, opts: { write: boolean }, err: (line: string) => void): { inspector: BufferInspector; settings: Settings } | undefined {
  const found = bufferSettings(file, env);
  if ('error' in found) {
    err(found.error);
    return undefined;
  }
  for (const w of found.warnings) err(w);
  try {
    return { inspector: BufferInspector.open(found.settings.buffer.path, { write: opts.write }), settings: found.settings };
  } catch (e) {
    err(`edge-agent: ${(e as Error).message}`);
    return undefined;
  }
}

/** The settings, even from a config with problems elsewhere (those are only mentioned). */
export function bufferSettings(file: string, env: Env): { settings: Settings; warnings: string[] } | { error: string } {
  const r = checkConfig({ file, env });
  if (r.ok) return { settings: r.config.settings, warnings: [] };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { error: `${file}: ${(e as Error).message}` };
  }
  const parsed = parseText(text, formatOf(file));
  if (parsed.issues.length > 0 || typeof parsed.doc !== 'object' || parsed.doc === null) return { error: `${file}: cannot be read as a configuration; run edge-agent validate --config ${file}` };
  const doc = substituteEnv(parsed.doc, env).value as Record<string, unknown>;
  const part = Object.fromEntries(Object.entries(doc).filter(([k]) => (SETTINGS_KEYS as readonly string[]).includes(k)));
  const { settings } = loadSettings(part, env);
  return { settings, warnings: [`${file}: ${r.issues.length} configuration problem(s) (see edge-agent validate); using buffer.path ${settings.buffer.path}`] };
}

interface SinkJson {
  enabled: boolean;
  behindPoints: number;
  oldestWaitingTs: number | null;
  lagMs: number | null;
  dropped: number;
  deadLettered: number;
  deadLetters: number;
  replaying: number;
}

function statsJson(s: BufferStats & { fileBytes: number; walBytes: number }, settings: Settings, now: number) {
  const sinks: Record<string, SinkJson> = {};
  for (const [name, b] of Object.entries(s.sinks)) {
    sinks[name] = {
      enabled: b.enabled,
      behindPoints: b.pending,
      oldestWaitingTs: b.oldestTs,
      lagMs: b.oldestTs === null ? null : Math.max(0, now - b.oldestTs),
      dropped: b.dropped,
      deadLettered: b.deadLettered,
      deadLetters: b.deadLetters,
      replaying: b.replaying,
    };
  }
  const { maxRows, maxBytes, whenFull } = settings.buffer;
  return {
    path: settings.buffer.path,
    rows: s.rows,
    bytes: s.bytes,
    usedBytes: s.usedBytes,
    fileBytes: s.fileBytes,
    walBytes: s.walBytes,
    bound: { maxRows, maxBytes, whenFull },
    lastSeq: s.lastSeq,
    held: s.held,
    dropped: s.dropped,
    sinks,
  };
}

function statsTable(s: BufferStats & { fileBytes: number; walBytes: number }, settings: Settings, now: number): string[] {
  const { maxRows, maxBytes, whenFull } = settings.buffer;
  const lines = [
    `buffer ${settings.buffer.path}`,
    `  points    ${num(s.rows)} of ${num(maxRows)} max (${pct(s.rows, maxRows)})`,
    `  size      ${bytes(s.bytes)} of ${bytes(maxBytes)} max (${pct(s.bytes, maxBytes)}; ${bytes(s.usedBytes)} in use, write-ahead log ${bytes(s.walBytes)})`,
    `  when full ${whenFull === 'dropOldest' ? 'drop the oldest points' : 'refuse new points'}`,
    `  dropped   ${num(s.dropped)} point${s.dropped === 1 ? '' : 's'} since this file was created`,
  ];
  if (s.held > 0) lines.push(`  held      ${num(s.held)} points read before the clock was trusted (sent once it is)`);
  lines.push('');
  const rows: string[][] = [['sink', 'behind (points)', 'oldest waiting', 'dropped', 'dead letters']];
  for (const [name, b] of Object.entries(s.sinks)) {
    const behind = b.enabled ? num(b.pending) : 'not enabled';
    const oldest = b.oldestTs === null ? (b.enabled ? 'caught up' : '—') : `${age(now - b.oldestTs)} ago (${new Date(b.oldestTs).toISOString().slice(0, 19).replace('T', ' ')} UTC)`;
    const dead = b.deadLetters === 0 ? '0' : `${num(b.deadLetters)}${b.replaying > 0 ? ` (${num(b.replaying)} replaying)` : ''}`;
    rows.push([name, behind, oldest, num(b.dropped), dead]);
  }
  if (rows.length === 1) rows.push(['(none)', '—', '—', '—', '—']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) lines.push(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
  return lines;
}

function deadLetterTable(list: DeadLetter[]): string[] {
  if (list.length === 0) return ['no dead letters'];
  const rows: string[][] = [['id', 'sink', 'point', 'time', 'value', 'rejected', 'tries', 'error']];
  for (const d of list) {
    const v = d.point.value === null ? '—' : String(d.point.value);
    const t = Number.isNaN(new Date(d.point.ts).getTime()) ? String(d.point.ts) : new Date(d.point.ts).toISOString();
    rows.push([
      String(d.id),
      d.sink,
      `${d.point.deviceId}/${d.point.pointId}`,
      t,
      v.length > 20 ? `${v.slice(0, 19)}…` : v,
      new Date(d.at).toISOString().slice(0, 19).replace('T', ' '),
      `${d.attempts}${d.replay ? ' (replaying)' : ''}`,
      `${d.code}: ${d.message.length > 120 ? `${d.message.slice(0, 119)}…` : d.message}`,
    ]);
  }
  return alignColumns(rows);
}

/** Rows as lines of aligned columns; the last column (free text) is not padded. */
export function alignColumns(rows: readonly string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  '));
}

function num(n: number): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US') : 'no';
}

function pct(a: number, b: number): string {
  return Number.isFinite(b) && b > 0 ? `${((100 * a) / b).toFixed(a / b < 0.01 ? 2 : 0)}%` : '—';
}

function bytes(n: number): string {
  if (!Number.isFinite(n)) return 'no';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** 3d 4h, 2h 13m, 5m 12s, 40s. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}
