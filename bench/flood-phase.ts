/**
 * The `flood` phase of `npm run bench` (bench/flood.ts): the agent's peak RSS and poll slip while
 * hostile clients flood its doors, as figures and checks for the report.
 */
import { atMost, equalTo, fmt, info, type Check } from './figures.js';
import { runFlood } from './flood.js';

export async function floodFigures(progress: (msg: string) => void): Promise<Record<string, number>> {
  const r = await runFlood({ progress: (m) => progress(`flood: ${m}`) });
  const out: Record<string, number> = {
    flood_idle_rss_mb: r.idle_rss_mb,
    flood_peak_rss_mb: r.peak_rss_mb,
    flood_rss_ratio: r.rss_ratio,
    flood_poll_slip_ms_p99: r.poll_slip_ms_p99,
    flood_poll_slip_ms_max: r.poll_slip_ms_max,
    flood_poll_ticks_missed: r.poll_ticks_missed,
    flood_sensor_lost: r.sensor_sent - r.sensor_arrived,
    flood_http_failed: r.http_failed,
    flood_http_ms_p99: r.http_ms_p99,
    flood_seconds: r.seconds,
  };
  for (const [name, p] of Object.entries(r.phases)) {
    out[`flood_${name}_peak_rss_mb`] = p.peak_rss_mb;
    out[`flood_${name}_poll_slip_ms_max`] = p.poll_slip_ms_max;
  }
  return out;
}

export function floodChecks(num: (k: string) => number): Check[] {
  const phases = ['oversized', 'retained', 'connections', 'subscriptions', 'rate', 'slowloris'];
  return [
    atMost('flood_peak_rss_mb', num('flood_peak_rss_mb'), 2 * num('flood_idle_rss_mb'), 'MB', `2 × idle ${fmt(num('flood_idle_rss_mb'))} MB; by attack ${phases.map((p) => `${p} ${fmt(num(`flood_${p}_peak_rss_mb`))}`).join(', ')}`),
    info('flood_poll_slip_ms_max', num('flood_poll_slip_ms_max'), 'ms', `p99 ${fmt(num('flood_poll_slip_ms_p99'))} ms, polled every 1 s`),
    equalTo('flood_poll_ticks_missed', num('flood_poll_ticks_missed'), 0, '', 'every tick polled'),
    equalTo('flood_sensor_lost', num('flood_sensor_lost'), 0, '', 'well-behaved sensor, QoS 1 every 100 ms'),
    equalTo('flood_http_failed', num('flood_http_failed'), 0, '', `/status and /history during slowloris, p99 ${fmt(num('flood_http_ms_p99'))} ms`),
  ];
}
