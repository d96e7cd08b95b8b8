#!/usr/bin/env bash
# Installs edge-agent as a hardened systemd service on Debian 12 / Raspberry Pi OS (amd64, arm64,
# armhf), in one of two ways:
#
#   release mode, from an unpacked release (npm run release; no internet, compiler or Node needed):
#     tar xzf edge-agent-<version>-linux-<arch>.tar.gz && sudo edge-agent-<version>-linux-<arch>/install.sh
#   source mode, from a built checkout on the box itself (so the native modules fit its architecture):
#     npm ci && npm run build && sudo systemd/install.sh
#
# A release is recognised by the release.json beside this script; it carries its own Node runtime
# (node/), the bundled program (app/) and the command bin/edge-agent.
#
# It creates the `edge-agent` user (in group dialout, for serial ports), /opt/edge-agent (the
# program), /etc/edge-agent (config.yaml and env, never overwritten), /var/lib/edge-agent (the
# buffer), /usr/local/bin/edge-agent, and the unit; then enables and (re)starts the service.
# Running it again upgrades the program and keeps the config and the buffer.
set -euo pipefail

NAME=edge-agent
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$HERE/release.json" ]; then MODE=release; SRC=$HERE; else MODE=source; SRC=$(dirname "$HERE"); fi
# The user, config and data directory are made by the functions every install shares (the .deb too).
[ -f "$SRC/systemd/setup.sh" ] || { echo "$NAME: $SRC/systemd/setup.sh is missing (unpack or check out again)" >&2; exit 1; }
# shellcheck source-path=SCRIPTDIR source=setup.sh
. "$SRC/systemd/setup.sh"

usage() {
  cat <<EOF
Usage: sudo $0 [--no-start] [--no-deps] [--prefix DIR]

  --no-start    install and enable the service, but do not (re)start it
  --no-deps     source mode: do not copy node_modules (the target already has the production dependencies)
  --prefix DIR  lay the files down under DIR as a staging root (packaging, tests): no user,
                no ownership changes, no systemctl; runs without root
EOF
}

PREFIX=""
START=1
DEPS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) PREFIX=${1#*=}; shift ;;
    --no-start) START=0; shift ;;
    --no-deps) DEPS=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$NAME: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
if [ -n "$PREFIX" ]; then
  mkdir -p "$PREFIX"
  PREFIX=$(cd "$PREFIX" && pwd)
fi

staging() { [ -n "$PREFIX" ]; }
release() { [ "$MODE" = release ]; }

APP=$PREFIX/opt/$NAME
UNIT=$PREFIX/etc/systemd/system/$NAME.service
BIN=$PREFIX/usr/local/bin/$NAME

# --- Checks, before anything is touched ----------------------------------------------------------
staging || [ "$(id -u)" = 0 ] || die "run as root (sudo $0), or stage the files with --prefix DIR"
arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
if release; then
  for f in app/cli.js app/agent/ops/static/index.html node/bin/node bin/edge-agent systemd/$NAME.service; do
    [ -e "$SRC/$f" ] || die "this release is incomplete: $SRC/$f is missing (unpack the tarball again)"
  done
  built_for=$(sed -n 's/.*"arch": *"\([^"]*\)".*/\1/p' "$SRC/release.json")
  # The runtime that came with the release must run here: the one check that catches a tarball
  # for another architecture (a 64-bit kernel with a 32-bit Pi OS needs armv7l, not arm64).
  "$SRC/node/bin/node" --version >/dev/null 2>&1 \
    || die "this release is for linux-$built_for and its Node runtime does not run on this $arch box: use the edge-agent-*-linux-<arch>.tar.gz for it (amd64: x64, arm64: arm64, armhf: armv7l)"
else
  [ -f "$SRC/dist/agent/cli.js" ] || die "no build in $SRC: run 'npm ci && npm run build' there first"
  [ -f "$SRC/agent/ops/static/index.html" ] || die "$SRC/agent/ops/static is missing (the status page)"
  NODE=$(command -v node || true)
  [ -n "$NODE" ] || die "Node.js >= 20 is needed (Debian 12 ships 18: install nodejs 20 from NodeSource, or the official tarball; or install a release, which carries its own)"
  major=$("$NODE" -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || die "Node.js $("$NODE" -v) at $NODE is too old: edge-agent needs >= 20"
  if [ "$DEPS" = 1 ] && [ ! -d "$SRC/node_modules/better-sqlite3" ]; then
    die "no node_modules in $SRC: run 'npm ci' there (it builds better-sqlite3 and serialport for $arch)"
  fi
fi
case "$arch" in
  amd64 | arm64 | armhf | x86_64 | aarch64 | armv7l) ;;
  *) say "warning: $arch is not a tested architecture (amd64, arm64, armhf)" ;;
