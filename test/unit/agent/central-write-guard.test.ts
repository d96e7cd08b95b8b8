/**
 * The guard in front of central writes (agent/central/write-request.ts) with real Ed25519 keys and
 * the nonce store in a real SQLite buffer file: every refusal code, and a replay refused after the
 * buffer is closed and opened again.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { checkWriteRequest, type WriteGuardOptions, type WriteVerdict } from '../../../agent/central/write-request.js';
import { commandKey } from '../../../agent/central/write-handler.js';
import { commandCommand } from '../../../agent/commands/sign-command.js';
import { SqliteBuffer } from '../../../buffer/sqlite-buffer.js';
import { NonceStore } from '../../../buffer/nonces.js';
import { signWriteCommand, writeCommandBytes, type WriteCommand } from '../../../config/command-signing.js';
import { generateSigningKeys, keyFingerprint } from '../../../config/signing.js';
import { doc, issues, ok } from '../config/helpers.js';

const NOW = Date.parse('2026-12-07T10:00:00.000Z');
const keys = generateSigningKeys();
const priv = createPrivateKey(keys.privateKeyPem);
const pub = createPublicKey(keys.publicKeyPem);
const other = createPrivateKey(generateSigningKeys().privateKeyPem);
const dir = mkdtempSync(join(tmpdir(), 'edge-write-guard-'));

let counter = 0;
const open: SqliteBuffer[] = [];
afterEach(() => {
  for (const b of open.splice(0)) b.close();
});

function buffer(file = join(dir, `b-${++counter}.db`)): SqliteBuffer {
  const b = new SqliteBuffer({ path: file, sinks: ['s'] });
  open.push(b);
  return b;
}

function command(over: Partial<WriteCommand> = {}): WriteCommand {
  return {
    gateway: 'gw-1',
    device: 'pump-1',
    point: 'setpoint',
    value: 42.5,
    by: 'maria',
    expires: new Date(NOW + 300_000).toISOString(),
    nonce: `nonce-${++counter}-abcdefghijkl`,
    ...over,
  };
}

function payload(c: WriteCommand, extra: Record<string, unknown> = {}, key = priv): Buffer {
  return Buffer.from(JSON.stringify({ ...c, signature: signWriteCommand(key, c), transaction: 't-1', ...extra }));
}

function guard(b: SqliteBuffer, over: Partial<WriteGuardOptions> = {}): WriteGuardOptions {
  return { gateway: 'gw-1', allowWrites: true, key: { key: pub, fingerprint: keyFingerprint(pub) }, maxExpiryMs: 900_000, nonces: b.nonces, now: () => NOW, ...over };
}

function refusal(v: WriteVerdict): string {
  if (v.ok) expect.fail('expected a refusal, the write passed');
  return v.code;
}

describe('central write guard', () => {
  it('passes a signed write once, naming the signer and the command for the audit', () => {
    const b = buffer();
    const c = command();
    const v = checkWriteRequest(payload(c), guard(b));
    expect(v).toEqual({
      ok: true,
      transaction: 't-1',
      request: { device: 'pump-1', point: 'setpoint', value: 42.5, by: 'maria', origin: 'central', keyFingerprint: keyFingerprint(priv), requestId: c.nonce },
    });
    expect(keyFingerprint(priv)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(refusal(checkWriteRequest(payload(c), guard(b)))).toBe('EDGE_WRITE_REPLAYED');
  });

  it('signs a canonical form that covers every field, the value with its JSON type', () => {
    expect(writeCommandBytes(command({ nonce: 'n'.repeat(16), expires: '2026-12-07T10:05:00.000Z' })).toString()).toBe(
      '{"by":"maria","command":"points/write","device":"pump-1","expires":"2026-12-07T10:05:00.000Z","gateway":"gw-1","nonce":"nnnnnnnnnnnnnnnn","point":"setpoint","value":42.5}',
    );
  });

  it('refuses a tampered value, device, point, by, expires or gateway as a bad signature, and consumes no nonce', () => {
    const b = buffer();
    const c = command();
    const sig = signWriteCommand(priv, c);
    const tampered = (over: Record<string, unknown>) => Buffer.from(JSON.stringify({ ...c, signature: sig, ...over }));
    for (const over of [{ value: 99 }, { value: '42.5' }, { device: 'pump-2' }, { point: 'speed' }, { by: 'mallory' }, { expires: new Date(NOW + 600_000).toISOString() }]) {
      const v = checkWriteRequest(tampered(over), guard(b));
      expect(refusal(v), JSON.stringify(over)).toBe('EDGE_WRITE_BAD_SIGNATURE');
      // Not signed by the key: the audit names no signer, and no forged nonce is the command's id.
      expect(v.request.keyFingerprint).toBeUndefined();
      expect(v.request.requestId).toBeUndefined();
    }
    // Re-signed for another gateway: checked out, but not for this one.
    expect(refusal(checkWriteRequest(payload({ ...c, gateway: 'gw-2' }), guard(b)))).toBe('EDGE_WRITE_WRONG_GATEWAY');
    expect(refusal(checkWriteRequest(tampered({ gateway: 'gw-2' }), guard(b)))).toBe('EDGE_WRITE_BAD_SIGNATURE');
    // The real command still passes: the forgeries did not use up its nonce.
    expect(checkWriteRequest(payload(c), guard(b)).ok).toBe(true);
  });

  it('refuses an unsigned write, one signed with another key, and a signature that is not one', () => {
    const b = buffer();
    const c = command();
    const unsigned = checkWriteRequest(Buffer.from(JSON.stringify(c)), guard(b));
    expect(refusal(unsigned)).toBe('EDGE_WRITE_UNSIGNED');
    expect(unsigned.request).toMatchObject({ device: 'pump-1', point: 'setpoint', value: 42.5, by: 'maria', origin: 'central' });
    expect(refusal(checkWriteRequest(payload(c, {}, other), guard(b)))).toBe('EDGE_WRITE_BAD_SIGNATURE');
    expect(refusal(checkWriteRequest(payload(c, { signature: 'bm90IGEgc2lnbmF0dXJl' }), guard(b)))).toBe('EDGE_WRITE_BAD_SIGNATURE');
    expect(refusal(checkWriteRequest(payload(c), guard(b, { key: { error: 'central.commandKey /x.pub: cannot read' } })))).toBe('EDGE_WRITE_DISABLED');
  });

  it('refuses an expired write and one that expires further ahead than commandMaxExpiry', () => {
    const b = buffer();
    const past = checkWriteRequest(payload(command({ expires: new Date(NOW - 1).toISOString() })), guard(b));
    expect(refusal(past)).toBe('EDGE_WRITE_EXPIRED');
    expect(past.ok ? {} : past.data).toEqual({ expires: new Date(NOW - 1).toISOString(), now: new Date(NOW).toISOString() });
    expect(refusal(checkWriteRequest(payload(command({ expires: new Date(NOW).toISOString() })), guard(b)))).toBe('EDGE_WRITE_EXPIRED');
    const far = checkWriteRequest(payload(command({ expires: new Date(NOW + 900_001).toISOString() })), guard(b));
    expect(refusal(far)).toBe('EDGE_WRITE_EXPIRED');
    expect(far.ok ? '' : far.message).toMatch(/more than central.commandMaxExpiry \(900 s\)/);
    expect(checkWriteRequest(payload(command({ expires: new Date(NOW + 900_000).toISOString() })), guard(b)).ok).toBe(true);
    // Written with another offset, the same instant.
    expect(checkWriteRequest(payload(command({ expires: '2026-12-07T07:01:00-03:00' })), guard(b)).ok).toBe(true);
  });

  it('refuses a replay after the buffer file is closed and opened again', () => {
    const file = join(dir, 'reopen.db');
    const c = command();
    const first = buffer(file);
    expect(checkWriteRequest(payload(c), guard(first)).ok).toBe(true);
    first.close();
    open.splice(open.indexOf(first), 1);
    const again = buffer(file);
    expect(again.nonces.size()).toBe(1);
    expect(refusal(checkWriteRequest(payload(c), guard(again)))).toBe('EDGE_WRITE_REPLAYED');
    // A different transaction changes nothing: it is not signed, the command is the same.
    expect(refusal(checkWriteRequest(payload(c, { transaction: 'other' }), guard(again)))).toBe('EDGE_WRITE_REPLAYED');
  });

  it('keeps a nonce a day past its expiry, so a clock set back does not revive a command', () => {
    const b = buffer();
    const c = command();
    expect(checkWriteRequest(payload(c), guard(b)).ok).toBe(true);
    // An hour past c's expiry another write is claimed (old nonces are pruned then); then the clock is set back.
    const later = NOW + 3_600_000;
    expect(checkWriteRequest(payload(command({ expires: new Date(later + 60_000).toISOString() })), guard(b, { now: () => later })).ok).toBe(true);
    expect(refusal(checkWriteRequest(payload(c), guard(b)))).toBe('EDGE_WRITE_REPLAYED');
    // Past the day they go.
    const db = new Database(':memory:');
    const store = new NonceStore(db, { keepAfterExpiryMs: 1000 });
    expect(store.claim('a', 100, 0)).toBe(true);
    expect(store.claim('a', 100, 1100)).toBe(false);
    expect(store.claim('b', 5000, 1101)).toBe(true);
    expect(store.size()).toBe(1);
    expect(store.claim('a', 5000, 1102)).toBe(true);
    db.close();
  });

  it('refuses everything while central.allowWrites is false, without using up the nonce', () => {
    const b = buffer();
    const c = command();
    const v = checkWriteRequest(payload(c), guard(b, { allowWrites: false }));
    expect(refusal(v)).toBe('EDGE_WRITE_DISABLED');
    expect(v.request).toMatchObject({ device: 'pump-1', point: 'setpoint', value: 42.5, by: 'maria' });
    expect(refusal(checkWriteRequest(Buffer.from('not json'), guard(b, { allowWrites: false })))).toBe('EDGE_WRITE_DISABLED');
    expect(b.nonces.size()).toBe(0);
    expect(checkWriteRequest(payload(c), guard(b)).ok).toBe(true);
  });

  it('refuses a malformed request with the issues at their paths', () => {
    const b = buffer();
    const bad = (body: string) => {
      const v = checkWriteRequest(Buffer.from(body), guard(b));
      expect(refusal(v)).toBe('EDGE_WRITE_BAD_REQUEST');
      return v.ok ? '' : v.message;
    };
    expect(bad('{"device":')).toMatch(/^points\/write payload is not JSON/);
    const c = command();
    const { nonce: _n, ...noNonce } = c;
    expect(bad(JSON.stringify({ ...noNonce, signature: 'x' }))).toMatch(/nonce/);
    expect(bad(JSON.stringify({ ...c, nonce: 'short', signature: 'x' }))).toMatch(/nonce: must be 16 to 128 letters/);
    expect(bad(JSON.stringify({ ...c, value: { raw: 1 }, signature: 'x' }))).toMatch(/value/);
    expect(bad(JSON.stringify({ ...c, expires: 'tomorrow', signature: 'x' }))).toMatch(/expires/);
    expect(bad(JSON.stringify({ ...c, address: 40001, signature: 'x' }))).toMatch(/address/);
    const v = checkWriteRequest(Buffer.from(JSON.stringify({ ...c, value: { raw: 1 }, transaction: 9 })), guard(b));
    expect(v).toMatchObject({ ok: false, transaction: 9, request: { device: 'pump-1', value: '{"raw":1}' } });
  });
});

describe('edge-agent command sign', () => {
  it('prints a payload the guard accepts, a fresh nonce each run, and the topics', () => {
    const keyFile = join(dir, 'ops.key');
    writeFileSync(keyFile, keys.privateKeyPem, { mode: 0o600 });
    const run = (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = commandCommand(['sign', '--key', keyFile, '--gateway', 'gw-1', '--device', 'pump-1', '--point', 'state', ...args], (l) => out.push(l), (l) => err.push(l));
      return { code, out, err };
    };
    const b = buffer();
    const now = Date.now();
    const a = run('--value', 'running', '--by', 'maria', '--expires', '2m', '--prefix', 'ops');
    expect(a.code).toBe(0);
    expect(a.err).toEqual(['publish on: ops/gw-1/request/points/write', 'outcome on: ops/gw-1/response/points/write', expect.stringMatching(/^expires .*; signed by sha256:[0-9a-f]{64}$/)]);
    const body = JSON.parse(a.out[0] ?? '') as WriteCommand;
    expect(body).toMatchObject({ gateway: 'gw-1', device: 'pump-1', point: 'state', value: 'running', by: 'maria' });
    const live = { ...guard(b), now: () => now };
    expect(checkWriteRequest(Buffer.from(a.out[0] ?? ''), live)).toMatchObject({ ok: true, request: { value: 'running', keyFingerprint: keyFingerprint(pub) } });
    const n = run('--value', '12.5');
    const t = run('--value', '"12.5"');
    const bool = run('--value', 'true');
    expect([n, t, bool].map((r) => (JSON.parse(r.out[0] ?? '') as WriteCommand).value)).toEqual([12.5, '12.5', true]);
    expect(new Set([a, n, t, bool].map((r) => (JSON.parse(r.out[0] ?? '') as WriteCommand).nonce)).size).toBe(4);
    expect(run('--value', '[1]').code).toBe(1);
    expect(run('--value', '1', '--expires', 'soon').code).toBe(2);
    expect(run().code).toBe(2);
    expect(commandCommand(['sign', '--key', join(dir, 'none.key'), '--gateway', 'g', '--device', 'd', '--point', 'p', '--value', '1'], () => {}, () => {})).toBe(1);
    expect(commandCommand(['unsign'], () => {}, () => {})).toBe(2);
  });
});

describe('central write settings', () => {
  it('are off by default; on, they need a key; the command key falls back to the config key', () => {
    expect(ok(doc()).settings.central).toMatchObject({ allowWrites: false, commandKey: '', commandMaxExpiry: 900_000 });
    expect(issues(doc({ central: { allowWrites: true } }))).toEqual([
      'central.commandKey: must be set when central.allowWrites is true (or set central.publicKey): writes are always signed',
    ]);
    expect(issues(doc({ central: { allowWrites: 'yes' } }))).toEqual(['central.allowWrites: must be true or false (got "yes")']);
    expect(ok(doc({ central: { allowWrites: true, publicKey: '/k.pub', commandMaxExpiry: '2m' } })).settings.central.commandMaxExpiry).toBe(120_000);
    const cfgKey = join(dir, 'config.pub');
    const cmdKey = join(dir, 'command.pub');
    writeFileSync(cfgKey, keys.publicKeyPem);
    writeFileSync(cmdKey, generateSigningKeys().publicKeyPem);
    const central = ok(doc()).settings.central;
    const fp = (c: Partial<typeof central>) => {
      const k = commandKey({ ...central, ...c });
      return 'error' in k ? k.error : k.fingerprint;
    };
    expect(fp({ publicKey: cfgKey })).toBe(keyFingerprint(pub));
    expect(fp({ publicKey: cfgKey, commandKey: cmdKey })).not.toBe(keyFingerprint(pub));
    expect(fp({})).toBe('neither central.commandKey nor central.publicKey is set');
    expect(fp({ commandKey: join(dir, 'missing.pub') })).toMatch(/cannot read public key/);
  });
});
