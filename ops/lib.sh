# shellcheck shell=bash
# Shared helpers for the ops/ scripts. Sourced, never executed directly.
#
# Everything is located relative to this file so the repo can live anywhere:
#   $REPO/.cache/    downloads and builds (jars, binaries, scratch venvs)
#   $REPO/.regions/  per-region runtime state (data dirs, pidfiles, logs)

OPS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$OPS_DIR/.." && pwd)"
# Overridable so CI (which runs in a fresh clone) can point at a persistent cache.
CACHE="${GRANARY_OPS_CACHE:-$REPO/.cache}"
# shellcheck disable=SC2034  # used by the scripts that source this file
REGIONS="${GRANARY_OPS_REGIONS:-$REPO/.regions}"
# All services bind here and nowhere else.
HOST=127.0.0.1

# Go's module and build caches live in the shared ops cache, never in $HOME: go_env CMD...
# runs a Go command with them (the builds of OpenTofu and kube-apiserver).
GO_CACHE="$CACHE/go"
go_env() {
  env GOPATH="$GO_CACHE" GOMODCACHE="$GO_CACHE/mod" GOCACHE="$GO_CACHE/build" \
      GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0 "$@"
}

log()  { printf '[%s] %s\n' "${SVC:-ops}" "$*" >&2; }
die()  { log "ERROR: $*"; exit 1; }

# usage_svc SCRIPTNAME: standard argument check for the per-service scripts.
# Sets ACTION NAME PORT.
parse_svc_args() {
  if [[ $# -ne 3 ]] || [[ ! "$1" =~ ^(start|stop|status)$ ]]; then
    echo "usage: $(basename "$0") start|stop|status NAME PORT" >&2
    exit 2
  fi
  ACTION=$1 NAME=$2 PORT=$3
  [[ "$NAME" =~ ^[A-Za-z0-9_-]+$ ]] || die "bad region name '$NAME'"
  if ! [[ "$PORT" =~ ^[0-9]+$ ]] || (( PORT <= 1024 || PORT >= 65535 )); then
    die "bad port '$PORT'"
  fi
  [[ $ACTION == start ]] && reserve_ports "$PORT-$(( PORT + 1 ))"  # kafka: controller at +1
  return 0
}

# reserve_ports RANGE: keep the kernel from handing these ports out as the local port of
# an outgoing connection or a port-0 bind. Our fixed ports lie inside Linux's ephemeral
# range (32768-60999), so a service started late in a test run could otherwise find its
# port held by some client's connection. Needs root; without it nothing changes.
reserve_ports() {
  local f=/proc/sys/net/ipv4/ip_local_reserved_ports current
  [[ -w $f ]] || return 0
  current=$(<"$f")
  echo "${current:+$current,}$1" >"$f" 2>/dev/null || true
}

# port_open PORT: true if something accepts TCP connections on $HOST:PORT.
port_open() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# wait_for TIMEOUT_SECS DESCRIPTION CMD...: poll CMD every 0.2s until it succeeds.
wait_for() {
  local timeout=$1 what=$2; shift 2
  local deadline=$(( SECONDS + timeout ))
  until "$@"; do
    if (( SECONDS >= deadline )); then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

# pid_alive PIDFILE [PATTERN]: true if the pidfile names a running process
# (whose command line contains PATTERN, if given: guards against pid reuse).
pid_alive() {
  local f=$1 pattern=${2:-} pid
  [[ -s "$f" ]] || return 1
  pid=$(<"$f")
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ -z "$pattern" ]] && return 0
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"
}

# Each service records the port it was started on in STATEDIR/port, so that
# `stop NAME OTHERPORT` can never take down an instance someone started with
# the same NAME but a different port.
record_port() { echo "$PORT" > "$1/port"; }
guard_port() {
  local rec; rec=$(cat "$1/port" 2>/dev/null || true)
  if [[ -n "$rec" && "$rec" != "$PORT" ]]; then
    die "$SVC of region $NAME is running on port $rec, not $PORT; not touching it (use: $(basename "$0") $ACTION $NAME $rec)"
  fi
}

# stop_pidfile PIDFILE [TIMEOUT]: SIGTERM the process, wait, SIGKILL as a last resort.
# Only ever signals the exact pid recorded by our own start.
stop_pidfile() {
  local f=$1 timeout=${2:-30} pid
  if ! pid_alive "$f"; then rm -f "$f"; return 0; fi
  pid=$(<"$f")
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( SECONDS + timeout ))
  while kill -0 "$pid" 2>/dev/null; do
    if (( SECONDS >= deadline )); then
      log "pid $pid ignored SIGTERM for ${timeout}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$f"
}

