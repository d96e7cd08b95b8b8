/**
 * Trends on the status page in a real browser (Debian's chromium, driven by playwright-core, as in
 * status-page.test.ts): a running agent polls a Modbus slave every 200 ms into 1-second history
 * buckets; after a few seconds of polling the page draws a sparkline per point, a tap opens the
 * larger chart (uPlot, served by the agent) whose data follow what the slave held, and the CSV
 * download holds the same buckets. A screenshot of the chart is kept in the test's temp dir.
 * Then the same as a technician sees it with the default history (10 s buckets): an agent that has
 * polled for a whole minute, and the chart it draws on tap.
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import { launchChromium, logIn, phonePage } from '../helpers/browser.js';
import { startHttpAgent, type HttpAgent } from '../helpers/http-agent.js';
import { RegisterImage, startImageServer } from '../helpers/modbus-server.js';

const TOKEN = 'trend-token-3';
const dir = mkdtempSync(join(tmpdir(), 'edge-trend-'));
const image = new RegisterImage().setValue('holding', 0, 100, 'uint16').setValue('holding', 1, 7, 'uint16');
let slave: RunningModbusServer;
let running: HttpAgent;
let browser: Browser;
const problems: string[] = [];

beforeAll(async () => {
  slave = await startImageServer(image);
  running = await startHttpAgent(
    pumpAgent({
      gateway: 'gw-trend',
      buffer: `{ path: ${join(dir, 'buffer.db')}, history: { step: 1s, keep: 2h, longStep: 5s, longKeep: 3h } }`,
      every: '200ms',
      points: '      mode: { register: holding, address: 1, type: uint16, map: { 7: auto } }\n',
    }),
  );
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await running?.stop();
  await slave?.close();
});

const phone = (): Promise<Page> => phonePage(browser, problems, { acceptDownloads: true });

/** An agent polling the slave's flow register (and `points`, YAML lines under `points:`), its page behind TOKEN. */
function pumpAgent(o: { gateway: string; buffer: string; every: string; points?: string }): string {
  return `
gateway: { id: ${o.gateway} }
buffer: ${o.buffer}
http: { host: 127.0.0.1, port: 0, token: ${TOKEN} }
devices:
  - id: pump-1
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, unitId: 1, timeout: 500ms }
    every: ${o.every}
    points:
      flow: { register: holding, address: 0, type: uint16, scale: 0.1, unit: m3/h }
${o.points ?? ''}`;
}

/** Pixels of a canvas that are not transparent (what was drawn). */
function inkOf(page: Page, selector: string): Promise<number> {
  // A string, as the project compiles without the DOM types (like status-page.test.ts).
  return page.evaluate<number>(`(() => {
    const c = document.querySelector(${JSON.stringify(selector)});
    if (c === null) return -1;
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n += 1;
    return n;
  })()`);
}

