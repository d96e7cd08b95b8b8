#!/bin/sh
# edge-agent's command, as a release installs it: the agent (app/cli.js, one bundle) on the Node
# runtime that came with the release (node/bin/node), so the box needs no Node of its own.
# V8's heap is sized for a small box: a 1 MB young generation (less memory between scavenges)
# and at most 256 MB old space. EDGE_NODE_FLAGS replaces these flags (EDGE_NODE_FLAGS= : Node's defaults).
set -eu
home=$(dirname "$(dirname "$(readlink -f "$0")")")
flags=${EDGE_NODE_FLAGS-"--max-semi-space-size=1 --max-old-space-size=256"}
# shellcheck disable=SC2086 # the flags are separate words
exec "$home/node/bin/node" $flags "$home/app/cli.js" "$@"
