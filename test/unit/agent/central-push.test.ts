/**
 * The checks of a config push that do not need a broker: push expiry (`expires`, signed, and
 * `config sign --expires`), and the rolled-back record kept in stateDir so a rolled-back rev stays
 * refused after a restart. Real state files in a temp dir; the agent is a small stand-in that
 * records what it was asked to apply.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigPusher, type PushTarget } from '../../../agent/central/config-push.js';
import type { ApplyResult } from '../../../agent/central/come-up.js';
import { signCommand } from '../../../agent/commands/keys.js';
import { CommandError, parseRequest } from '../../../agent/central/protocol.js';
import type { Clock } from '../../../agent/clock.js';
import { checkDocument } from '../../../config/index.js';
import { ConfigState, ROLLED_BACK } from '../../../config/config-state.js';
import { generateSigningKeys, signContent, verifyContent } from '../../../config/signing.js';
import type { AgentConfig } from '../../../config/types.js';

const logger = pino({ level: 'silent' });
const keys = generateSigningKeys();
const priv = createPrivateKey(keys.privateKeyPem);
const pub = createPublicKey(keys.publicKeyPem);
const NOW = Date.parse('2025-06-01T12:00:00Z');
const clock: Clock = { now: () => NOW, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };

const doc = (devices: string[]) => ({
  gateway: { id: 'gw-1' },
  devices: devices.map((id) => ({ id, driver: 'modbus', connection: { protocol: 'tcp', host: '127.0.0.1', port: 502 }, every: '10s', points: { v: { register: 'holding', address: 0, type: 'uint16' } } })),
});

function config(document: unknown): AgentConfig {
  const r = checkDocument(document, { env: {} });
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return r.config;
}

/** Applies what it is given; a config with a device named `broken` does not come up. */
class Target implements PushTarget {
  applied: Array<{ devices: string[]; check: boolean }> = [];
  constructor(public config: AgentConfig) {}
  applyConfig(next: AgentConfig, opts: { timeoutMs: number; check: boolean }): Promise<ApplyResult> {
    const devices = next.devices.map((d) => d.id);
    this.applied.push({ devices, check: opts.check });
    this.config = next;
    const failures = opts.check && devices.includes('broken') ? [{ subject: 'devices.broken', code: 'EDGE_DEVICE_TIMEOUT', error: 'no answer' }] : [];
    return Promise.resolve({ added: [], removed: [], changed: [], sinks: [], restartRequired: [], failures });
  }
}

function request(body: Record<string, unknown>) {
  return parseRequest('config/set', Buffer.from(JSON.stringify(body)));
}

function signed(rev: number, document: Record<string, unknown>, expires?: string) {
  return request({ rev, config: document, ...(expires === undefined ? {} : { expires }), signature: signContent(priv, { rev, config: document, expires }) });
}

async function refusal(p: Promise<unknown>): Promise<CommandError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CommandError)) throw new Error(`expected a CommandError, got ${String(err)}`);
  return err;
}

let dir: string;
let state: ConfigState;

function pusher(target: Target, rev = 0): ConfigPusher {
  return new ConfigPusher({
    target,
    running: { rev, origin: 'file', document: doc(['pump-1']), localCentral: undefined },
    state,
    env: {},
    publicKey: pub,
    allowUnsigned: false,
    applyTimeoutMs: 1000,
    clock,
    logger,
    onChange: () => {},
  });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edge-push-'));
  state = new ConfigState(join(dir, 'state'));
});

