# shellcheck shell=sh
# The system side of an edge-agent installation (user, config, data directory, unit, purge), in ONE
# copy for every way of installing: systemd/install.sh and systemd/uninstall.sh source it, and
# packaging/deb.ts writes it into the .deb's postinst and postrm (a postrm runs after the package's
# files are gone, so it could not source it from /opt/edge-agent).
#
# POSIX sh: maintainer scripts run under dash. Every function can run again (upgrades, reinstalls,
# a postinst run twice): it makes what is missing and keeps what is there. A ROOT argument is the
# directory everything is laid down under: "" for the box itself, install.sh --prefix's DIR when
# staging (then no user and no ownership: see ea_own).

NAME=edge-agent

say() { printf '%s: %s\n' "$NAME" "$*"; }
die() {
  printf '%s: %s\n' "$NAME" "$*" >&2
  exit 1
}

# The service user and group, edge-agent, also in dialout for the serial ports (the unit adds
# dialout too, SupplementaryGroups=; membership also lets `sudo -u edge-agent edge-agent run --once`
# reach them when commissioning).
ea_user() {
  getent group "$NAME" >/dev/null || groupadd --system "$NAME"
  if ! getent passwd "$NAME" >/dev/null; then
    useradd --system --gid "$NAME" --home-dir "/var/lib/$NAME" --no-create-home --shell /usr/sbin/nologin \
      --comment "edge-agent service" "$NAME"
    say "created user $NAME"
  fi
  if getent group dialout >/dev/null; then usermod -a -G dialout "$NAME"; fi
}

# ROOT/etc/edge-agent/config.yaml (gateway id: the host's name) and env: written once, never overwritten.
ea_config() {
  ea_etc=$1/etc/$NAME
  mkdir -p "$ea_etc"
  chmod 0750 "$ea_etc"
  if [ ! -e "$ea_etc/config.yaml" ]; then
    ea_gateway=$(hostname -s 2>/dev/null | tr -c 'A-Za-z0-9_.:\n-' '-' || true)
    [ -n "$ea_gateway" ] || ea_gateway=gw-1
    cat >"$ea_etc/config.yaml" <<EOF
# edge-agent configuration, written when edge-agent was installed (and never overwritten).
# Check it:   edge-agent validate --config /etc/edge-agent/config.yaml
# Apply it:   sudo systemctl restart edge-agent
# Reference:  /opt/edge-agent/README.md. Secrets go in /etc/edge-agent/env (INFLUX_TOKEN=…) and are
# used here as \${INFLUX_TOKEN}.
gateway:
  id: $ea_gateway
  # site: pozo-17
  # tags: { region: maule }

buffer:
  path: /var/lib/edge-agent/buffer.db

# sinks:
#   influx:
#     url: https://influx.ops.example:8086
#     token: \${INFLUX_TOKEN}
#     org: ops
#     bucket: telemetry
#   postgres:
#     url: postgres://edge:\${PG_PASSWORD}@db.ops.example/telemetry

http:
  host: 127.0.0.1   # 0.0.0.0 shows the status page on the LAN; then set a token
  port: 8080
  # token: \${HTTP_TOKEN}

log:
  level: info

devices: []
#  - id: pump-1
#    driver: modbus
#    connection: { protocol: tcp, host: 192.168.1.50, port: 502, unitId: 1, timeout: 1s }
#    every: 10s
#    points:
#      flow: { register: holding, address: 0, type: float32, unit: m3/h }
EOF
    chmod 0640 "$ea_etc/config.yaml"
    say "wrote $ea_etc/config.yaml (gateway id $ea_gateway): add your devices and sinks there"
  else
    say "kept $ea_etc/config.yaml"
  fi
  if [ ! -e "$ea_etc/env" ]; then
    cat >"$ea_etc/env" <<'EOF'
# Secrets for ${VAR} references in config.yaml, one VAR=value per line (systemd EnvironmentFile=).
# INFLUX_TOKEN=
# PG_PASSWORD=
# HTTP_TOKEN=
EOF
    chmod 0640 "$ea_etc/env"
  fi
}

# ROOT/var/lib/edge-agent, the buffer's directory (systemd's StateDirectory= would create it too).
ea_data() {
  mkdir -p "$1/var/lib/$NAME"
  chmod 0750 "$1/var/lib/$NAME"
}

# On the box itself (not a staging root): the config readable by the service, the data directory its own.
ea_own() {
  chown root:"$NAME" "/etc/$NAME" "/etc/$NAME/config.yaml" "/etc/$NAME/env"
  chown "$NAME":"$NAME" "/var/lib/$NAME"
}

# Prints the unit SOURCE (systemd/edge-agent.service, written for a source checkout on the
# system's node) with ExecStart= running COMMAND (the installed program's command line) instead.
ea_unit() {
  sed "s|^ExecStart=/usr/bin/node \$EDGE_NODE_FLAGS /opt/$NAME/dist/agent/cli.js |ExecStart=$2 |" "$1"
}

# Deletes ROOT/etc/edge-agent, ROOT/var/lib/edge-agent (undelivered points too) and, on the box
# itself, the user and group.
ea_purge() {
  rm -rf "$1/etc/${NAME:?}" "$1/var/lib/${NAME:?}"
  # userdel may be gone by the time a package is purged (only essential packages are sure to be there).
  if [ -z "$1" ] && command -v userdel >/dev/null; then
    if getent passwd "$NAME" >/dev/null; then userdel "$NAME"; fi
    if getent group "$NAME" >/dev/null; then groupdel "$NAME" 2>/dev/null || true; fi
  fi
  say "purged the configuration, the buffer and the user"
}
