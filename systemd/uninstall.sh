#!/usr/bin/env bash
# Removes the edge-agent service installed by install.sh. The configuration (/etc/edge-agent) and
# the buffer (/var/lib/edge-agent — it may hold points not yet delivered) are kept unless --purge.
set -euo pipefail

NAME=edge-agent
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=setup.sh
. "$HERE/setup.sh"

usage() {
  cat <<EOF
Usage: sudo $0 [--purge] [--prefix DIR]

  --purge       also delete /etc/$NAME, /var/lib/$NAME (undelivered points too) and the user
  --prefix DIR  remove what install.sh --prefix DIR laid down there (no systemctl, no userdel)
EOF
}

PREFIX=""
PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) PREFIX=${1#*=}; shift ;;
    --purge) PURGE=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$NAME: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

staging() { [ -n "$PREFIX" ]; }
staging || [ "$(id -u)" = 0 ] || { echo "$NAME: run as root (sudo $0)" >&2; exit 1; }

UNIT=$PREFIX/etc/systemd/system/$NAME.service

if ! staging && [ -d /run/systemd/system ]; then
  systemctl disable --now "$NAME.service" 2>/dev/null || true
fi
rm -f "$UNIT"
if ! staging && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl reset-failed "$NAME.service" 2>/dev/null || true
fi
rm -rf "$PREFIX/opt/$NAME" "$PREFIX/opt/$NAME.old"
rm -f "$PREFIX/usr/local/bin/$NAME"
say "removed the service and the program"

if [ "$PURGE" = 1 ]; then
  ea_purge "$PREFIX"
else
  say "kept $PREFIX/etc/$NAME and $PREFIX/var/lib/$NAME (the buffer may hold undelivered points); --purge deletes them"
fi