describe('status page trends', () => {
  it('draws a sparkline per numeric point and, on tap, a chart of what the device held, with a CSV of it', async () => {
    const page = await phone();
    await logIn(page, `${running.url}/?trend=2`, TOKEN);

    const flow = page.locator('[data-device="pump-1"] [data-point="flow"]');
    await flow.waitFor();
    // A few seconds at 10.0 m3/h, then 30.0: the page refreshes every 5 s and fetches the trends with it.
    await expect.poll(async () => Number(await flow.locator('canvas.spark').getAttribute('data-n')), { timeout: 15_000, interval: 250 }).toBeGreaterThanOrEqual(3);
    image.setValue('holding', 0, 300, 'uint16');
    await expect.poll(() => flow.innerText(), { timeout: 10_000 }).toMatch(/30 m3\/h/);
    expect(await inkOf(page, '[data-device="pump-1"] [data-point="flow"] canvas.spark')).toBeGreaterThan(50);
    // Text (a mapped mode) has no trend.
    expect(await page.locator('[data-device="pump-1"] [data-point="mode"] canvas').count()).toBe(0);

    // Wait until the 30.0 readings have closed a couple of buckets, then open the chart.
    await expect
      .poll(async () => {
        const r = await fetch(`${running.url}/history?device=pump-1&point=flow&minutes=2`, { headers: { Authorization: `Bearer ${TOKEN}` } });
        return ((await r.json()) as { buckets: Array<{ min: number }> }).buckets.filter((b) => b.min === 30).length;
      }, { timeout: 10_000, interval: 250 })
      .toBeGreaterThanOrEqual(2);
    await flow.click();
    const box = page.locator('#trend-chart');
    await expect.poll(async () => Number(await box.getAttribute('data-buckets')), { timeout: 10_000 }).toBeGreaterThanOrEqual(5);
    expect(await page.locator('#trend-title').innerText()).toBe('pump-1 / flow');

    // The chart's own data: one x per bucket, increasing, and the avg series went from 10 to 30.
    const drawn = await page.evaluate<Array<Array<number | null>>>('window.edgeChart.data.map((col) => Array.from(col))');
    const [xs, mins, avgs, maxs] = drawn as [number[], number[], number[], number[]];
    expect(xs.length).toBe(Number(await box.getAttribute('data-buckets')));
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    expect(avgs[0]).toBe(10);
    expect(avgs.at(-1)).toBe(30);
    expect(Math.min(...mins)).toBe(10);
    expect(Math.max(...maxs)).toBe(30);
    // …and it is on the canvas: the plot has ink, and the screenshot is kept.
    const canvas = '#trend-chart canvas';
    expect(await inkOf(page, canvas)).toBeGreaterThan(500);
    const shot = join(dir, 'trend.png');
    await page.locator('#trend').screenshot({ path: shot });
    expect(statSync(shot).size).toBeGreaterThan(5000);

    // The CSV holds the buckets the chart shows.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#trend-csv')]);
    expect(download.suggestedFilename()).toBe('pump-1-flow-2min.csv');
    const lines = readFileSync(await download.path(), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('time,ts,min,avg,max,n');
    expect(lines.slice(1).map((l) => Number(l.split(',')[1]) / 1000)).toEqual(xs);
    expect(lines[1]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z,\d+,10,10,10,\d+$/);

    // Readable on a phone: the dialog fits the screen.
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    expect(problems).toEqual([]);
  });
});

describe('status page trends with the default history', () => {
  it('after a minute of polling every second, a tap draws a chart with a point per 10 s bucket that follows the device', async () => {
    const agent = await startHttpAgent(pumpAgent({ gateway: 'gw-trend-minute', buffer: `{ path: ${join(dir, 'minute.db')} }`, every: '1s' }));
    try {
      // Half a minute at 30.0 m3/h (where the test above left the register), then half at 15.0.
      image.setValue('holding', 0, 300, 'uint16');
      await new Promise((r) => setTimeout(r, 30_000));
      image.setValue('holding', 0, 150, 'uint16');
      await new Promise((r) => setTimeout(r, 30_000));
      const page = await phone();
      await logIn(page, `${agent.url}/`, TOKEN);
      const flow = page.locator('[data-device="pump-1"] [data-point="flow"]');
      await expect.poll(async () => Number(await flow.locator('canvas.spark').getAttribute('data-n')), { timeout: 15_000, interval: 250 }).toBeGreaterThanOrEqual(5);
      await flow.click();
      const box = page.locator('#trend-chart');
      await expect.poll(async () => Number(await box.getAttribute('data-buckets')), { timeout: 10_000 }).toBeGreaterThanOrEqual(5);
      const [xs, mins, avgs, maxs] = (await page.evaluate<Array<Array<number | null>>>('window.edgeChart.data.map((col) => Array.from(col))')) as [number[], number[], number[], number[]];
      expect(avgs[0]).toBe(30);
      expect(avgs.at(-1)).toBe(15);
      expect([Math.min(...mins), Math.max(...maxs)]).toEqual([15, 30]);
      // One x per 10 s bucket of the minute, and the history counted about ten readings in each full one.
      expect(xs.slice(1).map((x, i) => x - (xs[i] as number))).toEqual(xs.slice(1).map(() => 10));
      expect(await inkOf(page, '#trend-chart canvas')).toBeGreaterThan(500);
      const shot = join(dir, 'trend-minute.png');
      await page.locator('#trend').screenshot({ path: shot });
      expect(statSync(shot).size).toBeGreaterThan(5000);
      const r = await fetch(`${agent.url}/history?device=pump-1&point=flow&minutes=2`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      const buckets = (await r.json()) as { step: number; buckets: Array<{ n: number }> };
      expect(buckets.step).toBe(10);
      expect(buckets.buckets.slice(1, -1).every((b) => b.n >= 8 && b.n <= 11)).toBe(true);
      expect(problems).toEqual([]);
    } finally {
      await agent.stop();
    }
  }, 150_000);
});
