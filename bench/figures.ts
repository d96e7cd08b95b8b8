/**
 * The arithmetic of the benchmark report: rates, ratios, percentiles, growth, and the checks
 * that compare each figure with its target. Pure functions (unit-tested), so a wrong figure is a
 * failing test, not a quiet lie in the README.
 */

/** Items per second for `count` items in `ms` milliseconds. */
export function perSecond(count: number, ms: number): number {
  if (!(ms > 0)) throw new RangeError(`duration must be positive, got ${ms}`);
  return (count * 1000) / ms;
}

/** a / b, or NaN when b is not a positive number (a ceiling that could not be measured). */
export function ratio(a: number, b: number): number {
  return b > 0 && Number.isFinite(a) ? a / b : Number.NaN;
}

/**
 * The p-th percentile (0-100) by the nearest-rank method: the smallest value with at least p % of
 * the values at or below it. Always one of the values, never an interpolation.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Growth from `first` to `last` in percent (negative when it shrank). */
export function growthPct(first: number, last: number): number {
  return first > 0 ? ((last - first) / first) * 100 : Number.NaN;
}

/** Seconds per million items, from `count` items in `ms` milliseconds. */
export function secondsPerMillion(count: number, ms: number): number {
  return count > 0 ? ms / 1000 / (count / 1e6) : Number.NaN;
}

/**
 * Poll-schedule slip of one device: for every poll start, how long after its wall-clock aligned
 * tick it began. A tick with no poll at all (skipped because the previous poll overran, or the
 * event loop was blocked past it) slipped by at least one interval: it counts as `everyMs`, so a
 * percentile over the slips cannot hide it. Timers fire up to a few ms early: a start up to
 * `earlyMs` before a tick belongs to that tick (slip 0), not to the one before.
 */
export function pollSlips(starts: readonly number[], everyMs: number, earlyMs = 20): { slips: number[]; missedTicks: number } {
  const slips: number[] = [];
  let missedTicks = 0;
  let lastTick: number | undefined;
  for (const at of [...starts].sort((a, b) => a - b)) {
    const tick = Math.floor((at + earlyMs) / everyMs) * everyMs;
    if (lastTick !== undefined && tick > lastTick) {
      const missed = Math.round((tick - lastTick) / everyMs) - 1;
      for (let i = 0; i < missed; i++) slips.push(everyMs);
      missedTicks += missed;
    }
    slips.push(Math.max(0, at - tick));
    lastTick = tick;
  }
  return { slips, missedTicks };
}

export interface Check {
  figure: string;
  value: number;
  unit: string;
  /** What it is compared with, e.g. "sqlite_ceiling_rows_per_s 401234". */
  against?: string;
  target: string;
  /** null: not measured (skipped or failed), so neither met nor missed. */
  pass: boolean | null;
}

/** `value / ceiling >= min`, the check of a throughput figure against the ceiling measured in the same run. */
export function atLeastFraction(figure: string, value: number, ceilingName: string, ceiling: number, min: number, unit: string): Check {
  const r = ratio(value, ceiling);
  return {
    figure,
    value,
    unit,
    against: `${ceilingName} ${fmt(ceiling)} (ratio ${Number.isFinite(r) ? r.toFixed(2) : 'n/a'})`,
    target: `≥ ${min} × ceiling`,
    pass: Number.isFinite(r) ? r >= min : null,
  };
}

export function atMost(figure: string, value: number, max: number, unit: string, against?: string): Check {
  return { figure, value, unit, ...(against === undefined ? {} : { against }), target: `≤ ${fmt(max)}${unit === '' ? '' : ` ${unit}`}`, pass: Number.isFinite(value) ? value <= max : null };
}

export function below(figure: string, value: number, limit: number, unit: string, against?: string): Check {
  return { figure, value, unit, ...(against === undefined ? {} : { against }), target: `< ${fmt(limit)}${unit === '' ? '' : ` ${unit}`}`, pass: Number.isFinite(value) ? value < limit : null };
}

export function equalTo(figure: string, value: number, expected: number, unit: string, against: string): Check {
  return { figure, value, unit, against, target: `= ${fmt(expected)}`, pass: Number.isFinite(value) ? value === expected : null };
}

/** A figure with no target of its own (reported for context). */
export function info(figure: string, value: number, unit: string, against?: string): Check {
  return { figure, value, unit, ...(against === undefined ? {} : { against }), target: '—', pass: null };
}

/** Numbers as people read them: integers grouped, small values with 2-3 significant decimals. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  const a = Math.abs(n);
  if (a >= 1000) return Math.round(n).toLocaleString('en-US');
  if (a >= 100 || Number.isInteger(n)) return String(Math.round(n));
  if (a >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** A fixed-width text table: figure, value, compared with, target, result. */
export function formatTable(checks: readonly Check[]): string {
  const rows = [
    ['figure', 'value', 'compared with', 'target', 'result'],
    ...checks.map((c) => [c.figure, `${fmt(c.value)}${c.unit === '' ? '' : ` ${c.unit}`}`, c.against ?? '', c.target, c.pass === null ? (c.target === '—' ? '' : 'not measured') : c.pass ? 'pass' : 'FAIL']),
  ];
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) => r.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(rows[0] as string[]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** The same checks as a Markdown table (for the README). */
export function formatMarkdown(checks: readonly Check[]): string {
  const out = ['| figure | value | compared with | target | result |', '|---|---|---|---|---|'];
  for (const c of checks) {
    const result = c.pass === null ? (c.target === '—' ? '' : 'not measured') : c.pass ? 'pass' : '**fail**';
    out.push(`| \`${c.figure}\` | ${fmt(c.value)}${c.unit === '' ? '' : ` ${c.unit}`} | ${c.against ?? ''} | ${c.target} | ${result} |`);
  }
  return out.join('\n');
}
