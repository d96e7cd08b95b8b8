/**
 * The http limits on a real agent's HTTP server with raw sockets as the clients: headers too
 * large (431), a URL too long (414), headers that never finish (408 once headersTimeout is
 * past), and slow clients holding every connection slot — the status page still answers,
 * because the oldest slow one is closed to make room. Each refusal is counted on /status.
 */
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/ops/status.js';
import { startHttpAgent, type HttpAgent } from '../helpers/http-agent.js';

let running: HttpAgent;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-http-limits-'));
  running = await startHttpAgent(`
gateway: { id: gw-limits }
buffer: { path: ${join(dir, 'b.db')} }
http: { host: 127.0.0.1, port: 0, maxConnections: 4, maxHeaderSize: 1024, maxUrlLength: 100, headersTimeout: 1s, requestTimeout: 2s }
`);
});

afterAll(async () => {
  await running?.stop();
});

/** Sends `text` on a raw socket; resolves with everything the server said before it closed. */
function raw(text: string): { socket: net.Socket; reply: Promise<string> } {
  const { port } = new URL(running.url);
  const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(text));
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString()));
  socket.on('error', () => {});
  return { socket, reply: new Promise((resolve) => socket.once('close', () => resolve(got))) };
}

async function refused(): Promise<NonNullable<AgentStatus['http']>['refused']> {
  const status = (await (await fetch(`${running.url}/status`)).json()) as AgentStatus;
  if (status.http === undefined) throw new Error('no http figures in /status');
  return status.http.refused;
}

describe('http limits', () => {
  it('answers 431 to headers over maxHeaderSize and 414 to a URL over maxUrlLength', async () => {
    const big = raw(`GET /status HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(2000)}\r\n\r\n`);
    expect(await big.reply).toMatch(/^HTTP\/1\.1 431 /);
    const res = await fetch(`${running.url}/status?${'q'.repeat(200)}`);
    expect(res.status).toBe(414);
    expect((await res.json()) as { code: string }).toMatchObject({ code: 'EDGE_HTTP_URL_TOO_LONG' });
    expect(await refused()).toMatchObject({ headerTooLarge: 1, urlTooLong: 1 });
  });

  it('ends headers that never finish with 408 once headersTimeout has passed', async () => {
    const slow = raw('GET /status HTTP/1.1\r\nHost: a\r\nX-Slow: ');
    const dribble = setInterval(() => slow.socket.writable && slow.socket.write('a'), 200);
    try {
      expect(await slow.reply).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(dribble);
    }
    expect((await refused()).timeout).toBeGreaterThanOrEqual(1);
  });

  it('ends a request whose body dribbles on past requestTimeout', async () => {
    const before = (await refused()).timeout;
    // Headers complete at once (headersTimeout is no help), then a body a byte every 200 ms.
    const slow = raw('GET /health HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n');
    const dribble = setInterval(() => slow.socket.writable && slow.socket.write('a'), 200);
    const t0 = Date.now();
    try {
      expect(await slow.reply).toMatch(/HTTP\/1\.1 408 /);
    } finally {
      clearInterval(dribble);
    }
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
    expect((await refused()).timeout).toBe(before + 1);
  });

  it('closes the oldest slow connection when every slot is taken, so the status page still answers', async () => {
    const before = (await refused()).evicted;
    const slow = Array.from({ length: 4 }, () => raw('GET /status HTTP/1.1\r\nHost: a\r\nX-Slow: '));
    await new Promise((r) => setTimeout(r, 200));
    const res = await fetch(`${running.url}/status`);
    expect(res.status).toBe(200);
    // The first slow client is the one that made room (its socket is closed, with no answer).
    expect(await slow[0]?.reply).toBe('');
    const after = await refused();
    expect(after.evicted).toBeGreaterThan(before);
    expect(after.full).toBe(0);
    for (const s of slow) s.socket.destroy();
  });

  it('logs each kind of refusal as EDGE_HTTP_LIMIT with the client address, at most once a minute per reason', () => {
    const warnings = running.logs.filter((l) => l.code === 'EDGE_HTTP_LIMIT');
    const reasons = warnings.map((w) => w.reason as string);
    expect(new Set(reasons).size).toBe(reasons.length);
    expect(reasons.sort()).toEqual(['evicted', 'headerTooLarge', 'timeout', 'urlTooLong']);
    for (const w of warnings) expect(w).toMatchObject({ remote: '127.0.0.1' });
  });
});
