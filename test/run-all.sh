#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs and starts what the tests need,
# then lint, build and every test. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) to run: $*" >&2; return 1; fi
}

# --- Debian packages the tests talk to -------------------------------------------------------
need=()
command -v victoria-metrics >/dev/null || need+=(victoria-metrics)
command -v socat >/dev/null || need+=(socat)
command -v mbpoll >/dev/null || need+=(mbpoll)
# pymodbus's server imports pyserial and serial_asyncio, which Debian only recommends.
/usr/bin/python3 -c 'import pymodbus.server, serial' 2>/dev/null || need+=(python3-pymodbus python3-serial python3-serial-asyncio)
command -v mosquitto >/dev/null || need+=(mosquitto)
# mosquitto_pub / mosquitto_passwd: the ops push test publishes like an operator would.
command -v mosquitto_pub >/dev/null && command -v mosquitto_passwd >/dev/null || need+=(mosquitto-clients mosquitto)
command -v openssl >/dev/null || need+=(openssl)
# The fleet tests put Debian's PgBouncer (transaction pooling) in front of PostgreSQL.
[ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
[ -x /usr/bin/time ] || need+=(time) # GNU time: the bench's cli phase reads peak RSS with it
command -v pg_ctlcluster >/dev/null || command -v psql >/dev/null || need+=(postgresql)
command -v make >/dev/null && command -v g++ >/dev/null && command -v python3 >/dev/null || need+=(build-essential python3)
# The status page test drives Debian's chromium; the unit and notify tests use systemd's tools
# (systemd-analyze, systemd-notify; systemd need not run) and shellcheck for the install scripts.
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v systemd-analyze >/dev/null && command -v systemd-notify >/dev/null || need+=(systemd)
command -v shellcheck >/dev/null || need+=(shellcheck)
# The release test cross-compiles the native modules for arm64 and armhf and runs those builds
# under qemu-user-static, with the cross libc (libc6-*-cross) as sysroot.
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v arm-linux-gnueabihf-g++ >/dev/null || need+=(g++-arm-linux-gnueabihf)
[ -d /usr/aarch64-linux-gnu/lib ] || need+=(libc6-arm64-cross)
[ -d /usr/arm-linux-gnueabihf/lib ] || need+=(libc6-armhf-cross)
command -v qemu-aarch64-static >/dev/null && command -v qemu-arm-static >/dev/null || need+=(qemu-user-static)
if [ ${#need[@]} -gt 0 ]; then
  log "installing Debian packages: ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- PostgreSQL: the machine's own if it answers, else a private throw-away cluster -----------
export PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432/test}"
pg_ok() { psql "$PGURL" -qAtc 'select 1' >/dev/null 2>&1; }
if ! pg_ok && command -v pg_ctlcluster >/dev/null && ls /etc/postgresql/*/main >/dev/null 2>&1; then
  log "starting the machine's PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start 2>/dev/null || true
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
  psql "${PGURL%/*}/postgres" -qAtc "select 1 from pg_database where datname='test'" 2>/dev/null | grep -q 1 \
    || psql "${PGURL%/*}/postgres" -qc 'create database test' 2>/dev/null || true
fi
if ! pg_ok; then
  # The system cluster is missing or not trust-authenticated: run our own, trust auth, on a free port.
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  dir=$(mktemp -d /tmp/edge-agent-pg.XXXXXX)
  chmod 755 "$dir"
  run_pg() { if [ "$(id -u)" = 0 ]; then chown -R postgres "$dir"; runuser -u postgres -- "$@"; else "$@"; fi; }
  log "starting a private PostgreSQL on 127.0.0.1:$port ($dir)"
  run_pg "$bindir/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
  run_pg "$bindir/pg_ctl" -D "$dir/data" -o "-p $port -k $dir -c listen_addresses=127.0.0.1" -l "$dir/log" -w start >/dev/null
  trap 'run_pg "$bindir/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true' EXIT
  psql "postgres://postgres@127.0.0.1:$port/postgres" -qc 'create database test'
  export PGURL="postgres://postgres@127.0.0.1:$port/test"
fi
pg_ok || { echo "PostgreSQL is not reachable at $PGURL" >&2; exit 1; }

# --- Node dependencies, lint, build, tests ---------------------------------------------------
log "npm ci"
npm ci --no-audit --no-fund --loglevel=error
log "lint"
npm run --silent lint
log "build"
npm run --silent build
log "tests"
export EDGE_TEST_STRICT=1 # a missing peer fails its test instead of skipping it
report=$(mktemp /tmp/edge-agent-vitest.XXXXXX.json)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" || status=$?
# One plain closing line that any CI reader understands.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`\n${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + (r.numTodoTests ?? 0)} skipped`);
' "$report" || true
exit "$status"
