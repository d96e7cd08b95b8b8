// Room agent/ops: the agent's face to a technician and systemd (HTTP, status, metrics, watchdog, notify, page); may import every room but commands, never agent.ts.
/**
 * GET /history?device=D&point=P&minutes=N[&step=S][&series=JSON] → the trend of one point:
 * `{device, point, unit, step, buckets: [{ts, min, avg, max, n}]}`, oldest first, `step` in
 * seconds, `ts` the start of each bucket (epoch ms). Buckets without readings are left out (a gap).
 *
 * The finest kept tier that covers the window answers; `step` (seconds, or a duration such as
 * `5m`) folds its buckets into wider ones and must be a multiple of a tier's step. Without it, the
 * step widens so that a window never has more than 1500 buckets. `series` picks one captured
 * series (an MQTT topic's `{bed}`): the JSON object the status page shows as `series`.
 */
import { parseDuration } from '../../config/duration.js';
import type { AgentConfig } from '../../config/types.js';
import { rebucket, type HistoryRecorder } from '../pipeline/history.js';

export const MAX_BUCKETS = 10_000;
const DEFAULT_BUCKETS = 1500;
const PARAMS = new Set(['device', 'point', 'minutes', 'step', 'series']);

export interface HistoryAnswer {
  status: number;
  body: unknown;
}

export interface HistoryResponse {
  device: string;
  point: string;
  unit: string | null;
  step: number;
  buckets: Array<{ ts: number; min: number; avg: number; max: number; n: number }>;
}

function bad(message: string): HistoryAnswer {
  return { status: 400, body: { error: message, code: 'EDGE_HTTP_BAD_REQUEST' } };
}

export function answerHistory(params: URLSearchParams, config: AgentConfig, history: HistoryRecorder | undefined, now: number): HistoryAnswer {
  if (history === undefined) {
    return { status: 404, body: { error: 'the local history is off (buffer.history.enabled: false)', code: 'EDGE_HISTORY_OFF' } };
  }
  for (const name of params.keys()) if (!PARAMS.has(name)) return bad(`unknown parameter '${name}' (known: ${[...PARAMS].join(', ')})`);
  const device = params.get('device');
  const point = params.get('point');
  if (device === null || device === '') return bad("'device' is required, e.g. /history?device=pump-1&point=flow&minutes=60");
  if (point === null || point === '') return bad("'point' is required, e.g. /history?device=pump-1&point=flow&minutes=60");
  const minutesText = params.get('minutes');
  if (minutesText === null) return bad("'minutes' is required: the window, in minutes back from now");
  const minutes = /^\d+$/.test(minutesText) ? Number(minutesText) : NaN;
  const tiers = history.tiers;
  const longest = Math.max(...tiers.map((t) => t.keepMs));
  if (!(minutes >= 1) || minutes * 60_000 > longest) {
    return bad(`'minutes' must be a whole number from 1 to ${Math.floor(longest / 60_000)} (what the history keeps); got '${minutesText}'`);
  }
  const windowMs = minutes * 60_000;
  let step: number | undefined;
  const stepText = params.get('step');
  if (stepText !== null) {
    try {
      step = /^\d+$/.test(stepText) ? Number(stepText) * 1000 : parseDuration(stepText);
    } catch {
      step = NaN;
    }
    if (!(step !== undefined && step >= 1000 && step % 1000 === 0)) return bad(`'step' must be whole seconds (e.g. 10 or 5m), at least 1; got '${stepText}'`);
  }
  let series = '';
  const seriesText = params.get('series');
  if (seriesText !== null && seriesText !== '' && seriesText !== '{}') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(seriesText);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === 'string')) {
      return bad(`'series' must be a JSON object of captured tags, e.g. {"bed":"3"}; got '${seriesText}'`);
    }
    const entries = Object.entries(parsed as Record<string, string>).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    series = JSON.stringify(Object.fromEntries(entries));
  }

  const dev = config.devices.find((d) => d.id === device);
  if (dev === undefined) return { status: 404, body: { error: `no device '${device}' in the running config`, code: 'EDGE_HISTORY_UNKNOWN_DEVICE' } };
  const cfg = dev.points.find((p) => p.id === point);
  if (cfg === undefined) {
    return { status: 404, body: { error: `device '${device}' has no point '${point}' (it has: ${dev.points.map((p) => p.id).join(', ')})`, code: 'EDGE_HISTORY_UNKNOWN_POINT' } };
  }

  // The finest tier that keeps the whole window and whose step divides the one asked for.
  const tier = tiers.findIndex((t) => t.keepMs >= windowMs && (step === undefined || step % t.stepMs === 0));
  if (tier === -1) {
    return bad(`'step' ${stepText ?? ''}s fits no kept history for ${minutes} minutes: use a multiple of ${tiers.map((t) => `${t.stepMs / 1000}s (kept ${Math.floor(t.keepMs / 60_000)} min)`).join(' or ')}`);
  }
  const tierStep = (tiers[tier] as { stepMs: number }).stepMs;
  if (step === undefined) step = Math.max(1, Math.ceil(windowMs / DEFAULT_BUCKETS / tierStep)) * tierStep;
  if (windowMs / step > MAX_BUCKETS) return bad(`${minutes} minutes in steps of ${step / 1000}s is more than ${MAX_BUCKETS} buckets: ask for a larger step`);

  const from = Math.floor((now - windowMs) / step) * step;
  const raw = history.read({ tier, device, point, series }, from, now + tierStep);
  const buckets = (step === tierStep ? raw : rebucket(raw, step)).map((b) => ({ ts: b.ts, min: b.min, avg: b.sum / b.n, max: b.max, n: b.n }));
  const body: HistoryResponse = { device, point, unit: cfg.unit ?? null, step: step / 1000, buckets };
  return { status: 200, body };
}
