/** `edge-agent probe serial` against a pty pair: lines as they arrive, and how they parse. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { probeCommand } from '../../agent/commands/probe.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';
import { eventually, SerialPeer } from '../helpers/serial-peer.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function capture() {
  const out = { logs: [] as string[], errors: [] as string[] };
  return { out, sink: { log: (s: string) => out.logs.push(s), error: (s: string) => out.errors.push(s) } };
}

async function setup(): Promise<{ pty: PtyPair; peer: () => Promise<SerialPeer> }> {
  const pty = await openPtyPair();
  cleanup.push(() => pty.close());
  return {
    pty,
    peer: async () => {
      const p = await SerialPeer.open(pty.slave);
      cleanup.push(() => p.close());
      return p;
    },
  };
}

describe('edge-agent probe serial', () => {
  it('prints each line with the fields it parses into, and what does not parse', async () => {
    const { pty, peer } = await setup();
    const { out, sink } = capture();
    const done = probeCommand(['serial', '--path', pty.master, '--baud-rate', '19200', '--key-value', '-n', '3'], sink);
    await eventually('the probe listening', () => out.logs.some((l) => l.startsWith('listening on')));
    const device = await peer();
    await device.write('T=21.5 H=40\r\n--- boot ---\r\nT = 22\r\n');
    expect(await done).toBe(0);
    const text = out.logs.join('\n');
    expect(out.logs[0]).toBe(`listening on ${pty.master} (19200 baud, 8N1, lines end with "\\n")`);
    expect(text).toMatch(/"T=21\.5 H=40"\n\s+fields: T="21\.5" {2}H="40"/);
    expect(text).toMatch(/"--- boot ---"\n\s+does not parse \(no key=value pairs\)/);
    expect(text).toMatch(/"T = 22"\n\s+fields: T="22"/);
    expect(out.logs.at(-1)).toBe('3 lines, 1 not understood');
  });

  it('takes a configured device: sends its command and shows the readings of its points', async () => {
    const { pty, peer } = await setup();
    const dir = mkdtempSync(join(tmpdir(), 'edge-probe-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      `gateway: { id: gw-1 }
devices:
  - id: scale-1
    driver: serial
    connection: { path: ${pty.master}, delimiter: "\\r\\n" }
    command: "W\\r\\n"
    every: 500ms
    parse: { regex: '^(?<gross>[-\\d.]+) (?<unit>\\w+)$' }
    points:
      gross: { unit: kg }
      unit: { type: string }
`,
    );
    const scale = await peer();
    let n = 0;
    scale.onCommand((c) => (c === 'W\r\n' ? (n++ === 0 ? 'ERR\r\n' : '12.5 kg\r\n') : undefined));
    const { out, sink } = capture();
    expect(await probeCommand(['serial', '-c', file, '-n', '2'], sink)).toBe(0);
    const text = out.logs.join('\n');
    expect(out.logs[0]).toMatch(/sending "W\\r\\n" every 500 ms/);
    expect(text).toMatch(/"ERR"\n\s+does not parse/);
    expect(text).toMatch(/"12\.5 kg"\n\s+fields: gross="12\.5" {2}unit="kg"\n\s+gross=12\.5 {2}unit="kg"/);
  });

  it('explains usage mistakes with exit code 2, and an empty port with 1', async () => {
    const { pty } = await setup();
    const { out, sink } = capture();
    expect(await probeCommand(['serial', '--path', pty.master, '--regex', '(', '-n', '1'], sink)).toBe(2);
    expect(out.errors[0]).toMatch(/^edge-agent probe serial: regex: invalid regular expression/);
    expect(await probeCommand(['serial', '--path', pty.master, '--key-value', '--csv'], sink)).toBe(2);
    expect(await probeCommand(['serial', '--path', pty.master, '--duration', '200ms'], sink)).toBe(1);
    expect(out.logs.at(-1)).toBe('0 lines (time up)');
  });
});
