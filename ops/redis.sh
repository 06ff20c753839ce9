#!/usr/bin/env bash
# ops/redis.sh start|stop|status NAME PORT
#
# Runs a private redis-server for region NAME on 127.0.0.1:PORT.
# State lives in $REPO/.regions/NAME/redis (pidfile, log, working dir).
# No persistence: this is a cache tier for a dev stack, so --save '' --appendonly no.
set -euo pipefail
# shellcheck disable=SC2034  # SVC is the log prefix used by lib.sh
SVC=redis
# shellcheck source=ops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_svc_args "$@"

DIR="$REGIONS/$NAME/redis"
PIDFILE="$DIR/redis.pid"
LOGFILE="$DIR/redis.log"

# Install redis-server from Debian if missing. The package would normally start
# (and enable) a system-wide instance on 6379; we never want that one running,
# so apt_install blocks service starts and we disable/stop it defensively anyway.
ensure_installed() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    log "installing redis-server via apt"
    apt_install redis-server
  fi
  # Also run when someone else installed the package: keep 6379 free and the
  # system instance from coming back at boot.
  disable_system_redis
}

disable_system_redis() {
  [[ -e /etc/init.d/redis-server || -e /lib/systemd/system/redis-server.service ]] || return 0
  systemctl disable redis-server >/dev/null 2>&1 || true     # works without a running systemd
  update-rc.d redis-server disable >/dev/null 2>&1 || true   # sysvinit links
  if [[ -s /run/redis/redis-server.pid ]] && pid_alive /run/redis/redis-server.pid; then
    log "stopping the apt-started system redis on 6379"
    service redis-server stop >/dev/null 2>&1 || stop_pidfile /run/redis/redis-server.pid
  fi
}

ping_ok() {
  [[ "$(redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null)" == PONG ]]
}

alive() { pid_alive "$PIDFILE" redis-server; }

start() {
  ensure_installed
  mkdir -p "$DIR"
  if alive; then
    guard_port "$DIR"
    ping_ok || die "redis pid $(<"$PIDFILE") alive but not answering on $HOST:$PORT"
    log "already running (pid $(<"$PIDFILE"))"
  else
    port_open "$PORT" && die "port $PORT on $HOST is already taken by another process"
    # All config on the command line: nothing to template, nothing stale on disk.
    redis-server \
      --bind "$HOST" --port "$PORT" --protected-mode yes \
      --daemonize yes --pidfile "$PIDFILE" --logfile "$LOGFILE" \
      --dir "$DIR" --save '' --appendonly no \
      --maxmemory 256mb --maxmemory-policy noeviction
    record_port "$DIR"
    wait_for 20 "redis PING on $PORT" ping_ok || { tail -20 "$LOGFILE" >&2; exit 1; }
    log "started (pid $(<"$PIDFILE"))"
  fi
  echo "redis ($NAME) listening on redis://$HOST:$PORT/0"
}

stop() {
  if alive; then
    guard_port "$DIR"
    local pid; pid=$(<"$PIDFILE")
    # SHUTDOWN NOSAVE is the clean path (redis removes its own pidfile);
    # fall back to signalling the recorded pid.
    redis-cli -h "$HOST" -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    wait_for 10 "redis exit" bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
    rm -f "$PIDFILE" "$DIR/port"
    echo "redis ($NAME) stopped"
  else
    rm -f "$PIDFILE" "$DIR/port"
    echo "redis ($NAME) not running"
  fi
}

status() {
  if alive; then guard_port "$DIR"; fi
  if alive && ping_ok; then
    echo "redis ($NAME) running pid $(<"$PIDFILE") on redis://$HOST:$PORT/0 rss $(rss_of "$PIDFILE")"
  else
    echo "redis ($NAME) not running (expected on $HOST:$PORT)"
    return 3
  fi
}

"$ACTION"
