/**
 * The node/V8 flags edge-agent runs with on a small box, one string for every way it is started:
 * the release's launcher (packaging/launcher.sh), the source install's unit
 * (systemd/edge-agent.service, `Environment=EDGE_NODE_FLAGS=…`) and the Docker image (Dockerfile,
 * `ENV EDGE_NODE_FLAGS=…`). Those are shell, unit and Dockerfile text and cannot import this; each
 * carries the string literally and test/unit/packaging/node-flags.test.ts holds them to it. The
 * bench (bench/cli.ts, bench/rss.ts) runs the agent with these, as users get it.
 *
 * EDGE_NODE_FLAGS replaces them everywhere (empty: Node's defaults).
 */
export const NODE_FLAGS = '--max-semi-space-size=1 --max-old-space-size=256';

/** The flags as separate arguments. */
export function nodeFlagArgs(text: string = NODE_FLAGS): string[] {
  return text.split(/\s+/).filter((f) => f !== '');
}
