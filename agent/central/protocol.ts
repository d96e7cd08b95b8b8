// Room agent/central: the ops link over MQTT (config push, commands, reports); may import config and the running rooms, never commands or agent.ts.
/**
 * The ops protocol on the wire: topics under `<prefix>/<gateway>/`, the reply envelope, the
 * error codes, and a zod schema for every request payload. MQTT 3.1.1 has no correlation data, so
 * a request's `transaction` is echoed in its reply.
 */
import { z } from 'zod';
import { fromZod } from '../../config/issues.js';
import type { ConfigIssue } from '../../config/types.js';

export const COMMANDS = ['config/get', 'config/validate', 'config/set', 'restart', 'alerts/ack', 'points/read', 'buffer/stats'] as const;
export type Command = (typeof COMMANDS)[number];

/** Stable codes in replies and logs. */
export const Codes = {
  requestInvalid: 'EDGE_REQUEST_INVALID',
  commandUnknown: 'EDGE_COMMAND_UNKNOWN',
  configInvalid: 'EDGE_CONFIG_INVALID',
  unsigned: 'EDGE_CONFIG_UNSIGNED',
  badSignature: 'EDGE_CONFIG_SIGNATURE_INVALID',
  noKey: 'EDGE_CONFIG_NO_KEY',
  revStale: 'EDGE_CONFIG_REV_STALE',
  expired: 'EDGE_CONFIG_EXPIRED',
  revCurrent: 'EDGE_CONFIG_REV_CURRENT',
  wrongGateway: 'EDGE_CONFIG_WRONG_GATEWAY',
  rolledBack: 'EDGE_CONFIG_ROLLED_BACK',
  persistFailed: 'EDGE_CONFIG_PERSIST_FAILED',
  /** The agent's buffer is not open: it is starting or stopping. */
  notRunning: 'EDGE_AGENT_NOT_RUNNING',
  deviceUnknown: 'EDGE_DEVICE_UNKNOWN',
  pointUnknown: 'EDGE_POINT_UNKNOWN',
  internal: 'EDGE_INTERNAL',
} as const;

export interface Topics {
  state: string;
  info: string;
  health: string;
  /** `<prefix>/<gateway>/request/#` */
  requests: string;
  response(command: string): string;
  /** The command of a request topic, or undefined when the topic is not one. */
  commandOf(topic: string): string | undefined;
}

export function topicsFor(prefix: string, gateway: string): Topics {
  const base = `${prefix}/${gateway}`;
  const requestBase = `${base}/request/`;
  return {
    state: `${base}/state`,
    info: `${base}/info`,
    health: `${base}/health`,
    requests: `${requestBase}#`,
    response: (command) => `${base}/response/${command}`,
    commandOf: (topic) => (topic.startsWith(requestBase) ? topic.slice(requestBase.length) : undefined),
  };
}

export type Transaction = string | number | null;

export interface Envelope {
  status: 'ok' | 'error';
  data: unknown;
  error: string | null;
  code: string | null;
  transaction: Transaction;
}

export function ok(data: unknown, transaction: Transaction): Envelope {
  return { status: 'ok', data, error: null, code: null, transaction };
}

/** An error the handlers throw; becomes an error envelope with its code and data (issues, failures). */
export class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly data: unknown = {},
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

export function failed(err: unknown, transaction: Transaction): Envelope {
  if (err instanceof CommandError) return { status: 'error', data: err.data, error: err.message, code: err.code, transaction };
  return { status: 'error', data: {}, error: (err as Error).message ?? String(err), code: Codes.internal, transaction };
}

const transaction = z.union([z.string().max(200), z.number()]).optional();
const mapping = z.record(z.string(), z.unknown());

export const requestSchemas = {
  'config/get': z.strictObject({ transaction }),
  'config/validate': z.strictObject({ transaction, config: mapping }),
  'config/set': z.strictObject({
    transaction,
    rev: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    config: mapping,
    gateway: z.string().min(1).optional(),
    /** ISO 8601 time with a zone (`config sign --expires`); inside the signature. */
    expires: z.iso.datetime({ offset: true }).optional(),
    signature: z.string().min(1).optional(),
  }),
  restart: z.strictObject({ transaction }),
  'alerts/ack': z.strictObject({ transaction, id: z.string().min(1), by: z.string().min(1).max(200) }),
  'points/read': z.strictObject({ transaction, device: z.string().min(1), points: z.array(z.string().min(1)).min(1).optional() }),
  'buffer/stats': z.strictObject({ transaction }),
} satisfies Record<Command, z.ZodType>;

export type RequestOf<C extends Command> = z.infer<(typeof requestSchemas)[C]>;

/** The transaction of a payload that failed validation, so even a refusal can be correlated. */
export function transactionOf(payload: unknown): Transaction {
  if (typeof payload !== 'object' || payload === null) return null;
  const t = (payload as { transaction?: unknown }).transaction;
  return typeof t === 'string' || typeof t === 'number' ? t : null;
}

/** Parses and validates one request; throws CommandError with the issues at their paths. */
export function parseRequest<C extends Command>(command: C, payload: Buffer): RequestOf<C> {
  let body: unknown;
  const text = payload.toString('utf8');
  try {
    // An empty payload is a request without arguments (`mosquitto_pub -n`).
    body = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new CommandError(Codes.requestInvalid, `request payload is not JSON: ${(err as Error).message}`);
  }
  const parsed = requestSchemas[command].safeParse(body);
  if (!parsed.success) {
    const issues: ConfigIssue[] = fromZod(parsed.error);
    throw new CommandError(Codes.requestInvalid, `invalid ${command} request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
  }
  return parsed.data as RequestOf<C>;
}

export function isCommand(command: string): command is Command {
  return (COMMANDS as readonly string[]).includes(command);
}
