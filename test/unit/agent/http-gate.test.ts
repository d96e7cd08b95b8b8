/**
 * ConnectionGate (agent/ops/http-limits.ts) on a real node:http server and real sockets, with a
 * handler that holds its answers until the test lets them go: at the cap, a newcomer is refused
 * (`full`) only while every slot serves a request; otherwise the oldest socket without a request
 * in progress makes room — one that never sent a whole request before an idle keep-alive one.
 */
import http, { type ServerResponse } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionGate, HTTP_LIMIT_DEFAULTS, type HttpStats } from '../../../agent/ops/http-limits.js';

interface Rig {
  port: number;
  gate: ConnectionGate;
  held: ServerResponse[];
  refusals: Array<keyof HttpStats['refused']>;
  close(): Promise<void>;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

async function rig(maxConnections: number): Promise<Rig> {
  const server = http.createServer();
  const held: ServerResponse[] = [];
  const refusals: Array<keyof HttpStats['refused']> = [];
  const gate = new ConnectionGate(server, { ...HTTP_LIMIT_DEFAULTS, maxConnections }, (reason) => refusals.push(reason));
  // The gate's own 'request' listener runs first (it was added first); this one holds the answer.
  server.on('request', (_req, res: ServerResponse) => held.push(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const r: Rig = {
    port: (server.address() as AddressInfo).port,
    gate,
    held,
    refusals,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  rigs.push(r);
  return r;
}

interface Client {
  socket: net.Socket;
  got: () => string;
  closed: Promise<void>;
}

async function connect(port: number, text: string): Promise<Client> {
  const socket = net.connect(port, '127.0.0.1');
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString()));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  if (text !== '') socket.write(text);
  return { socket, got: () => got, closed };
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
}

const GET = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';

describe('ConnectionGate at the connection cap', () => {
  it('refuses a newcomer (full) while every slot serves a request, and lets the served ones finish', async () => {
    const r = await rig(2);
    const a = await connect(r.port, GET);
    const b = await connect(r.port, GET);
    await until('both requests in the handler', () => r.held.length === 2);

    const c = await connect(r.port, GET);
    await c.closed;
    expect(c.got()).toBe('');
    expect(r.gate.stats.refused).toMatchObject({ full: 1, evicted: 0 });
    expect(r.refusals).toEqual(['full']);
    expect(r.gate.stats.connections).toBe(3);

    // Neither request in progress was cut off for the newcomer.
    for (const res of r.held) res.end('ok');
    await until('both answers', () => a.got().includes('200 OK') && b.got().includes('200 OK'));
    expect(a.socket.destroyed || b.socket.destroyed).toBe(false);
  });

  it('at the cap closes a socket that never sent a whole request before an idle keep-alive one', async () => {
    const r = await rig(2);
    const keepAlive = await connect(r.port, GET);
    await until('the first request', () => r.held.length === 1);
    r.held[0]?.end('ok');
    await until('its answer', () => keepAlive.got().includes('200 OK'));
    const slow = await connect(r.port, 'GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ');
    await new Promise((resolve) => setTimeout(resolve, 50));

    const newcomer = await connect(r.port, GET);
    await slow.closed;
    expect(slow.got()).toBe('');
    await until('the newcomer in the handler', () => r.held.length === 2);
    expect(keepAlive.socket.destroyed).toBe(false);
    expect(r.gate.stats.refused).toMatchObject({ evicted: 1, full: 0 });

    // Next: the keep-alive socket is the only one without a request in progress, so it goes.
    const third = await connect(r.port, GET);
    await keepAlive.closed;
    await until('the third in the handler', () => r.held.length === 3);
    expect(r.gate.stats.refused).toMatchObject({ evicted: 2, full: 0 });
    expect(r.refusals).toEqual(['evicted', 'evicted']);
    for (const res of r.held.slice(1)) res.end('ok');
    await until('both answers', () => newcomer.got().includes('200 OK') && third.got().includes('200 OK'));
  });
});
