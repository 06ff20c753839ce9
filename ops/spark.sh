#!/usr/bin/env bash
# ops/spark.sh jars
#
# Resolves the JVM jars PySpark needs on top of its own to read and write Delta Lake tables
# in S3 (delta-spark, hadoop-aws and the AWS SDK v2 modules S3A uses) from Maven Central,
# once, into $CACHE/spark/jars-<versions>, and prints that folder as the last line on stdout.
# granary.spark.session() puts them on spark.jars, so starting Spark needs no network:
# spark.jars.packages would resolve through Ivy on every cold start, and only Maven
# Central is reachable here anyway.
#
# Spark itself, Scala, Hadoop's client and the libraries they share (Jackson, Parquet,
# Netty, httpclient, log4j...) come with the pyspark wheel; every artifact its jars folder
# has is excluded, so one version of each class is on the classpath. After resolving, the
# folder is checked against the jars folder of the installed pyspark ($GRANARY_PYTHON,
# default .venv/bin/python) when there is one: a duplicate means a new exclusion is due.
#
# The AWS SDK comes as its separate modules (about 10 MB), not the shaded
# software.amazon.awssdk:bundle hadoop-aws asks for (686 MB for 2.35.4).
set -euo pipefail
# shellcheck disable=SC2034  # SVC is the log prefix used by lib.sh
SVC=spark
# shellcheck source=ops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# pyspark==SPARK_VERSION is the extra in pyproject.toml; its jars folder is the provided side.
SPARK_VERSION=${SPARK_VERSION:-4.2.0}
SCALA_BINARY=2.13
# delta-spark 4.4.0 is built against Spark 4.2.0.
DELTA_VERSION=${DELTA_VERSION:-4.4.0}
# Must equal the hadoop-client-api jar in pyspark's jars folder (checked below).
HADOOP_VERSION=${HADOOP_VERSION:-3.5.0}
# The SDK version hadoop-aws $HADOOP_VERSION is built and tested with.
AWS_SDK_VERSION=${AWS_SDK_VERSION:-2.35.4}

SHOME="$CACHE/spark"
JARS="$SHOME/jars-spark$SPARK_VERSION-delta$DELTA_VERSION-hadoop$HADOOP_VERSION-awssdk$AWS_SDK_VERSION"
PY=${GRANARY_PYTHON:-$REPO/.venv/bin/python}

# What pyspark's jars folder already has, as groupId:artifactId patterns. Each exclusion
# prunes the artifact's subtree too (hadoop-client-runtime takes commons-logging with it).
PROVIDED=(
  org.scala-lang:'*'                 # scala-library
  org.apache.hadoop:'*'              # hadoop-client-api/-runtime (delta-kernel-defaults), hadoop-common
  org.apache.parquet:'*'
  org.apache.logging.log4j:'*'
  org.slf4j:'*'
  com.fasterxml.jackson.core:'*'
  com.google.code.findbugs:'*'       # jsr305
  org.roaringbitmap:'*'
  org.xerial.snappy:'*'
  com.github.luben:'*'               # zstd-jni
  io.airlift:'*'                     # aircompressor
  commons-pool:'*'
  org.locationtech.jts:'*'
  io.netty:'*'                       # the SDK's netty-nio-client (S3A's async client)
  org.apache.httpcomponents:'*'      # the SDK's apache-client
  commons-codec:'*'
)

usage() { echo "usage: $(basename "$0") jars" >&2; exit 2; }

exclusions() {
  local pattern
  printf '      <exclusions>\n'
  for pattern in "${PROVIDED[@]}" "$@"; do
    printf '        <exclusion><groupId>%s</groupId><artifactId>%s</artifactId></exclusion>\n' \
      "${pattern%%:*}" "${pattern#*:}"
  done
  printf '      </exclusions>\n'
}

dependency() {  # dependency GROUP ARTIFACT VERSION [EXTRA-EXCLUSION...]
  printf '    <dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version>\n' "$1" "$2" "$3"
  exclusions "${@:4}"
  printf '    </dependency>\n'
}

# pyspark's jars folder, or nothing when pyspark is not installed at $PY.
pyspark_jars() {
  [[ -x $PY ]] || return 0
  "$PY" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))' 2>/dev/null || true
}

# check_provided DIR: fail if DIR holds an artifact pyspark already ships, or if pyspark's
# Spark or Hadoop is not the version the jars are resolved for.
check_provided() {
  local dir=$1 shipped jar name dups=()
  shipped=$(pyspark_jars)
  if [[ -z $shipped ]]; then
    log "no pyspark at $PY: not checking the jars against its jars folder"
    return 0
  fi
  [[ -f "$shipped/spark-core_$SCALA_BINARY-$SPARK_VERSION.jar" ]] \
    || die "the pyspark at $PY is not Spark $SPARK_VERSION (see $shipped); set SPARK_VERSION and DELTA_VERSION to match"
  [[ -f "$shipped/hadoop-client-api-$HADOOP_VERSION.jar" ]] \
    || die "pyspark's Hadoop is not $HADOOP_VERSION ($(cd "$shipped" && ls hadoop-client-api-*.jar)); set HADOOP_VERSION to match"
  for jar in "$shipped"/*.jar; do
    name=$(basename "$jar")
    name=${name%%-[0-9]*}   # artifactId: the name up to its version
    if compgen -G "$dir/$name-[0-9]*.jar" >/dev/null; then dups+=("$name"); fi
  done
  (( ${#dups[@]} == 0 )) || die "pyspark already ships ${dups[*]}: add them to PROVIDED in $0"
}

fetch_jars() {
  if [[ ! -f "$JARS/.complete" ]]; then
    log "resolving Delta $DELTA_VERSION + S3A (Hadoop $HADOOP_VERSION) jars from Maven Central (first run only)"
    mkdir -p "$SHOME/pom"
    {
      cat <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>granary.ops</groupId>
  <artifactId>spark-delta-s3a</artifactId>
  <version>$SPARK_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <!-- DeltaSparkSessionExtension, DeltaCatalog, delta-storage's S3SingleDriverLogStore -->
POM
      dependency io.delta "delta-spark_$SCALA_BINARY" "$DELTA_VERSION"
      echo '    <!-- S3AFileSystem (s3a://), without the 686 MB shaded SDK bundle -->'
      dependency org.apache.hadoop hadoop-aws "$HADOOP_VERSION" software.amazon.awssdk:bundle
      echo '    <!-- the SDK modules S3A loads: S3 (sync on apache-client, async on netty), transfers, STS -->'
      dependency software.amazon.awssdk s3 "$AWS_SDK_VERSION"
      dependency software.amazon.awssdk s3-transfer-manager "$AWS_SDK_VERSION"
      dependency software.amazon.awssdk sts "$AWS_SDK_VERSION"
      printf '  </dependencies>\n</project>\n'
    } >"$SHOME/pom/pom.xml"
    maven_libs "$SHOME/pom" "$JARS"
    ( check_provided "$JARS" ) || { rm -rf "$JARS"; exit 1; }
  fi
  echo "$JARS"
}

[[ $# -eq 1 ]] || usage
case $1 in
  jars) fetch_jars ;;
  *) usage ;;
esac
