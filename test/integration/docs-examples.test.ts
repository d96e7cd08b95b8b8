/**
 * The examples in docs/serial.md, docs/mqtt.md and docs/broker.md work: every complete config in
 * them passes `validate` with no error and no hint, and the main ones run — the agent started on
 * the example (ports swapped for a pty or a free port, the buffer for a temporary file) reads a
 * line from a pty, polls a scale on another pty and reads its reply, and takes messages from
 * clients that log in as the example's users, within the example's ACL. The password-hash
 * commands of docs/broker.md make hashes the broker accepts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { configHints } from '../../agent/commands/hints.js';
import { passwordChecker } from '../../broker/passwords.js';
import { checkDocument } from '../../config/index.js';
import { parseText } from '../../config/parse.js';
import { collect, startCli, waitForOutput } from '../helpers/cli.js';
import { missing } from '../helpers/peers.js';
import { openPtyPair, socatAvailable } from '../helpers/pty.js';
import { SerialPeer } from '../helpers/serial-peer.js';
import { freePort } from '../helpers/victoria.js';

const DOCS = ['serial', 'mqtt', 'broker'] as const;
const ENV = { MONITORS_PASSWORD: 'pw-monitors', LNS_PASSWORD: 'pw-lns', LEVEL_SENSORS_PASSWORD: 'pw-levels', SCADA_PASSWORD: 'pw-scada', FLOW_METER_PASSWORD: 'pw-flow', OPS_PASSWORD: 'pw-ops' };
const dir = mkdtempSync(join(tmpdir(), 'edge-docs-'));

function blocks(doc: string, lang: string): string[] {
  const text = readFileSync(new URL(`../../docs/${doc}.md`, import.meta.url), 'utf8');
  return [...text.matchAll(new RegExp('^( *)```' + lang + '\\n([\\s\\S]*?)^\\1```$', 'gm'))].map((m) => (m[2] as string).replace(new RegExp(`^${m[1] as string}`, 'gm'), ''));
}
/** The complete configs of a page (a block with a gateway section). */
const configs = (doc: string) => blocks(doc, 'yaml').filter((b) => /^gateway:/m.test(b));

/** The example, runnable here: buffer in a temporary file, HTTP on a free port, the given swaps. */
function runnable(example: string, swaps: Record<string, string>, name: string): string {
  let text = example.replace(/^buffer: .*$/m, `buffer: { path: ${join(dir, `${name}.db`)} }`) + '\nhttp: { port: 0 }\n';
  for (const [from, to] of Object.entries(swaps)) {
    expect(text, `the example holds ${from}`).toContain(from);
    text = text.replaceAll(from, to);
  }
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, text);
  return file;
}

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

function startAgent(file: string) {
  const child = startCli(['run', '--print', '--config', file], ENV);
  const done = collect(child, 60_000);
  stops.push(async () => {
    child.kill('SIGTERM');
    await done;
  });
  return child;
}

describe('docs: every complete example config is valid, with no hint', () => {
  for (const doc of DOCS) {
    it(`docs/${doc}.md`, () => {
      const examples = configs(doc);
      expect(examples.length).toBeGreaterThan(0);
      for (const [i, text] of examples.entries()) {
        const parsed = parseText(text, 'yaml');
        expect(parsed.issues, `${doc} example ${i + 1}`).toEqual([]);
        const result = checkDocument(parsed.doc, { env: ENV });
        const issues = result.ok ? [] : result.issues.map((x) => `${x.path}: ${x.message}`);
        expect(issues, `${doc} example ${i + 1}`).toEqual([]);
        if (result.ok) expect(configHints(result.config), `${doc} example ${i + 1}`).toEqual([]);
      }
    });
  }
});

describe('docs/broker.md: the password hash commands', () => {
  it('make scrypt hashes the broker accepts for that password, and only that one', async () => {
    const commands = blocks('broker', 'sh');
    expect(commands).toHaveLength(2);
    const dist = new URL('../../dist/broker/passwords.js', import.meta.url).pathname;
    for (const command of commands) {
      const line = command.trim().replace('/opt/edge-agent/dist/broker/passwords.js', dist).replace("'the password'", "'s3cret pass'");
      const hash = execFileSync('sh', ['-c', line], { encoding: 'utf8' }).trim();
      expect(hash).toMatch(/^scrypt\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/);
      const check = passwordChecker({ passwordHash: hash });
      expect(await check(Buffer.from('s3cret pass'))).toBe(true);
      expect(await check(Buffer.from('s3cret pas'))).toBe(false);
    }
  });
});

