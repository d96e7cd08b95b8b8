/**
 * The status page in a real browser (Debian's chromium, driven by playwright-core) on a phone-
 * sized screen, served by a running agent: a Modbus slave that answers, a device that does not,
 * a sink that is down, an active alert, and a token to type in first.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import { loadBootConfig } from '../../config/config-state.js';
import { launchChromium, logIn, phonePage } from '../helpers/browser.js';
import { startHttpAgent, type HttpAgent } from '../helpers/http-agent.js';
import { PGURL } from '../helpers/postgres.js';
import { closedPort, RegisterImage, startImageServer } from '../helpers/modbus-server.js';

const TOKEN = 'page-token-1';
const dir = mkdtempSync(join(tmpdir(), 'edge-page-'));
const image = new RegisterImage().setValue('holding', 0, 1234, 'uint16').setValue('holding', 1, 3.25, 'float32').setValue('holding', 10, 2, 'uint16');
let slave: RunningModbusServer;
let running: HttpAgent;
let browser: Browser;
let centralPort: number;
const problems: string[] = [];

beforeAll(async () => {
  slave = await startImageServer(image);
  const [pgPort, offlinePort] = [await closedPort(), await closedPort()];
  // The ops link points at a broker that is not there (with credentials in the URL, which the
  // page must not show); a push rolled back before the last restart is on record in its stateDir.
  centralPort = await closedPort();
  const stateDir = join(dir, 'central');
  mkdirSync(stateDir);
  writeFileSync(join(stateDir, 'rolled-back.json'), JSON.stringify({ rev: 3, at: Date.now() - 60_000, reason: 'the new config did not come up', failures: [] }));
  const yaml = `
gateway: { id: gw-page, site: pozo-3 }
buffer: { path: ${join(dir, 'buffer.db')} }
central: { url: "mqtt://gw-page:page-secret-55@127.0.0.1:${centralPort}", allowUnsigned: true, stateDir: ${stateDir} }
sinks:
  postgres: { url: "postgres://edge@127.0.0.1:${pgPort}/telemetry" }
http: { host: 127.0.0.1, port: 0, token: ${TOKEN} }
devices:
  - id: pump-1
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, unitId: 1, timeout: 500ms }
    every: 500ms
    points:
      flow:     { register: holding, address: 0, type: uint16, scale: 0.1, unit: m3/h }
      pressure: { register: holding, address: 1, type: float32, decimals: 2, unit: bar, alerts: [ { above: 3, severity: critical, message: pressure above 3 bar } ] }
      mode:     { register: holding, address: 10, type: uint16, map: { 1: manual, 2: auto } }
  - id: meter-2
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${offlinePort}, unitId: 1, timeout: 300ms }
    every: 500ms
    points:
      energy: { register: input, address: 0, type: uint32, unit: kWh }
`;
  writeFileSync(join(dir, 'config.yaml'), yaml);
  const boot = loadBootConfig({ file: join(dir, 'config.yaml'), env: {} });
  running = await startHttpAgent(yaml, { central: { boot, env: {}, backoff: { initialMs: 100, maxMs: 400 } } });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await running?.stop();
  await slave?.close();
});

const phone = (): Promise<Page> => phonePage(browser, problems);

describe('status page', () => {
  it('asks for the token, then shows devices, values with units and quality, alerts and sinks — and refreshes by itself', async () => {
    const page = await phone();
    await logIn(page, running.url, TOKEN);

    const pump = page.locator('[data-device="pump-1"]');
    await pump.waitFor();
    expect(await page.locator('#login').isVisible()).toBe(false);
    await expect.poll(() => pump.getAttribute('data-state'), { timeout: 10_000 }).toBe('ok');
    await expect.poll(() => pump.locator('[data-point="flow"]').innerText(), { timeout: 10_000 }).toMatch(/123\.4 m3\/h[\s\S]*good/);
    expect(await pump.locator('[data-point="pressure"]').innerText()).toMatch(/3\.25 bar[\s\S]*good/);
    expect(await pump.locator('[data-point="mode"]').innerText()).toMatch(/auto/);

    const meter = page.locator('[data-device="meter-2"]');
    await expect.poll(() => meter.getAttribute('data-state'), { timeout: 10_000 }).toBe('failing');
    expect(await meter.innerText()).toMatch(/Not answering/);
    expect(await meter.locator('[data-point="energy"]').innerText()).toMatch(/bad/);

    // A real alert: the rule on pressure (3.25 bar > 3) raised it at the first poll.
    const alertItem = page.locator('[data-alert^="pump-1/pressure/above-3@"]');
    await alertItem.waitFor({ timeout: 10_000 });
    expect(await alertItem.innerText()).toMatch(/critical[\s\S]*pump-1 \/ pressure[\s\S]*pressure above 3 bar[\s\S]*3\.25 bar[\s\S]*since \d+ (s|min) ago/);

    const sink = page.locator('[data-sink="postgres"]');
    await expect.poll(() => sink.getAttribute('data-reachable'), { timeout: 10_000 }).toBe('false');
    expect(await sink.innerText()).toMatch(/unreachable[\s\S]*rows to send/);
    expect(await page.locator('[data-buffer]').innerText()).toMatch(/rows buffered/);
    expect(await page.locator('#gateway').innerText()).toBe('gw-page');

    // The ops link: offline with why, the broker without its credentials, the running revision and the last push.
    const link = page.locator('[data-central]');
    await expect.poll(() => link.getAttribute('data-central'), { timeout: 10_000 }).toBe('offline');
    expect(await link.innerText()).toMatch(new RegExp(`offline[\\s\\S]*mqtt://127\\.0\\.0\\.1:${centralPort}[\\s\\S]*config rev 0 \\(local file\\)[\\s\\S]*EDGE_CENTRAL_UNREACHABLE`));
    expect(await link.locator('[data-last-apply]').innerText()).toMatch(/rev 3 rolled back \d+ (s|min) ago — the new config did not come up/);
    expect(await page.content()).not.toContain('page-secret-55');

    // Readable on a phone: nothing wider than the screen.
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);

    // A new value on the device reaches the open page without a reload.
    image.setValue('holding', 0, 2000, 'uint16');
    await expect.poll(() => pump.locator('[data-point="flow"]').innerText(), { timeout: 15_000 }).toMatch(/200 m3\/h/);

    // The last writes: none yet, then an attempt (refused: flow has no write: block) shows up on
    // the open page with its outcome, code and who asked.
    expect(await page.locator('#writes').innerText()).toMatch(/No writes to devices/);
    await running.agent.writes.execute({ device: 'pump-1', point: 'flow', value: 5, by: 'tech', origin: 'local' });
    const write = page.locator('#writes li[data-write]');
    await write.first().waitFor({ timeout: 15_000 });
    expect(await write.first().innerText()).toMatch(/refused[\s\S]*pump-1 \/ flow = 5[\s\S]*EDGE_WRITE_NOT_WRITABLE[\s\S]*by tech \(local\)/);

    expect(problems).toEqual([]);
  });

  it('shows a sink the central side refuses (a missing database) with its code and the fix', async () => {
    const url = new URL(PGURL);
    url.pathname = '/no_such_db_page';
    const refused = await startHttpAgent(`
gateway: { id: gw-page-cfg }
buffer: { path: ${join(dir, 'refused.db')} }
sinks:
  postgres: { url: "${url.toString()}" }
http: { host: 127.0.0.1, port: 0 }
devices:
  - { id: pump-1, driver: modbus, every: 500ms, connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, timeout: 500ms }, points: { flow: { register: holding, address: 0, type: uint16 } } }
`);
    try {
      const page = await phone();
      await page.goto(refused.url);
      const sink = page.locator('[data-sink="postgres"]');
      await expect.poll(() => sink.getAttribute('data-reachable'), { timeout: 10_000 }).toBe('false');
      await sink.locator('[data-sink-fix="EDGE_SINK_DB_MISSING"]').waitFor({ timeout: 10_000 });
      expect(await sink.innerText()).toMatch(/refused: needs a fix[\s\S]*EDGE_SINK_DB_MISSING[\s\S]*Fix: create the database/);
      expect(problems).toEqual([]);
    } finally {
      await refused.stop();
    }
  });
});