describe('push expiry', () => {
  it('applies a push before it expires, and one without expires', async () => {
    const target = new Target(config(doc(['pump-1'])));
    const p = pusher(target);
    await expect(p.set(signed(1, doc(['pump-1', 'pump-2']), '2025-06-01T12:00:01Z'))).resolves.toMatchObject({ rev: 1 });
    await expect(p.set(signed(2, doc(['pump-1'])))).resolves.toMatchObject({ rev: 2 });
    expect(p.rev).toBe(2);
  });

  it('refuses an expired push with EDGE_CONFIG_EXPIRED before anything changes, and the rev is not used up', async () => {
    const target = new Target(config(doc(['pump-1'])));
    const p = pusher(target);
    const err = await refusal(p.set(signed(1, doc(['pump-1', 'pump-2']), '2025-06-01T12:00:00Z')));
    expect(err.code).toBe('EDGE_CONFIG_EXPIRED');
    expect(err.message).toMatch(/expired at 2025-06-01T12:00:00Z/);
    expect(err.data).toEqual({ expires: '2025-06-01T12:00:00Z', now: '2025-06-01T12:00:00.000Z' });
    // An offset other than Z is understood as such: 13:59:59+02:00 is before noon UTC.
    expect((await refusal(p.set(signed(1, doc(['pump-2']), '2025-06-01T13:59:59+02:00')))).code).toBe('EDGE_CONFIG_EXPIRED');
    expect(target.applied).toEqual([]);
    expect(state.pending()).toBeUndefined();
    expect(p.rev).toBe(0);
    // The same rev, signed again with a later expiry, is applied.
    await expect(p.set(signed(1, doc(['pump-1', 'pump-2']), '2025-06-02T00:00:00Z'))).resolves.toMatchObject({ rev: 1 });
  });

  it('expires is signed: moving it later breaks the signature; a malformed one is an invalid request', async () => {
    const p = pusher(new Target(config(doc(['pump-1']))));
    const old = signed(1, doc(['pump-1']), '2025-05-01T00:00:00Z');
    expect((await refusal(p.set({ ...old, expires: '2030-01-01T00:00:00Z' }))).code).toBe('EDGE_CONFIG_SIGNATURE_INVALID');
    const { expires: _dropped, ...without } = old;
    expect((await refusal(p.set(without))).code).toBe('EDGE_CONFIG_SIGNATURE_INVALID');
    expect(() => request({ rev: 1, config: doc([]), expires: 'next tuesday' })).toThrow(expect.objectContaining({ code: 'EDGE_REQUEST_INVALID' }));
    expect(() => request({ rev: 1, config: doc([]), expires: '2025-06-01T12:00:00' })).toThrow(expect.objectContaining({ code: 'EDGE_REQUEST_INVALID' }));
  });

  it('config sign --expires signs an ISO time that far from now', () => {
    writeFileSync(join(dir, 'k.key'), keys.privateKeyPem);
    writeFileSync(join(dir, 'gw.json'), JSON.stringify(doc(['pump-1'])));
    const out: string[] = [];
    const err: string[] = [];
    const base = { key: join(dir, 'k.key'), rev: '3', file: join(dir, 'gw.json'), now: () => NOW };
    expect(signCommand({ ...base, expires: '7d' }, (l) => out.push(l), (l) => err.push(l))).toBe(0);
    const payload = JSON.parse(out[0] as string) as { rev: number; expires: string; config: unknown; signature: string };
    expect(payload.expires).toBe('2025-06-08T12:00:00.000Z');
    expect(verifyContent(pub, { rev: 3, config: payload.config, expires: payload.expires }, payload.signature)).toBe(true);
    expect(verifyContent(pub, { rev: 3, config: payload.config }, payload.signature)).toBe(false);
    // Without --expires, no expires field (and the push never expires).
    out.length = 0;
    expect(signCommand(base, (l) => out.push(l), (l) => err.push(l))).toBe(0);
    expect(JSON.parse(out[0] as string)).not.toHaveProperty('expires');
    expect(signCommand({ ...base, expires: 'soon' }, () => {}, (l) => err.push(l))).toBe(2);
    expect(signCommand({ ...base, expires: '0s' }, () => {}, (l) => err.push(l))).toBe(2);
    expect(err.join('\n')).toMatch(/--expires takes a duration/);
  });
});

describe('rolled-back revisions', () => {
  it('are recorded in stateDir, so a replay is refused after a restart too', async () => {
    const first = new Target(config(doc(['pump-1'])));
    const before = pusher(first);
    const broken = signed(2, doc(['pump-1', 'broken']));
    expect((await refusal(before.set(broken))).code).toBe('EDGE_CONFIG_ROLLED_BACK');
    expect(first.config.devices.map((d) => d.id)).toEqual(['pump-1']);
    expect(JSON.parse(readFileSync(join(state.dir, ROLLED_BACK), 'utf8'))).toMatchObject({ rev: 2, reason: 'the new config did not come up', failures: [{ subject: 'devices.broken' }] });
    expect(existsSync(join(state.dir, 'pending.json'))).toBe(false);

    // "Restart": a new pusher on the same state dir, running the same rev as before.
    const again = new Target(config(doc(['pump-1'])));
    const after = pusher(again);
    expect(after.lastApply).toMatchObject({ rev: 2, outcome: 'rolled-back', reason: 'the new config did not come up' });
    const replay = await refusal(after.set(broken));
    expect(replay.code).toBe('EDGE_CONFIG_REV_STALE');
    expect(replay.message).toMatch(/rev 2 was rolled back/);
    expect(again.applied).toEqual([]);
    // A higher rev goes through, and the floor stays where it was.
    await expect(after.set(signed(3, doc(['pump-1', 'pump-2'])))).resolves.toMatchObject({ rev: 3 });
    expect(state.rolledBack()?.rev).toBe(2);
  });

  it('keeps the highest rolled-back rev and says nothing about it once a newer config runs', async () => {
    state.recordRolledBack({ rev: 7, at: 1, reason: 'first', failures: [] });
    state.recordRolledBack({ rev: 5, at: 2, reason: 'older', failures: [] });
    expect(state.rolledBack()).toMatchObject({ rev: 7, reason: 'first' });
    const p = pusher(new Target(config(doc(['pump-1']))), 8);
    expect(p.lastApply).toBeNull();
  });
});