esac

# --- The service user -----------------------------------------------------------------------------
staging || ea_user

# --- The program: staged beside the old one, then swapped in -------------------------------------
mkdir -p "$PREFIX/opt"
stage=$(mktemp -d "$PREFIX/opt/.$NAME.XXXXXX")
trap 'rm -rf "$stage"' EXIT
if release; then
  # The release as it came, install.sh included (running it from /opt/edge-agent reinstalls).
  cp -R "$SRC/app" "$SRC/bin" "$SRC/node" "$SRC/systemd" "$stage/"
  cp "$SRC/install.sh" "$SRC/release.json" "$SRC/README.md" "$stage/"
else
  mkdir -p "$stage/agent/ops" "$stage/config"
  cp -R "$SRC/dist" "$stage/dist"
  cp -R "$SRC/agent/ops/static" "$stage/agent/ops/static"
  cp -R "$SRC/systemd" "$stage/systemd"
  cp "$SRC/config/demo.yaml" "$SRC/config/edge-agent.schema.json" "$stage/config/"
  cp -R "$SRC/templates" "$stage/templates"
  cp "$SRC/package.json" "$SRC/README.md" "$stage/"
  [ -f "$SRC/package-lock.json" ] && cp "$SRC/package-lock.json" "$stage/"
  if [ "$DEPS" = 1 ]; then
    cp -a "$SRC/node_modules" "$stage/node_modules"
    # Offline: only removes what the program does not need (test tools, the browser driver, …).
    (cd "$stage" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error)
  fi
fi
chmod -R u=rwX,go=rX "$stage"
rm -rf "$APP.old"
if [ -e "$APP" ]; then mv "$APP" "$APP.old"; fi
mv "$stage" "$APP"
trap - EXIT
rm -rf "$APP.old"
say "installed the program in $APP"

# --- The command for technicians -----------------------------------------------------------------
# How the installed program is started (the command, the unit and the config check below).
if release; then
  RUN="/opt/$NAME/bin/$NAME"
  RUN_HERE=("$APP/bin/$NAME")
else
  RUN="$NODE /opt/$NAME/dist/agent/cli.js"
  RUN_HERE=("$NODE" "$APP/dist/agent/cli.js")
fi
mkdir -p "$(dirname "$BIN")"
cat >"$BIN.tmp" <<EOF
#!/bin/sh
# edge-agent's command line (installed by $NAME's install.sh)
exec $RUN "\$@"
EOF
chmod 0755 "$BIN.tmp"
mv "$BIN.tmp" "$BIN"

# --- Configuration (written once, never overwritten) and the buffer's directory -------------------
ea_config "$PREFIX"
ea_data "$PREFIX"
staging || ea_own

# --- The unit, with this machine's node (source) or the release's command -------------------------
mkdir -p "$(dirname "$UNIT")"
if release; then
  ea_unit "$SRC/systemd/$NAME.service" "$RUN" >"$UNIT.tmp"
else
  # The system's node, with the unit's V8 flags kept (EDGE_NODE_FLAGS, overridable in /etc/edge-agent/env).
  ea_unit "$SRC/systemd/$NAME.service" "$NODE \$EDGE_NODE_FLAGS /opt/$NAME/dist/agent/cli.js" >"$UNIT.tmp"
fi
chmod 0644 "$UNIT.tmp"
mv "$UNIT.tmp" "$UNIT"

if staging; then
  say "staged under $PREFIX (no user, no ownership, no systemctl)"
  exit 0
fi

# --- Check the config as the service will read it, then start -------------------------------------
valid=1
runuser -u "$NAME" -- "${RUN_HERE[@]}" validate --config "/etc/$NAME/config.yaml" || valid=0
if [ ! -d /run/systemd/system ]; then
  say "systemd is not running here (a container?): the unit is installed, not enabled"
  exit 0
fi
systemctl daemon-reload
systemctl enable "$NAME.service" >/dev/null
say "enabled $NAME.service"
if [ "$START" = 0 ]; then
  say "not started (--no-start): sudo systemctl start $NAME"
elif [ "$valid" = 0 ]; then
  say "not started: fix /etc/$NAME/config.yaml (above), then: sudo systemctl restart $NAME"
  exit 1
else
  # Type=notify: this returns once the agent said READY=1 (or failed).
  systemctl restart "$NAME.service"
  systemctl --no-pager --lines=5 status "$NAME.service" || true
  say "running. Logs: journalctl -u $NAME -f   Status page: http://127.0.0.1:8080/ (http.host/port in config.yaml)"
fi
