#!/bin/sh
# edge-agent's command, as a release installs it: the agent (app/cli.js, one bundle) on the Node
# runtime that came with the release (node/bin/node), so the box needs no Node of its own.
# V8's heap is sized for a small box (packaging/node-flags.ts says why): at most 256 MB old space;
# a 4 MB young generation for the daemon (`run`: less GC CPU), 1 MB for every other command (less
# memory). EDGE_NODE_FLAGS replaces these flags (EDGE_NODE_FLAGS= : Node's defaults).
set -eu
home=$(dirname "$(dirname "$(readlink -f "$0")")")
# The daemon's when the command is run, wherever it stands among the options (--config FILE run).
default="--max-semi-space-size=1 --max-old-space-size=256"
for arg in "$@"; do
  if [ "$arg" = run ]; then
    default="--max-semi-space-size=4 --max-old-space-size=256"
    break
  fi
done
flags=${EDGE_NODE_FLAGS-$default}
# shellcheck disable=SC2086 # the flags are separate words
exec "$home/node/bin/node" $flags "$home/app/cli.js" "$@"
