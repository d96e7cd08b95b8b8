import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson, generateSigningKeys, readPublicKey, signContent, verifyContent } from '../../../config/signing.js';
import { ConfigState, writeFileAtomic } from '../../../config/config-state.js';

describe('config signing', () => {
  const keys = generateSigningKeys();
  const priv = createPrivateKey(keys.privateKeyPem);
  const pub = createPublicKey(keys.publicKeyPem);

  it('signs a canonical form: key order and whitespace do not matter, content does', () => {
    expect(canonicalJson({ b: [1, { d: 'x', c: null }], a: true })).toBe('{"a":true,"b":[1,{"c":null,"d":"x"}]}');
    const sig = signContent(priv, { rev: 3, config: { gateway: { id: 'g' }, devices: [] } });
    expect(verifyContent(pub, { rev: 3, config: JSON.parse('{ "devices": [], "gateway": {"id":"g"} }') }, sig)).toBe(true);
    expect(verifyContent(pub, { rev: 4, config: { gateway: { id: 'g' }, devices: [] } }, sig)).toBe(false);
    expect(verifyContent(pub, { rev: 3, config: { gateway: { id: 'h' }, devices: [] } }, sig)).toBe(false);
    expect(verifyContent(pub, { rev: 3, config: { gateway: { id: 'g' }, devices: [] }, gateway: 'g' }, sig)).toBe(false);
    expect(verifyContent(pub, { rev: 3, config: {} }, 'not base64 at all')).toBe(false);
  });

  it('refuses keys that are not Ed25519, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-keys-'));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFileSync(join(dir, 'rsa.pub'), rsa);
    expect(() => readPublicKey(join(dir, 'rsa.pub'))).toThrow(/rsa\.pub is a rsa key; config signing uses Ed25519/);
    expect(() => readPublicKey(join(dir, 'missing.pub'))).toThrow(/cannot read public key/);
  });

  it('writes state files atomically with the given mode and keeps pending apart from the last-known-good', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-state-'));
    writeFileAtomic(join(dir, 'a', 'f.txt'), 'one', 0o600);
    expect(readFileSync(join(dir, 'a', 'f.txt'), 'utf8')).toBe('one');
    expect(statSync(join(dir, 'a', 'f.txt')).mode & 0o777).toBe(0o600);
    const state = new ConfigState(join(dir, 'state'));
    expect(state.lastKnownGood()).toBeUndefined();
    state.writePending({ rev: 2, config: { gateway: { id: 'g' } }, at: 1 });
    expect(state.pending()?.rev).toBe(2);
    state.confirm({ rev: 2, config: { gateway: { id: 'g' } }, at: 1 });
    expect(state.pending()).toBeUndefined();
    expect(state.lastKnownGood()?.rev).toBe(2);
  });
});
