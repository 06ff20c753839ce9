#!/usr/bin/env bash
# ops/network.sh build | start NAME PORT | stop NAME
#
# The network between the regions of a world (ops/world): Toxiproxy, built with `go install`
# from the Go module proxy into $REPO/.cache/go (first run only, under a minute), serving
# its API on 127.0.0.1:PORT. ops/world sends every link that crosses a region's border
# through it (one proxy per link), so a drill (chaos/network.py) can cut a region off or
# slow its links down while every process keeps running. State: $REGIONS/NAME/network.
set -euo pipefail
# shellcheck disable=SC2034  # SVC is the log prefix used by lib.sh
SVC=network
# shellcheck source=ops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TOXIPROXY_VERSION=${TOXIPROXY_VERSION:-v2.5.0}
TOXIPROXY_BIN="$GO_CACHE/bin/toxiproxy-$TOXIPROXY_VERSION"

build() {
  [[ -x "$TOXIPROXY_BIN" ]] && { echo "$TOXIPROXY_BIN"; return 0; }
  command -v go >/dev/null || die "go is required to build Toxiproxy"
  mkdir -p "$GO_CACHE/bin"
  exec 9>"$GO_CACHE/toxiproxy.lock"
  flock 9   # two checkouts (or the test run's prebuild and a world) build it once
  if [[ ! -x "$TOXIPROXY_BIN" ]]; then
    log "building Toxiproxy $TOXIPROXY_VERSION with go install (first run only)"
    local tmp="$GO_CACHE/bin.toxiproxy.$$"
    go_env GOBIN="$tmp" go install -trimpath -ldflags "-s -w" \
        "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" >"$GO_CACHE/toxiproxy-build.log" 2>&1 \
      || { tail -30 "$GO_CACHE/toxiproxy-build.log" >&2; rm -rf "$tmp"; die "Toxiproxy build failed"; }
    mv "$tmp/server" "$TOXIPROXY_BIN"
    rm -rf "$tmp"
  fi
  echo "$TOXIPROXY_BIN"
}

start() {
  local name=$1 port=$2 dir="$REGIONS/$1/network" bin
  bin=$(build)
  mkdir -p "$dir"
  if pid_alive "$dir/pid" toxiproxy; then
    log "network ($name) already running (pid $(<"$dir/pid"))"
    return 0
  fi
  reserve_ports "$port"
  LOG_LEVEL=${NETWORK_LOG_LEVEL:-warn} setsid "$bin" -host "$HOST" -port "$port" </dev/null >"$dir/out" 2>&1 &
  echo $! >"$dir/pid"
  if ! wait_for 30 "the network's API" curl -fsS -o /dev/null --max-time 2 "http://$HOST:$port/version"; then
    tail -20 "$dir/out" >&2
    die "Toxiproxy did not answer on $HOST:$port"
  fi
  log "network ($name) on http://$HOST:$port (Toxiproxy $TOXIPROXY_VERSION)"
}

stop() { stop_pidfile "$REGIONS/$1/network/pid" 10; }

case "${1:-}" in
  build) build >/dev/null ;;
  start) [[ $# -eq 3 ]] || { echo "usage: $0 start NAME PORT" >&2; exit 2; }; start "$2" "$3" ;;
  stop) [[ $# -eq 2 ]] || { echo "usage: $0 stop NAME" >&2; exit 2; }; stop "$2" ;;
  *) echo "usage: $0 build | start NAME PORT | stop NAME" >&2; exit 2 ;;
esac
