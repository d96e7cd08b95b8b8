/**
 * A real agent in this process with its HTTP server on a free port (http.port 0), for the HTTP
 * and status-page tests. Its log lines are kept, and the port is read from "http listening".
 */
import { Writable } from 'node:stream';
import { Agent, type AgentOptions } from '../../agent/agent.js';
import { createLogger } from '../../agent/logger.js';
import { loadConfig } from '../../config/index.js';

export interface HttpAgent {
  agent: Agent;
  /** `http://127.0.0.1:PORT` */
  url: string;
  logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

export interface HttpAgentOptions extends Partial<Omit<AgentOptions, 'config' | 'logger'>> {
  env?: Record<string, string>;
  /** Called before start (e.g. to give the agent an alert source). */
  setup?: (agent: Agent) => void;
  /** false: the server may fail to listen (url is then ''). Default true. */
  expectListening?: boolean;
}

export async function startHttpAgent(configYaml: string, opts: HttpAgentOptions = {}): Promise<HttpAgent> {
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ level: (process.env.TEST_LOG_LEVEL as 'info' | undefined) ?? 'info', destination });
  const config = loadConfig({ text: configYaml, format: 'yaml', env: opts.env ?? {} });
  const { env: _env, setup, expectListening = true, ...rest } = opts;
  const agent = new Agent({ config, logger, http: true, forwarder: { idleMs: 100, backoff: { initialMs: 100, maxMs: 500 } }, stopGraceMs: 2000, ...rest });
  setup?.(agent);
  await agent.start();
  // pino writes to the stream synchronously; give the Writable a turn to take the lines.
  await new Promise((r) => setImmediate(r));
  const listening = logs.find((l) => l.msg === 'http listening');
  if (listening === undefined) {
    if (!expectListening) return { agent, url: '', logs, stop: () => agent.stop() };
    await agent.stop();
    throw new Error(`the agent's HTTP server did not listen:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`);
  }
  return { agent, url: `http://127.0.0.1:${String(listening.port)}`, logs, stop: () => agent.stop() };
}
