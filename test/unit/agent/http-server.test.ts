/**
 * The HTTP server's answers that a running agent does not show by itself: /ready before the
 * drivers run, /health during a stall, methods and paths it does not serve. The agent is a
 * plain view here; test/integration/http-endpoints.test.ts runs the real one.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpServer } from '../../../agent/ops/http.js';
import type { AgentPhase, AgentView } from '../../../agent/ops/status.js';
import { noAlerts } from '../../../agent/ops/status.js';
import { ProgressMonitor } from '../../../agent/ops/watchdog.js';
import type { BufferStats } from '../../../buffer/types.js';
import { loadConfig } from '../../../config/index.js';
import type { AgentConfig } from '../../../config/types.js';

// A real config from the loader, so the view never drifts from what the agent serves.
const config: AgentConfig = loadConfig({ text: 'gateway: { id: gw-u }\nbuffer: { path: ":memory:" }\nlog: { level: silent }\n', format: 'yaml', env: {} });

let server: HttpServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function serve(phase: AgentPhase, opts: { bufferOpen: boolean; hung?: boolean; token?: string }): Promise<string> {
  const view: AgentView = {
    config,
    phase,
    runners: new Map(),
    forwarders: [],
    pipeline: { latest: new Map(), stats: { readings: 0, bad: 0, emitted: 0, suppressed: 0, appendErrors: 0 } },
    alerts: noAlerts,
    deliveryCounters: () => undefined,
    bufferStats: () => (opts.bufferOpen ? ({ rows: 0, bytes: 4096, lastSeq: 0, held: 0, dropped: 0, sinks: {} } as unknown as BufferStats) : undefined),
  };
  let t = 0;
  const monitor = new ProgressMonitor({
    sources: { polls: () => (opts.hung ? [{ device: 'pump-1', inFlight: '1@0' }] : []), deliveries: () => [] },
    pollStallMs: 1000,
    deliveryStallMs: 1000,
    now: () => (t += 2000),
  });
  server = new HttpServer({ host: '127.0.0.1', port: 0, token: opts.token ?? '', view, monitor, version: '0.0.0-test', logger: pino({ level: 'silent' }) });
  await server.start();
  return `http://127.0.0.1:${server.address()?.port}`;
}

describe('HttpServer', () => {
  it('is not ready before the drivers run or while the buffer is closed', async () => {
    const url = await serve('starting', { bufferOpen: false });
    const res = await fetch(`${url}/ready`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ready: false, checks: { config: true, buffer: false, drivers: false } });
  });

  it('answers /health with 503 and the stalled loop while a poll hangs (details only with the token)', async () => {
    const url = await serve('running', { bufferOpen: true, hung: true, token: 's3cret' });
    await fetch(`${url}/health`); // first sighting of the poll
    const anonymous = await fetch(`${url}/health`);
    expect(anonymous.status).toBe(503);
    expect(await anonymous.json()).toEqual({ status: 'stalled' });
    const res = await fetch(`${url}/health`, { headers: { Authorization: 'Bearer s3cret' } });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'stalled', stalled: [{ loop: 'poll', subject: 'pump-1' }], detail: expect.stringMatching(/^poll of pump-1 in flight/) as unknown });
  });

  it('serves GET and HEAD only, and says 404 for what it does not have', async () => {
    const url = await serve('running', { bufferOpen: true });
    const post = await fetch(`${url}/status`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    await post.body?.cancel();
    const head = await fetch(`${url}/status`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const missing = await fetch(`${url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not found', code: 'EDGE_HTTP_NOT_FOUND' });
    const script = await fetch(`${url}/app.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    await script.body?.cancel();
  });
});
