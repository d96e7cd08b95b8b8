/**
 * A real Prometheus-style scraper: Debian's VictoriaMetrics with `-promscrape.config`, scraping
 * one target every second (with a bearer token if given). It also takes InfluxDB writes, so one
 * process can be both an agent's sink and its monitoring.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, VICTORIA_BIN } from './victoria.js';

export class PromScraper {
  private output = '';

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly child: ChildProcess,
  ) {
    const keep = (b: Buffer) => (this.output = (this.output + b.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Scrapes `target` (host:port) at /metrics every second, as job `edge`. */
  static async start(target: string, token?: string): Promise<PromScraper> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-scraper-'));
    const auth = token === undefined ? '' : `\n    authorization: { credentials: ${JSON.stringify(token)} }`;
    fs.writeFileSync(
      path.join(dir, 'scrape.yaml'),
      `scrape_configs:
  - job_name: edge
    scrape_interval: 1s
    metrics_path: /metrics${auth}
    static_configs: [ { targets: [ ${JSON.stringify(target)} ] } ]
`,
    );
    const port = await freePort();
    const child = spawn(
      VICTORIA_BIN,
      [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${path.join(dir, 'data')}`, `-promscrape.config=${path.join(dir, 'scrape.yaml')}`, '-loggerLevel=ERROR',
        // Instant queries would skip the last 30 s by default; the samples are fresh here.
        '-search.latencyOffset=0s', '-search.disableCache'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const scraper = new PromScraper(port, dir, child);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`victoria-metrics exited at start:\n${scraper.output}`);
      try {
        if ((await fetch(`${scraper.url}/health`)).ok) return scraper;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`victoria-metrics did not become healthy:\n${scraper.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** An instant query; the samples' values by their labels. */
  async query(expr: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
    await fetch(`${this.url}/internal/force_flush`);
    const res = await fetch(`${this.url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    if (!res.ok) throw new Error(`query failed: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** Waits until `expr` returns a sample for which `ok` holds. */
  async waitFor(expr: string, ok: (value: number) => boolean, timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = (await this.query(expr)).find((s) => ok(s.value));
      if (found !== undefined) return found.value;
      if (Date.now() > deadline) throw new Error(`no sample of ${expr} passed the check within ${timeoutMs} ms; scraper output:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async remove(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
