/**
 * A minimal Language Server Protocol client over stdio: the JSON-RPC framing an editor speaks
 * (`Content-Length` headers), requests with ids, and the notifications a server pushes. It runs
 * a real language server as a child process, so a test sees what VS Code, Neovim or a JetBrains
 * IDE would see. Every wait has a deadline; `stop()` shuts the server down and kills it if it
 * does not go.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface LspMessage {
  jsonrpc: '2.0';
  id?: number | string | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string };
}

type Waiter = { match: (m: LspMessage) => boolean; resolve: (m: LspMessage) => void };

export class LspClient {
  private readonly child: ChildProcess;
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly seen: LspMessage[] = [];
  private waiters: Waiter[] = [];
  private stderr = '';

  constructor(command: string, args: string[], private readonly timeoutMs = 15_000) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  /** Sends a request and resolves with its result; a JSON-RPC error or the deadline rejects. */
  async request(method: string, params: unknown): Promise<unknown> {
    const id = this.nextId++;
    this.write({ jsonrpc: '2.0', id, method, params });
    const reply = await this.waitFor((m) => m.id === id && m.method === undefined, `the reply to ${method}`);
    if (reply.error) throw new Error(`${method} failed: ${reply.error.message}`);
    return reply.result;
  }

  notify(method: string, params: unknown): void {
    this.write({ jsonrpc: '2.0', method, params });
  }

  /** The first message (already received or still to come) that `match` accepts. */
  waitFor(match: (m: LspMessage) => boolean, what: string): Promise<LspMessage> {
    const earlier = this.seen.find(match);
    if (earlier) return Promise.resolve(earlier);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { match, resolve: (m) => (clearTimeout(timer), resolve(m)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no ${what} from the language server within ${this.timeoutMs} ms; stderr: ${this.stderr.slice(-2000)}`));
      }, this.timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Polite shutdown (shutdown request, exit notification), then SIGKILL if it is still there. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      await Promise.race([this.request('shutdown', null), delay(2_000)]);
      this.notify('exit', null);
    } catch {
      // a server that cannot shut down politely is killed below
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  }

  private write(message: LspMessage): void {
    const body = Buffer.from(JSON.stringify(message), 'utf8');
    this.child.stdin?.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]));
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const length = /Content-Length: *(\d+)/i.exec(this.buffer.subarray(0, headerEnd).toString('ascii'))?.[1];
      if (length === undefined) throw new Error(`language server sent a frame without Content-Length: ${this.buffer.toString()}`);
      const start = headerEnd + 4;
      const end = start + Number(length);
      if (this.buffer.length < end) return;
      const message = JSON.parse(this.buffer.subarray(start, end).toString('utf8')) as LspMessage;
      this.buffer = this.buffer.subarray(end);
      this.dispatch(message);
    }
  }

  private dispatch(message: LspMessage): void {
    // A request from the server (it has both an id and a method) gets an empty answer, as an
    // editor that does not implement it would give, so the server never waits on us.
    if (message.method !== undefined && message.id !== undefined && message.id !== null) {
      this.write({ jsonrpc: '2.0', id: message.id, result: null });
    }
    this.seen.push(message);
    for (const w of this.waiters.filter((x) => x.match(message))) {
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve(message);
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
