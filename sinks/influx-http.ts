/**
 * One InfluxDB v2 write request (`POST /api/v2/write`), on Node's http(s) with a kept-alive agent.
 * No retries, no queue: a resolved promise means the server answered 2xx for this body, anything
 * else rejects with what happened (InfluxHttpError, InfluxTimeoutError or the socket's error),
 * for the sink to classify.
 *
 * Bodies are gzipped synchronously: a hundred lines take a few tens of microseconds, far less
 * than the stream, callback and thread-pool round trip of async zlib; a 5000-line catch-up batch
 * takes a few milliseconds, a pause the polls do not notice.
 */
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';

/** The server answered with a status outside 2xx. Fields named as the client library's HttpError, so one classifier reads both. */
export class InfluxHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: string,
    readonly headers: http.IncomingHttpHeaders,
  ) {
    super(`HTTP ${statusCode}${body === '' ? '' : ` ${body}`}`);
    this.name = 'InfluxHttpError';
  }
}

/** No byte from the server for the request's timeout. */
export class InfluxTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'InfluxTimeoutError';
  }
}

export interface WriteTarget {
  url: URL;
  org: string;
  bucket: string;
  token: string;
  agent: http.Agent;
  timeoutMs: number;
  gzipThreshold: number;
}

/** Error bodies are read up to this many bytes: enough for the server's message, never a flood. */
const MAX_ERROR_BODY = 16_384;

export function writePath(t: Pick<WriteTarget, 'url' | 'org' | 'bucket'>): string {
  const base = t.url.pathname.replace(/\/+$/, '');
  return `${base}/api/v2/write?${new URLSearchParams({ org: t.org, bucket: t.bucket, precision: 'ms' }).toString()}`;
}

export function postLines(t: WriteTarget, path: string, body: string): Promise<void> {
  let data = Buffer.from(body, 'utf8');
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/plain; charset=utf-8' };
  if (data.length > t.gzipThreshold) {
    data = zlib.gzipSync(data);
    headers['content-encoding'] = 'gzip';
  }
  headers['content-length'] = data.length;
  if (t.token !== '') headers.authorization = `Token ${t.token}`;
  const request = t.url.protocol === 'https:' ? https.request : http.request;
  return new Promise<void>((resolve, reject) => {
    const req = request({ protocol: t.url.protocol, hostname: t.url.hostname, port: t.url.port, path, method: 'POST', headers, agent: t.agent }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        // Drain so the socket goes back to the pool.
        res.resume();
        res.once('end', resolve);
        res.once('error', reject);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < MAX_ERROR_BODY) chunks.push(c);
        size += c.length;
      });
      res.once('end', () => reject(new InfluxHttpError(status, Buffer.concat(chunks).toString('utf8', 0, MAX_ERROR_BODY), res.headers)));
      res.once('error', reject);
    });
    req.setTimeout(t.timeoutMs, () => req.destroy(new InfluxTimeoutError(t.timeoutMs)));
    req.once('error', reject);
    req.end(data);
  });
}