# rss_of PIDFILE: resident memory in MiB (for status output).
rss_of() {
  local pid
  pid_alive "$1" || { echo "-"; return; }
  pid=$(<"$1")
  awk '/VmRSS/ {printf "%d MiB", $2/1024}' "/proc/$pid/status" 2>/dev/null || echo "-"
}

# apt_install PKG...: install Debian packages without letting their init
# scripts start system-wide services (we run our own instances on our ports).
apt_install() {
  local created_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    # policy-rc.d exit 101 = "action forbidden": invoke-rc.d will not start services.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  local apt_lists_fresh
  apt_lists_fresh=$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)
  [[ -n "$apt_lists_fresh" ]] || DEBIAN_FRONTEND=noninteractive apt-get update -qq
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 || rc=$?
  if (( created_policy )); then rm -f /usr/sbin/policy-rc.d; fi
  return $rc
}

# maven_libs POM_DIR LIBS: resolve the runtime closure of POM_DIR/pom.xml from Maven Central
# into LIBS (LIBS/.complete marks a finished copy; the local repository is $CACHE/m2).
maven_libs() {
  local pom_dir=$1 libs=$2
  command -v mvn >/dev/null || die "maven (mvn) is required to fetch jars from Maven Central"
  rm -rf "$libs.tmp"
  mvn -B -q -Dstyle.color=never -f "$pom_dir/pom.xml" -Dmaven.repo.local="$CACHE/m2" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs.tmp" \
      >"$pom_dir/mvn.log" 2>&1 || { tail -30 "$pom_dir/mvn.log" >&2; die "resolving the jars of $pom_dir/pom.xml failed"; }
  # Our log4j2 binding is in the pom; drop any other slf4j binding so slf4j does not pick at random.
  rm -f "$libs.tmp"/slf4j-reload4j-*.jar "$libs.tmp"/slf4j-log4j12-*.jar "$libs.tmp"/slf4j-simple-*.jar
  touch "$libs.tmp/.complete"
  rm -rf "$libs" && mv "$libs.tmp" "$libs"
  log "cached $(find "$libs" -name '*.jar' | wc -l) jars in $libs"
}

# log4j_console FILE [LOGGER=LEVEL]...: a log4j2 config for a JVM of ours: WARN and up to the
# console (the service's out file), and each named logger at its own level.
log4j_console() {
  local file=$1 pair n=0; shift
  {
    cat <<'L4J'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = STDOUT
L4J
    for pair in "$@"; do
      n=$(( n + 1 ))
      printf 'logger.l%d.name = %s\nlogger.l%d.level = %s\n' "$n" "${pair%=*}" "$n" "${pair#*=}"
    done
  } >"$file"
}

# scratch_venv: a throwaway-but-cached venv for verification tools
# (kafka-python, boto3, pyarrow...). Kept out of the project's .venv on purpose.
SCRATCH_VENV="$CACHE/ops-venv"
scratch_venv() {
  if [[ ! -x "$SCRATCH_VENV/bin/python" ]]; then
    python3 -m venv "$SCRATCH_VENV" >&2
    "$SCRATCH_VENV/bin/pip" install -q --upgrade pip >&2
  fi
  if (( $# )); then "$SCRATCH_VENV/bin/pip" install -q "$@" >&2; fi
  echo "$SCRATCH_VENV/bin/python"
}
