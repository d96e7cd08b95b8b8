// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/**
 * `edge-agent probe <kind> …`: commissioning tools that talk to one device once, outside the
 * running agent, and print what they see. Each kind registers here with its own options and help.
 */
import { MODBUS_PROBE_HELP, probeModbus } from './probe-modbus.js';
import { MQTT_PROBE_HELP, probeMqtt } from './probe-mqtt.js';
import { SERIAL_PROBE_HELP, probeSerial } from './probe-serial.js';

import type { ProbeOutput } from './probe-common.js';

export type { ProbeOutput } from './probe-common.js';

interface ProbeKind {
  summary: string;
  help: string;
  run(argv: string[], out: ProbeOutput): Promise<number>;
}

const KINDS: Record<string, ProbeKind> = {
  modbus: { summary: 'read a range of registers once; shows every 32-bit byte order side by side', help: MODBUS_PROBE_HELP, run: probeModbus },
  serial: { summary: 'print lines from a serial port as they arrive, and how they parse', help: SERIAL_PROBE_HELP, run: (argv, out) => probeSerial(argv, out) },
  mqtt: { summary: 'print messages on a topic as they arrive, with captured segments and JSON paths', help: MQTT_PROBE_HELP, run: (argv, out) => probeMqtt(argv, out) },
};

export function probeHelp(): string {
  const width = Math.max(...Object.keys(KINDS).map((k) => k.length));
  return `Usage: edge-agent probe <kind> [options]

Talks to one device once and prints what it sees, for commissioning. Nothing is stored or sent.

Kinds:
${Object.entries(KINDS)
  .map(([name, k]) => `  ${name.padEnd(width)}  ${k.summary}`)
  .join('\n')}

Run 'edge-agent probe <kind> --help' for its options.`;
}

/** Returns the exit code: 0 done, 1 the device did not answer as hoped, 2 usage error. */
export async function probeCommand(argv: string[], out: ProbeOutput = console): Promise<number> {
  const [kind, ...rest] = argv;
  if (kind === undefined || kind === '--help' || kind === '-h' || kind === 'help') {
    if (kind === undefined) {
      out.error(`edge-agent probe: missing kind\n\n${probeHelp()}`);
      return 2;
    }
    out.log(probeHelp());
    return 0;
  }
  const probe = KINDS[kind];
  if (probe === undefined) {
    out.error(`edge-agent probe: unknown kind '${kind}' (known: ${Object.keys(KINDS).join(', ')})\n\n${probeHelp()}`);
    return 2;
  }
  return probe.run(rest, out);
}
