# syntax=docker/dockerfile:1
#
# edge-agent in a container: a build stage that compiles the native modules (better-sqlite3,
# serialport) and the TypeScript, and a slim runtime stage without compilers that runs as a
# non-root user under an init process.
#
#   docker build -t edge-agent .
#   docker run -d --name edge-agent --restart unless-stopped --stop-timeout 30 \
#     -v edge-agent-data:/var/lib/edge-agent \
#     -v /etc/edge-agent/config.yaml:/etc/edge-agent/config.yaml:ro \
#     -p 127.0.0.1:8080:8080 edge-agent
#   docker run --rm -p 127.0.0.1:8080:8080 edge-agent run --demo     # try it
#
# Raspberry Pi (arm64, armv7): build on the Pi itself (`docker build` picks its platform), or
# cross-build with buildx: `docker buildx build --platform linux/arm64,linux/arm/v7 -t … --push .`
# Under QEMU the native modules compile slowly (minutes for arm/v7) but correctly — they are built
# for the target in the build stage, never copied from the build host. The official Node 20 images
# cover arm64 and arm/v7; armv6 (Pi Zero, Pi 1) has no official Node 20 image.
#
# Serial ports: pass the adapter through and let the `node` user (group dialout) open it:
#   --device /dev/serial/by-id/usb-FTDI_…-port0:/dev/ttyUSB0 --group-add dialout
# (the by-id name survives re-plugging into another USB port; `--group-add "$(stat -c %g /dev/ttyUSB0)"`
# if the host's group for the device is not dialout/20). A device passed with --device is fixed at
# container start: after re-plugging the adapter, restart the container.
#
# No systemd inside: NOTIFY_SOCKET is unset, so no READY/WATCHDOG; the HEALTHCHECK asks /health,
# which says 503 when the poll or delivery loop stops making progress. Docker only marks the
# container unhealthy; an orchestrator (or an autoheal container) restarts it.

ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /src
# The full image has python3, make and g++ for node-gyp.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY agent agent
COPY broker broker
COPY buffer buffer
COPY config config
COPY drivers drivers
COPY sinks sinks
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# tini as PID 1: forwards SIGTERM to the agent (which then commits and drains) and reaps children.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/edge-agent
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY agent/ops/static agent/ops/static
COPY config/demo.yaml config/edge-agent.schema.json config/
COPY templates templates
COPY README.md ./
# The image's `node` user (uid 1000), also in dialout for serial ports. Config is mounted read-only.
RUN usermod -a -G dialout node \
 && install -d -o node -g node -m 0750 /var/lib/edge-agent \
 && install -d -m 0755 /etc/edge-agent
USER node
# V8's heap sized for a small box, as the release's launcher and the systemd unit start the daemon
# (README, "Memory: node flags"); `docker run -e EDGE_NODE_FLAGS=…` replaces them, `-e EDGE_NODE_FLAGS=` gives Node's defaults.
ENV EDGE_NODE_FLAGS="--max-semi-space-size=4 --max-old-space-size=256" \
    NODE_ENV=production \
    EDGE_BUFFER_PATH=/var/lib/edge-agent/buffer.db \
    EDGE_HTTP_HOST=0.0.0.0 \
    EDGE_HTTP_PORT=8080
VOLUME ["/var/lib/edge-agent"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.EDGE_HTTP_PORT+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# A shell only to split $EDGE_NODE_FLAGS into arguments; `exec` leaves node as tini's child, and the
# command's own arguments pass through "$@" untouched.
ENTRYPOINT ["/usr/bin/tini", "--", "/bin/sh", "-c", "exec node $EDGE_NODE_FLAGS /opt/edge-agent/dist/agent/cli.js \"$@\"", "edge-agent"]
CMD ["run", "--config", "/etc/edge-agent/config.yaml"]