describe('docs: the examples run', () => {
  it.skipIf(missing('socat', socatAvailable(), 'Debian package socat'))('serial.md: the streaming monitor’s line and the polled scale’s reply become readings', async () => {
    const [monitor, scale] = await Promise.all([openPtyPair(), openPtyPair()]);
    stops.push(() => Promise.all([monitor.close(), scale.close()]));
    // The scale answers the example's command the way its comment says.
    const scaleDevice = await SerialPeer.open(scale.slave);
    stops.push(() => scaleDevice.close());
    const commands: string[] = [];
    scaleDevice.onCommand((command) => {
      commands.push(command);
      return command === 'W\r\n' ? 'ST,GS,+0012.34kg\r\n' : undefined;
    });
    const [example] = configs('serial');
    const file = runnable(
      example as string,
      {
        '/dev/serial/by-id/usb-Prolific_Technology_Inc._USB-Serial_Controller-if00-port0': monitor.master,
        '/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A9M9DV3R-if00-port0': scale.master,
        '/dev/ttyAMA0': join(dir, 'no-such-port-1'),
        '/dev/ttyS0': join(dir, 'no-such-port-2'),
      },
      'serial',
    );
    const agent = startAgent(file);
    // The device may open its port a moment after start: repeat the line until it is read.
    const seen = waitForOutput(agent, /monitor-7\/spo2 {2}98 %/, 20_000);
    const timer = setInterval(() => writeFileSync(monitor.slave, 'HR=72 SPO2=98\r\n'), 300);
    try {
      const out = await seen;
      expect(out).toMatch(/monitor-7\/hr {2}72 bpm/);
      // polled (every 10 s): the agent sent the example’s command and took the reply
      const polled = await waitForOutput(agent, /scale-1\/stable {2}stable/, 20_000);
      expect(polled).toMatch(/scale-1\/weight {2}12\.34 kg/);
      expect(commands[0]).toBe('W\r\n');
    } finally {
      clearInterval(timer);
    }
  });

  it('broker.md: users log in with a plain and a scrypt password, within the ACL', async () => {
    const port = await freePort();
    const [example] = configs('broker');
    const file = runnable(example as string, { 'port: 1883': `port: ${port}`, 'host: 0.0.0.0': 'host: 127.0.0.1' }, 'broker');
    const agent = startAgent(file);
    const url = `mqtt://127.0.0.1:${port}`;
    const connect = async (username: string, password: string) => {
      for (let attempt = 0; ; attempt++) {
        try {
          const client = await connectAsync(url, { username, password, reconnectPeriod: 0, connectTimeout: 2000 });
          stops.push(() => client.endAsync(true));
          return client;
        } catch (err) {
          // the broker listens once the agent has started
          if (attempt > 40 || !/ECONNREFUSED/.test(String(err))) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    };
    const levels = await connect('level-sensors', ENV.LEVEL_SENSORS_PASSWORD);
    const flow = await connect('flow-meter-1', 'change-me');
    await levels.publishAsync('site/levels/north', '2.37');
    await flow.publishAsync('site/flow/flow-meter-1/data', JSON.stringify({ flow: 12.5, total: 40321 }));
    const out = await waitForOutput(agent, /flow-1\/total {2}40321 m3/, 15_000);
    expect(out).toMatch(/levels\/level {2}2\.37 m/);
    expect(out).toMatch(/flow-1\/flow {2}12\.5 m3\/h/);
    // a wrong password is refused; publishing outside the ACL costs the connection
    await expect(connectAsync(url, { username: 'flow-meter-1', password: 'change-me!', reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password|Not authorized/);
    const closed = new Promise<void>((resolve) => levels.once('close', () => resolve()));
    levels.publish('site/flow/flow-meter-1/data', '{"flow": 99}');
    await closed;
  });

  it('mqtt.md: a monitor’s JSON on the embedded broker becomes readings', async () => {
    const port = await freePort();
    const [example] = configs('mqtt');
    const file = runnable(example as string, { 'host: 0.0.0.0': `host: 127.0.0.1\n  port: ${port}` }, 'mqtt');
    const agent = startAgent(file);
    let client;
    for (let attempt = 0; ; attempt++) {
      try {
        client = await connectAsync(`mqtt://127.0.0.1:${port}`, { username: 'monitors', password: ENV.MONITORS_PASSWORD, reconnectPeriod: 0, connectTimeout: 2000 });
        break;
      } catch (err) {
        if (attempt > 40 || !/ECONNREFUSED/.test(String(err))) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const c = client;
    stops.push(() => c.endAsync(true));
    await c.publishAsync('ward/3/bed/12/vitals', JSON.stringify({ hr: 72, spo2: 98, nibp: { sys: 120, dia: 80 } }));
    await c.publishAsync('tele/boiler/SENSOR', JSON.stringify({ DS18B20: [{ Temperature: 61.5 }] }));
    const out = await waitForOutput(agent, /boiler-room\/readings {2}61\.5 °C/, 15_000);
    for (const line of [/ward-monitors\/hr {2}72 bpm/, /ward-monitors\/spo2 {2}98 %/, /ward-monitors\/sys {2}120 mmHg/, /ward-monitors\/dia {2}80 mmHg/]) expect(out).toMatch(line);
  });
});
