#!/usr/bin/env bash
# ops/kube.sh build | start|stop|status NAME PORT
#
# A real Kubernetes API server for the deployments' Kubernetes backend tests:
#   build   kube-apiserver $KUBE_VERSION, built from the Go module proxy into
#           $CACHE/go/bin/kube-apiserver-$KUBE_VERSION (first run ~5 min on 2 cores, then cached).
#           `go install k8s.io/kubernetes/cmd/kube-apiserver@...` is refused (its go.mod replaces
#           the staging modules with local paths), so a wrapper module replaces each of them
#           with its published module, the list read from that same go.mod.
#   start   etcd (Debian's etcd-server, installed if missing) on PORT+1/PORT+2 and the API
#           server on https://127.0.0.1:PORT, token auth (the token is in STATEDIR/token),
#           state in $REPO/.regions/NAME/kube. There is no kubelet: pods stay Pending.
set -euo pipefail
# shellcheck disable=SC2034  # SVC is the log prefix used by lib.sh
SVC=kube
# shellcheck source=ops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBE_VERSION=${KUBE_VERSION:-v1.34.1}
STAGING_VERSION=${STAGING_VERSION:-v0.${KUBE_VERSION#v1.}}
KUBE_BIN="$GO_CACHE/bin/kube-apiserver-$KUBE_VERSION"

build() {
  [[ -x "$KUBE_BIN" ]] && { echo "$KUBE_BIN"; return 0; }
  command -v go >/dev/null || die "go is required to build kube-apiserver"
  mkdir -p "$GO_CACHE/bin"
  exec 9>"$GO_CACHE/kube.lock"
  flock 9   # checkouts sharing the cache build it once
  if [[ ! -x "$KUBE_BIN" ]]; then
    log "building kube-apiserver $KUBE_VERSION from the Go module proxy (first run only, minutes)"
    local work="$CACHE/kube/build-$KUBE_VERSION" gomod
    rm -rf "$work" && mkdir -p "$work"
    gomod=$(cd "$work" && go_env go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" \
              | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [[ -s "$gomod" ]] || die "cannot read k8s.io/kubernetes@$KUBE_VERSION's go.mod"
    {
      printf 'module k8sbuild\n\ngo 1.24\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$KUBE_VERSION"
      sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*#\t\1 => \1 '"$STAGING_VERSION"'#p' "$gomod"
      printf ')\n'
    } >"$work/go.mod"
    printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >"$work/tools.go"
    ( cd "$work" && go_env go mod tidy && go_env go build -trimpath -ldflags "-s -w" \
        -o "$KUBE_BIN.tmp" k8s.io/kubernetes/cmd/kube-apiserver ) >"$work/build.log" 2>&1 \
      || { tail -30 "$work/build.log" >&2; die "kube-apiserver build failed (log: $work/build.log)"; }
    mv "$KUBE_BIN.tmp" "$KUBE_BIN"
  fi
  echo "$KUBE_BIN"
}

if [[ "${1:-}" == build ]]; then
  build
  exit 0
fi
parse_svc_args "$@"
DIR="$REGIONS/$NAME/kube"

start() {
  command -v etcd >/dev/null || { log "installing etcd-server via apt"; apt_install etcd-server; }
  local bin
  bin=$(build)
  if pid_alive "$DIR/apiserver.pid" kube-apiserver; then
    guard_port "$DIR"
    log "already running on $HOST:$PORT"
    return 0
  fi
  mkdir -p "$DIR/etcd" "$DIR/certs"
  record_port "$DIR"
  [[ -s "$DIR/token" ]] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/token"
  printf '%s,admin,admin,system:masters\n' "$(<"$DIR/token")" >"$DIR/tokens.csv"
  [[ -s "$DIR/sa.key" ]] || openssl genrsa -out "$DIR/sa.key" 2048 2>/dev/null
  local etcd_client=$(( PORT + 1 )) etcd_peer=$(( PORT + 2 ))
  reserve_ports "$etcd_client-$etcd_peer"
  if ! pid_alive "$DIR/etcd.pid" etcd; then
    nohup etcd --name "kube-$NAME" --data-dir "$DIR/etcd" \
      --listen-client-urls "http://$HOST:$etcd_client" --advertise-client-urls "http://$HOST:$etcd_client" \
      --listen-peer-urls "http://$HOST:$etcd_peer" --initial-advertise-peer-urls "http://$HOST:$etcd_peer" \
      --initial-cluster "kube-$NAME=http://$HOST:$etcd_peer" >"$DIR/etcd.log" 2>&1 &
    echo $! >"$DIR/etcd.pid"
    wait_for 30 "etcd on $etcd_client" port_open "$etcd_client" || { tail -20 "$DIR/etcd.log" >&2; die "etcd did not start"; }
  fi
  nohup "$bin" --etcd-servers "http://$HOST:$etcd_client" \
    --bind-address "$HOST" --advertise-address "$HOST" --secure-port "$PORT" \
    --cert-dir "$DIR/certs" --token-auth-file "$DIR/tokens.csv" --authorization-mode RBAC \
    --service-account-key-file "$DIR/sa.key" --service-account-signing-key-file "$DIR/sa.key" \
    --service-account-issuer "https://kubernetes.default.svc" --service-cluster-ip-range 10.96.0.0/16 \
    >"$DIR/apiserver.log" 2>&1 &
  echo $! >"$DIR/apiserver.pid"
  ready() { curl -skf -H "Authorization: Bearer $(<"$DIR/token")" "https://$HOST:$PORT/readyz" >/dev/null; }
  wait_for 90 "kube-apiserver on $PORT" ready || { tail -30 "$DIR/apiserver.log" >&2; die "kube-apiserver did not start"; }
  log "up on https://$HOST:$PORT (token: $DIR/token)"
}

stop() {
  [[ -d "$DIR" ]] || return 0
  guard_port "$DIR"
  stop_pidfile "$DIR/apiserver.pid"
  stop_pidfile "$DIR/etcd.pid"
  rm -rf "$DIR"
}

case "$ACTION" in
  start) start ;;
  stop) stop ;;
  status) pid_alive "$DIR/apiserver.pid" kube-apiserver && echo "up" || echo "down" ;;
esac
