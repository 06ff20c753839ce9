#!/usr/bin/env bash
# ops/kafka-mirror.sh start NAME CONFIG CLUSTER | stop NAME | status NAME | jars
#
# Runs Kafka's MirrorMaker 2 in dedicated mode (org.apache.kafka.connect.mirror.MirrorMaker)
# for region NAME, the region whose Kafka it writes into:
#   start   CONFIG is an mm2.properties (written by replication/kafka_mirror.py), CLUSTER
#           the alias of NAME's cluster in it (--clusters: this process runs only the
#           flows into that cluster). Returns once MirrorMaker says it started.
#   stop    SIGTERM (the Connect workers stop their tasks and commit), SIGKILL after 30 s
#   status  exit 3 when not running
#   (MIRROR_LOG_LEVEL=DEBUG: the connectors' own logging; default WARN)
#   jars    resolve the jars only (first run: about 20 s from Maven Central)
# The connect-mirror and connect-mirror-client jars of the broker's Kafka version and
# their runtime closure come from Maven Central through Maven, cached in
# $CACHE/kafka/<version>/mirror-libs. State: $REGIONS/NAME/mirror/{pid,out,log4j2.properties}.
set -euo pipefail
# shellcheck disable=SC2034  # SVC is the log prefix used by lib.sh
SVC=kafka-mirror
# shellcheck source=ops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_VERSION=${KAFKA_VERSION:-4.1.2}
LOG4J_VERSION=${LOG4J_VERSION:-2.25.3}
MIRROR_HEAP=${MIRROR_HEAP:--Xms64m -Xmx256m}
MIRROR_JVM_OPTS=${MIRROR_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1}
MHOME="$CACHE/kafka/$KAFKA_VERSION"
LIBS="$MHOME/mirror-libs"

usage() { echo "usage: $(basename "$0") start NAME CONFIG CLUSTER | stop NAME | status NAME | jars" >&2; exit 2; }

fetch_jars() {
  [[ -f "$LIBS/.complete" ]] && return 0
  log "resolving MirrorMaker 2 (Kafka $KAFKA_VERSION) jars from Maven Central (first run only)"
  mkdir -p "$MHOME/mirror-pom"
  cat > "$MHOME/mirror-pom/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>granary.ops</groupId>
  <artifactId>kafka-mirror-runtime</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <!-- MirrorMaker (dedicated mode), its connectors, and the Connect runtime they need -->
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-mirror</artifactId><version>$KAFKA_VERSION</version></dependency>
    <!-- ReplicationPolicy, RemoteClusterUtils (offset translation) -->
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-mirror-client</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
  maven_libs "$MHOME/mirror-pom" "$LIBS"
}

set_name() {
  NAME=$1
  [[ "$NAME" =~ ^[A-Za-z0-9_-]+$ ]] || die "bad region name '$NAME'"
  DIR="$REGIONS/$NAME/mirror" PIDFILE="$REGIONS/$NAME/mirror/pid" OUT="$REGIONS/$NAME/mirror/out"
}

alive() { pid_alive "$PIDFILE" connect.mirror.MirrorMaker; }

start() {
  local config=$1 cluster=$2
  [[ -f "$config" ]] || die "no MirrorMaker config at $config"
  fetch_jars
  mkdir -p "$DIR"
  if alive; then log "already running (pid $(<"$PIDFILE")); stop it to load a new config"; return 0; fi
  # WARN and up, plus the lines that say MirrorMaker and its connectors started
  log4j_console "$DIR/log4j2.properties" org.apache.kafka.connect.mirror="${MIRROR_LOG_LEVEL:-WARN}" \
    org.apache.kafka.connect.mirror.MirrorMaker=INFO
  # shellcheck disable=SC2086
  setsid java $MIRROR_HEAP $MIRROR_JVM_OPTS -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$DIR/log4j2.properties" -cp "$LIBS/*" \
    org.apache.kafka.connect.mirror.MirrorMaker "$config" --clusters "$cluster" </dev/null >"$OUT" 2>&1 &
  echo $! >"$PIDFILE"
  if ! wait_for 180 "MirrorMaker to start" bash -c "kill -0 $(<"$PIDFILE") 2>/dev/null && grep -q 'Kafka MirrorMaker started' '$OUT'"; then
    tail -30 "$OUT" >&2
    stop_pidfile "$PIDFILE" 10
    die "MirrorMaker did not start"
  fi
  echo "MirrorMaker 2 ($NAME) running (pid $(<"$PIDFILE")), flows into cluster $cluster, log $OUT"
}

stop() {
  if alive; then stop_pidfile "$PIDFILE" 30; echo "MirrorMaker 2 ($NAME) stopped"
  else rm -f "$PIDFILE"; echo "MirrorMaker 2 ($NAME) not running"; fi
}

status() {
  if alive; then echo "MirrorMaker 2 ($NAME) running pid $(<"$PIDFILE") rss $(rss_of "$PIDFILE")"
  else echo "MirrorMaker 2 ($NAME) not running"; return 3; fi
}

(( $# >= 1 )) || usage
case $1 in
  jars) fetch_jars; echo "$LIBS" ;;
  start) (( $# == 4 )) || usage; set_name "$2"; start "$3" "$4" ;;
  stop|status) (( $# == 2 )) || usage; set_name "$2"; "$1" ;;
  *) usage ;;
esac
