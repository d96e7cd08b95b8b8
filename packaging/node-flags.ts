/**
 * The node/V8 flags edge-agent runs with on a small box, for every way it is started: the
 * release's launcher (packaging/launcher.sh), the source install's unit
 * (systemd/edge-agent.service, `Environment=EDGE_NODE_FLAGS=…`) and the Docker image (Dockerfile,
 * `ENV EDGE_NODE_FLAGS=…`). Those are shell, unit and Dockerfile text and cannot import this; each
 * carries the strings literally and test/unit/packaging/node-flags.test.ts holds them to these.
 * The bench (bench/agent-program.ts) runs the agent with them, as users get it.
 *
 * At most 256 MB of old space for both. The young generation (semi-space) differs, measured here
 * (bench rss phase, 3 min, bundle): 1 MB took the daemon 88-101 ms of CPU per 1000 points against
 * 64 ms with 4 MB (and with Node's default, 16 MB) for 5 MB less RSS — scavenges every few
 * hundred KB, and objects promoted before they die. A command that ends in a second has no such
 * cost, and 1 MB keeps `validate` 4 MB smaller. So the daemon (`run`) gets 4 MB, every other
 * command 1 MB. The unit and the image start the daemon: they carry RUN_NODE_FLAGS.
 *
 * EDGE_NODE_FLAGS replaces them everywhere (empty: Node's defaults).
 */
export const RUN_NODE_FLAGS = '--max-semi-space-size=4 --max-old-space-size=256';
export const COMMAND_NODE_FLAGS = '--max-semi-space-size=1 --max-old-space-size=256';

/** The flags of a command line (its first argument is the command), as the launcher picks them. */
export function nodeFlagsFor(command: string | undefined): string {
  return command === 'run' ? RUN_NODE_FLAGS : COMMAND_NODE_FLAGS;
}

/** Flags as separate arguments. */
export function nodeFlagArgs(text: string): string[] {
  return text.split(/\s+/).filter((f) => f !== '');
}
