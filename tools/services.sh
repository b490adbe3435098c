#!/usr/bin/env bash
# Local services for FleetOps development and tests: one Apache Kafka node
# (KRaft, broker + controller) and one PostgreSQL 15 cluster, both bound to
# 127.0.0.1 and keeping all their state under .run/ in the repository.
#
# Usage: tools/services.sh COMMAND
#   start         start Kafka and PostgreSQL (already running: kept), create topics
#   stop          stop both (SIGTERM, wait, SIGKILL after FO_STOP_TIMEOUT s)
#   status        one line per service; exit 1 if one is not up
#   env           print KAFKA_BROKERS=... and PG_DSN=... (KEY=VALUE on stdout)
#   kafka-start   kafka-stop   kafka-status   kafka-fetch
#   pg-start      pg-stop      pg-status
#   topics        create the FleetOps topics if missing and verify partitions
#   reset         stop both and delete their data (.run/kafka, the pg cluster)
#
# Environment:
#   FO_KAFKA_PORT=9092             client listener (PLAINTEXT)
#   FO_KAFKA_CONTROLLER_PORT=9093  KRaft controller listener
#   FO_KAFKA_BROKERS=host:port     use this broker; never start/stop a local one
#   FO_KAFKA_HEAP=1g               broker -Xmx
#   FO_KAFKA_LOG_LEVEL=WARN        broker log level (INFO, DEBUG for more)
#   FO_PG_PORT=5433                PostgreSQL port
#   FO_PG_DSN=postgresql://...     use this database; never start/stop a local one
#   FO_PG_DIR=DIR                  where the cluster lives (default .run/pg)
#   FO_STOP_TIMEOUT=60             seconds before SIGKILL on stop
#
# Files: .run/kafka.pid, .run/postgres.pid, logs in .run/logs/ (kafka.log,
# kafka.out for JVM output, postgresql.log), Kafka jars in .cache/kafka/libs
# (fetched from Maven Central with tools/kafka/pom.xml).
#
# Exit status: 0 ok, 1 error, 3 Kafka jars cannot be fetched (reason in
# .run/kafka-unavailable.txt).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
RUN_DIR=$ROOT/.run
LOG_DIR=$RUN_DIR/logs
CACHE_DIR=$ROOT/.cache
STOP_TIMEOUT=${FO_STOP_TIMEOUT:-60}

KAFKA_HOST=127.0.0.1
KAFKA_PORT=${FO_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${FO_KAFKA_CONTROLLER_PORT:-9093}
KAFKA_HEAP=${FO_KAFKA_HEAP:-1g}
KAFKA_LOG_LEVEL=${FO_KAFKA_LOG_LEVEL:-WARN}
KAFKA_START_TIMEOUT=${FO_KAFKA_START_TIMEOUT:-120}
KAFKA_DIR=$RUN_DIR/kafka
KAFKA_DATA=$KAFKA_DIR/data
KAFKA_CONF=$KAFKA_DIR/server.properties
KAFKA_FORMAT_STAMP=$KAFKA_DIR/format.stamp
KAFKA_PIDFILE=$RUN_DIR/kafka.pid
KAFKA_LOG=$LOG_DIR/kafka.log
KAFKA_OUT=$LOG_DIR/kafka.out
KAFKA_TOOLS_LOG=$LOG_DIR/kafka-tools.log
KAFKA_FETCH_LOG=$LOG_DIR/kafka-fetch.log
KAFKA_UNAVAILABLE=$RUN_DIR/kafka-unavailable.txt
KAFKA_LIBS=$CACHE_DIR/kafka/libs
KAFKA_POM=$ROOT/tools/kafka/pom.xml
KAFKA_LOG4J=$ROOT/tools/kafka/log4j2.properties
KAFKA_TEMPLATE=$ROOT/tools/kafka/server.properties.in

# name:partitions, replication factor 1 (docs/kafka_schemas.md).
TOPICS=(
  raw_telemetry:6
  anomalies:6
  operator_actions:3
  raw_telemetry.dlq:1
  anomalies.dlq:1
)

PG_PORT=${FO_PG_PORT:-5433}
PG_BIN=${FO_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DB=fleetops
PG_USER=fleetops
PG_PASSWORD=fleetops
PG_OS_USER=postgres          # initdb refuses root: the cluster belongs to it
PG_PIDFILE=$RUN_DIR/postgres.pid

log() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }

kafka_brokers() { printf '%s\n' "${FO_KAFKA_BROKERS:-$KAFKA_HOST:$KAFKA_PORT}"; }
pg_dsn() {
  printf '%s\n' "${FO_PG_DSN:-postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB}"
}

ensure_run_dirs() {
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  # The PostgreSQL cluster runs as another user that must traverse these.
  chmod 0755 "$RUN_DIR" "$LOG_DIR"
}

# Serialise start/stop/reset between concurrent invocations.
take_lock() {
  ensure_run_dirs
  exec 9>>"$RUN_DIR/.services.lock"
  flock -w 600 9 || die "another tools/services.sh holds $RUN_DIR/.services.lock"
}

# port_owner PORT: the `ss` line of whoever listens on TCP PORT, or nothing.
port_owner() {
  ss -H -ltnp "( sport = :$1 )" 2>/dev/null | head -n 1
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
  local stat state
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  state=${stat##*) }
  state=${state%% *}
  [[ -n $state && $state != Z ]]
}

# stop_pid NAME PID: SIGTERM, wait up to STOP_TIMEOUT seconds, then SIGKILL.
stop_pid() {
  local name=$1 pid=$2 waited=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while pid_alive "$pid"; do
    if ((waited >= STOP_TIMEOUT * 2)); then
      log "$name: pid $pid still running after ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      waited=0
      while pid_alive "$pid" && ((waited < 20)); do sleep 0.5; waited=$((waited + 1)); done
      pid_alive "$pid" && die "$name: pid $pid survives SIGKILL"
      return 0
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
}

# wait_port_free NAME PORT: a stopped service's port must be released.
wait_port_free() {
  local i
  for ((i = 0; i < 20; i++)); do
    [[ -z $(port_owner "$2") ]] && return 0
    sleep 0.5
  done
  log "$1: port $2 is still in use: $(port_owner "$2")"
  return 1
}

# ---------------------------------------------------------------- Kafka ---

java_bin() {
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
    printf '%s\n' "$JAVA_HOME/bin/java"
  else
    command -v java || true
  fi
}

# kafka_find_pid: pid of the broker started from this checkout (matched by
# its rendered server.properties), whether or not a pid file says so.
kafka_find_pid() {
  local pid d args
  local IFS=' '
  if [[ -s $KAFKA_PIDFILE ]]; then
    pid=$(<"$KAFKA_PIDFILE")
    if [[ $pid =~ ^[0-9]+$ ]] && pid_alive "$pid" &&
       mapfile -d '' -t args 2>/dev/null <"/proc/$pid/cmdline" &&
       [[ " ${args[*]} " == *" kafka.Kafka $KAFKA_CONF "* ]]; then
      printf '%s\n' "$pid"
      return 0
    fi
  fi
  for d in /proc/[0-9]*; do
    mapfile -d '' -t args 2>/dev/null <"$d/cmdline" || continue
    if [[ " ${args[*]} " == *" kafka.Kafka $KAFKA_CONF "* ]] && pid_alive "${d#/proc/}"; then
      printf '%s\n' "${d#/proc/}"
      return 0
    fi
  done
  return 1
}

# kafka_fetch: the broker's jars in .cache/kafka/libs, fetched once per
# version of tools/kafka/pom.xml. Returns 3 when they cannot be had.
kafka_fetch() {
  local stamp=$KAFKA_LIBS/.fetched want tmp reason
  want=$(sha256sum <"$KAFKA_POM" | cut -c1-64)
  if [[ -f $stamp && $(<"$stamp") == "$want" ]] &&
     compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null &&
     compgen -G "$KAFKA_LIBS/kafka-tools-*.jar" >/dev/null; then
    rm -f "$KAFKA_UNAVAILABLE"
    return 0
  fi
  ensure_run_dirs
  if ! command -v mvn >/dev/null 2>&1; then
    reason="mvn not found (tools/install-deps.sh installs maven)"
  elif [[ -z $(java_bin) ]]; then
    reason="java not found (tools/install-deps.sh installs openjdk-17-jre-headless)"
  else
    tmp=$CACHE_DIR/kafka/libs.tmp.$$
    rm -rf "$tmp"
    mkdir -p "$tmp"
    log "kafka: fetching Apache Kafka jars from Maven Central (tools/kafka/pom.xml), log in .run/logs/kafka-fetch.log"
    if timeout 900 mvn -B -q -Dstyle.color=never -Dmaven.wagon.rto=60000 \
         -f "$KAFKA_POM" dependency:copy-dependencies \
         -DoutputDirectory="$tmp" -DincludeScope=runtime >"$KAFKA_FETCH_LOG" 2>&1 &&
       compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null; then
      printf '%s\n' "$want" >"$tmp/.fetched"
      rm -rf "$KAFKA_LIBS"
      mv "$tmp" "$KAFKA_LIBS"
      rm -f "$KAFKA_UNAVAILABLE"
      log "kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in .cache/kafka/libs"
      return 0
    fi
    rm -rf "$tmp"
    reason=$(grep -m 1 -E '\[ERROR\]|Exception|Could not' "$KAFKA_FETCH_LOG" | cut -c1-300 || true)
    reason=${reason#'[ERROR] '}
    reason="Maven could not fetch the Kafka jars: ${reason:-see .run/logs/kafka-fetch.log}"
  fi
  printf '%s\n' "$reason" >"$KAFKA_UNAVAILABLE"
  log "kafka: $reason"
  return 3
}

# kafka_java ARGS...: run a Kafka class (tool) from the fetched jars.
kafka_java() {
  "$(java_bin)" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_LOG4J" -Dfo.log.file="$KAFKA_TOOLS_LOG" \
    -Dfo.log.level=WARN -cp "$KAFKA_LIBS/*" "$@"
}

kafka_render_conf() {
  local conf
  conf=$(<"$KAFKA_TEMPLATE")
  conf=${conf//@KAFKA_PORT@/$KAFKA_PORT}
  conf=${conf//@CONTROLLER_PORT@/$KAFKA_CONTROLLER_PORT}
  conf=${conf//@DATA_DIR@/$KAFKA_DATA}
  mkdir -p "$KAFKA_DIR"
  printf '%s\n' "$conf" >"$KAFKA_CONF.tmp"
  mv "$KAFKA_CONF.tmp" "$KAFKA_CONF"
}

# kafka_format: format the log directory once. The controller's endpoint is
# part of the formatted quorum state, so a new controller port starts over.
kafka_format() {
  local want="controller=$KAFKA_HOST:$KAFKA_CONTROLLER_PORT" id
  if [[ -f $KAFKA_DATA/meta.properties ]]; then
    if [[ -f $KAFKA_FORMAT_STAMP && $(<"$KAFKA_FORMAT_STAMP") == "$want" ]]; then
      return 0
    fi
    log "kafka: storage was formatted for another controller endpoint: wiping .run/kafka/data"
  fi
  rm -rf "$KAFKA_DATA" "$KAFKA_FORMAT_STAMP"
  mkdir -p "$KAFKA_DATA"
  id=$(kafka_java kafka.tools.StorageTool random-uuid 2>>"$KAFKA_OUT" | tail -n 1)
  [[ -n $id ]] || die "kafka: StorageTool random-uuid printed nothing (see .run/logs/kafka.out)"
  log "kafka: formatting storage (cluster id $id)"
  if ! kafka_java kafka.tools.StorageTool format -t "$id" -c "$KAFKA_CONF" --standalone \
       >>"$KAFKA_OUT" 2>&1; then
    tail -n 20 "$KAFKA_OUT" >&2
    die "kafka: StorageTool format failed (see .run/logs/kafka.out)"
  fi
  printf '%s\n' "$want" >"$KAFKA_FORMAT_STAMP"
}

# kafka_answers BROKERS: the broker returns metadata.
kafka_answers() {
  kcat -L -b "$1" -m 3 >/dev/null 2>&1
}

# kafka_wait_ready BROKERS TIMEOUT [PID]
kafka_wait_ready() {
  local brokers=$1 timeout=$2 pid=${3:-} deadline=$((SECONDS + $2))
  while ! kafka_answers "$brokers"; do
    if [[ -n $pid ]] && ! pid_alive "$pid"; then
      log "kafka: the broker exited during start; last lines of .run/logs/kafka.out and kafka.log:"
      tail -n 15 "$KAFKA_OUT" >&2 2>/dev/null || true
      tail -n 15 "$KAFKA_LOG" >&2 2>/dev/null || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "kafka: no answer from $brokers after ${timeout}s; see $KAFKA_LOG and $KAFKA_OUT"
      return 1
    fi
    sleep 1
  done
}

kafka_start() {
  local pid p owner t0=$SECONDS
  if [[ -n ${FO_KAFKA_BROKERS:-} ]]; then
    log "kafka: FO_KAFKA_BROKERS=$FO_KAFKA_BROKERS: using that broker, not starting a local one"
    kafka_wait_ready "$FO_KAFKA_BROKERS" 30 || die "kafka: $FO_KAFKA_BROKERS does not answer"
    return 0
  fi
  command -v kcat >/dev/null 2>&1 || die "kcat not found (tools/install-deps.sh installs it)"
  ensure_run_dirs
  if pid=$(kafka_find_pid); then
    printf '%s\n' "$pid" >"$KAFKA_PIDFILE"
    log "kafka: already running (pid $pid) on $KAFKA_HOST:$KAFKA_PORT"
    kafka_wait_ready "$(kafka_brokers)" "$KAFKA_START_TIMEOUT" "$pid" ||
      die "kafka: running but not answering; see $KAFKA_LOG (or: tools/services.sh kafka-stop)"
    return 0
  fi
  if [[ -e $KAFKA_PIDFILE ]]; then
    log "kafka: removing stale pid file .run/kafka.pid ($(cat "$KAFKA_PIDFILE" 2>/dev/null) is not a broker of this checkout)"
    rm -f "$KAFKA_PIDFILE"
  fi
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    owner=$(port_owner "$p")
    [[ -z $owner ]] || die "kafka: port $p is already in use: $owner
  stop that process, or choose other ports with FO_KAFKA_PORT / FO_KAFKA_CONTROLLER_PORT,
  or use that broker with FO_KAFKA_BROKERS=host:port"
  done
  kafka_fetch || exit 3
  kafka_render_conf
  kafka_format
  printf '=== %s start\n' "$(date -u +%FT%TZ)" >>"$KAFKA_OUT"
  # setsid: the broker outlives this script and ignores the terminal's ^C.
  setsid "$(java_bin)" -server -Xms512m "-Xmx$KAFKA_HEAP" \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_LOG4J" \
    -Dfo.log.file="$KAFKA_LOG" -Dfo.log.level="$KAFKA_LOG_LEVEL" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF" \
    >>"$KAFKA_OUT" 2>&1 </dev/null 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$KAFKA_PIDFILE"
  log "kafka: starting (pid $pid) on $KAFKA_HOST:$KAFKA_PORT, controller $KAFKA_HOST:$KAFKA_CONTROLLER_PORT"
  if ! kafka_wait_ready "$(kafka_brokers)" "$KAFKA_START_TIMEOUT" "$pid"; then
    pid_alive "$pid" && stop_pid kafka "$pid"
    rm -f "$KAFKA_PIDFILE"
    die "kafka: did not start; see $KAFKA_LOG and $KAFKA_OUT"
  fi
  log "kafka: ready in $((SECONDS - t0))s"
}

kafka_stop() {
  local pid
  if [[ -n ${FO_KAFKA_BROKERS:-} ]]; then
    log "kafka: FO_KAFKA_BROKERS is set: not stopping $FO_KAFKA_BROKERS"
    return 0
  fi
  if ! pid=$(kafka_find_pid); then
    rm -f "$KAFKA_PIDFILE"
    log "kafka: not running"
    return 0
  fi
  log "kafka: stopping (pid $pid)"
  stop_pid kafka "$pid"
  rm -f "$KAFKA_PIDFILE"
  wait_port_free kafka "$KAFKA_PORT" || true
  wait_port_free kafka "$KAFKA_CONTROLLER_PORT" || true
  log "kafka: stopped"
}

# kafka_status: prints one line; 0 when the broker answers.
kafka_status() {
  local brokers pid
  brokers=$(kafka_brokers)
  if [[ -n ${FO_KAFKA_BROKERS:-} ]]; then
    if kafka_answers "$brokers"; then
      printf 'kafka     external  answering      KAFKA_BROKERS=%s\n' "$brokers"
      return 0
    fi
    printf 'kafka     external  NOT ANSWERING  KAFKA_BROKERS=%s\n' "$brokers"
    return 1
  fi
  if ! pid=$(kafka_find_pid); then
    printf 'kafka     stopped                  KAFKA_BROKERS=%s\n' "$brokers"
    return 1
  fi
  if kafka_answers "$brokers"; then
    printf 'kafka     running   pid %-9s  KAFKA_BROKERS=%s\n' "$pid" "$brokers"
    return 0
  fi
  printf 'kafka     NOT ANSWERING pid %s  KAFKA_BROKERS=%s (see %s)\n' "$pid" "$brokers" "$KAFKA_LOG"
  return 1
}

# topic_partitions BROKERS TOPIC: partition count, 0 if the topic is absent.
topic_partitions() {
  local out n
  out=$(kcat -L -b "$1" -t "$2" -m 10 2>&1) || {
    log "kafka: metadata request to $1 failed: $out"
    return 1
  }
  n=$(sed -n 's/^ *topic "[^"]*" with \([0-9][0-9]*\) partitions.*/\1/p' <<<"$out" | head -n 1)
  printf '%s\n' "${n:-0}"
}

# kafka_topic_command ARGS...: TopicCommand, output on stderr without its
# warning about '.' and '_' in topic names (the names are fixed by design).
kafka_topic_command() {
  local out rc=0
  out=$(kafka_java org.apache.kafka.tools.TopicCommand "$@" 2>&1) || rc=$?
  grep -v 'limitations in metric names' <<<"$out" | sed '/^$/d; s/^/  /' >&2 || true
  return $rc
}

# kafka_topics: create missing topics, grow short ones, verify all.
kafka_topics() {
  local brokers spec name want have i ok summary=""
  brokers=$(kafka_brokers)
  kafka_wait_ready "$brokers" 30 || die "kafka: $brokers does not answer; start it first (tools/services.sh kafka-start)"
  for spec in "${TOPICS[@]}"; do
    name=${spec%%:*}
    want=${spec##*:}
    have=$(topic_partitions "$brokers" "$name") || die "kafka: cannot read metadata of $name"
    if ((have == want)); then
      continue
    fi
    kafka_fetch || die "kafka: topic $name must be created but the Kafka tools are unavailable: $(cat "$KAFKA_UNAVAILABLE")"
    if ((have == 0)); then
      log "kafka: creating topic $name ($want partitions, replication 1)"
      kafka_topic_command --bootstrap-server "$brokers" \
        --create --if-not-exists --topic "$name" --partitions "$want" \
        --replication-factor 1 || die "kafka: creating topic $name failed (see .run/logs/kafka-tools.log)"
    elif ((have < want)); then
      log "kafka: topic $name has $have partitions: growing to $want"
      kafka_topic_command --bootstrap-server "$brokers" \
        --alter --topic "$name" --partitions "$want" ||
        die "kafka: altering topic $name failed (see .run/logs/kafka-tools.log)"
    else
      die "kafka: topic $name has $have partitions, expected $want; partitions cannot shrink:
  delete the topic, or wipe the local broker with tools/services.sh reset"
    fi
  done
  # Verify: metadata may take a moment to show new partitions.
  for spec in "${TOPICS[@]}"; do
    name=${spec%%:*}
    want=${spec##*:}
    ok=0
    for ((i = 0; i < 30; i++)); do
      have=$(topic_partitions "$brokers" "$name") || have=-1
      if ((have == want)); then ok=1; break; fi
      sleep 0.5
    done
    ((ok)) || die "kafka: topic $name has $have partitions, expected $want"
    summary+=" $name=$have"
  done
  log "kafka: topics verified (partitions):$summary"
}

# ----------------------------------------------------------- PostgreSQL ---

# pg_as CMD...: run CMD as the cluster's owner (postgres when we are root),
# from / so that an unreadable working directory does not matter, and
# without the lock descriptor (a server started here must not inherit it).
pg_as() {
  if ((EUID == 0)); then
    (cd / && runuser -u "$PG_OS_USER" -- "$@") 9>&-
  else
    (cd / && "$@") 9>&-
  fi
}

# pg_paths: decide PG_BASE (cluster home), PGDATA, socket directory, log.
# The cluster lives in .run/pg unless the postgres user cannot reach it
# (a checkout below a private directory): then in /var/tmp.
pg_paths() {
  [[ -n ${PG_PATHS_DONE:-} ]] && return 0
  PG_PATHS_DONE=1
  ensure_run_dirs
  if [[ -n ${FO_PG_DIR:-} ]]; then
    PG_BASE=$(realpath -m "$FO_PG_DIR")
  else
    PG_BASE=$RUN_DIR/pg
    if ((EUID == 0)) && id "$PG_OS_USER" >/dev/null 2>&1 &&
       ! runuser -u "$PG_OS_USER" -- test -x "$RUN_DIR"; then
      PG_BASE=/var/tmp/fleetops-pg-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
      PG_BASE_WHY=" (user $PG_OS_USER cannot traverse the parents of $RUN_DIR)"
    fi
  fi
  PGDATA_DIR=$PG_BASE/data
  PG_SOCK=$PG_BASE
  # A Unix socket path is limited to 107 bytes.
  if ((${#PG_SOCK} + 16 > 100)); then
    PG_SOCK=/tmp
  fi
  if [[ $PG_BASE == "$RUN_DIR"/* ]]; then
    PG_LOG=$LOG_DIR/postgresql.log
  else
    PG_LOG=$PG_BASE/postgresql.log
  fi
}

# pg_postmaster_pid: pid of this cluster's running postmaster (its working
# directory is the data directory), else fail.
pg_postmaster_pid() {
  local pid
  pg_paths
  [[ -s $PGDATA_DIR/postmaster.pid ]] || return 1
  pid=$(head -n 1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && pid_alive "$pid" || return 1
  [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$PGDATA_DIR" ]] || return 1
  printf '%s\n' "$pid"
}

# pg_cluster_pids: every process working in the data directory (the
# postmaster and its children, or orphans left by a killed postmaster).
pg_cluster_pids() {
  local d
  for d in /proc/[0-9]*; do
    [[ $(readlink "$d/cwd" 2>/dev/null) == "$PGDATA_DIR" ]] && printf '%s\n' "${d#/proc/}"
  done
  return 0
}

# pg_kill_leftovers: after a crash or kill -9 of the postmaster, its children
# keep the shared memory and block a new start.
pg_kill_leftovers() {
  local pids i
  mapfile -t pids < <(pg_cluster_pids)
  ((${#pids[@]})) || return 0
  log "postgres: ending ${#pids[@]} leftover server processes (${pids[*]})"
  kill -QUIT "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    mapfile -t pids < <(pg_cluster_pids)
    ((${#pids[@]})) || return 0
    sleep 0.5
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
  sleep 0.5
}

pg_write_conf() {
  cat >"$PGDATA_DIR/fleetops.conf" <<EOF
# Written by tools/services.sh at every start; edit that script instead.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 100
shared_buffers = 256MB
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
EOF
  ((EUID == 0)) && chown "$PG_OS_USER:" "$PGDATA_DIR/fleetops.conf"
  return 0
}

# pg_psql_admin: run the SQL on stdin as the cluster's superuser, over the socket.
pg_psql_admin() {
  pg_as "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -d postgres
}

pg_ensure_db() {
  pg_psql_admin >/dev/null <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$PG_DB')
\gexec
SQL
  "$PG_BIN/psql" -X -q -At -d "$(pg_dsn)" -c 'SELECT 1' >/dev/null ||
    die "postgres: cannot connect with $(pg_dsn)"
}

pg_start() {
  local pid owner t0=$SECONDS
  if [[ -n ${FO_PG_DSN:-} ]]; then
    log "postgres: FO_PG_DSN is set: using that database, not starting a local one"
    "$PG_BIN/pg_isready" -q -d "$FO_PG_DSN" -t 30 || die "postgres: $FO_PG_DSN does not answer"
    return 0
  fi
  [[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl ]] ||
    die "postgres: $PG_BIN/initdb not found (tools/install-deps.sh installs postgresql-15)"
  if ((EUID == 0)) && ! id "$PG_OS_USER" >/dev/null 2>&1; then
    die "postgres: no '$PG_OS_USER' system user (reinstall postgresql-15)"
  fi
  pg_paths
  if pid=$(pg_postmaster_pid); then
    printf '%s\n' "$pid" >"$PG_PIDFILE"
    log "postgres: already running (pid $pid) on 127.0.0.1:$PG_PORT"
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 30 ||
      die "postgres: running but not answering; see $PG_LOG"
    pg_ensure_db
    return 0
  fi
  if [[ -e $PGDATA_DIR/postmaster.pid ]]; then
    log "postgres: stale postmaster.pid (server not running): recovering"
    pg_kill_leftovers
    rm -f "$PGDATA_DIR/postmaster.pid"
  fi
  if [[ -e $PG_SOCK/.s.PGSQL.$PG_PORT.lock ]]; then
    pid=$(head -n 1 "$PG_SOCK/.s.PGSQL.$PG_PORT.lock" 2>/dev/null || true)
    if ! { [[ $pid =~ ^[0-9]+$ ]] && pid_alive "$pid"; }; then
      rm -f "$PG_SOCK/.s.PGSQL.$PG_PORT.lock" "$PG_SOCK/.s.PGSQL.$PG_PORT"
    fi
  fi
  rm -f "$PG_PIDFILE"
  owner=$(port_owner "$PG_PORT")
  [[ -z $owner ]] || die "postgres: port $PG_PORT is already in use: $owner
  stop that process, or choose another port with FO_PG_PORT, or use that server with FO_PG_DSN"

  mkdir -p "$PG_BASE"
  if ((EUID == 0)); then
    chown "$PG_OS_USER:" "$PG_BASE"
  fi
  chmod 0700 "$PG_BASE"
  touch "$PG_LOG"
  ((EUID == 0)) && chown "$PG_OS_USER:" "$PG_LOG"
  if [[ ! -s $PGDATA_DIR/PG_VERSION ]]; then
    rm -rf "$PGDATA_DIR"
    log "postgres: creating cluster in $PGDATA_DIR${PG_BASE_WHY:-}"
    if ! pg_as "$PG_BIN/initdb" -D "$PGDATA_DIR" --auth-local=peer --auth-host=scram-sha-256 \
         --encoding=UTF8 --locale=C.UTF-8 >>"$PG_LOG" 2>&1; then
      tail -n 20 "$PG_LOG" >&2
      die "postgres: initdb failed (see $PG_LOG)"
    fi
    printf "\ninclude_if_exists 'fleetops.conf'\n" >>"$PGDATA_DIR/postgresql.conf"
  fi
  pg_write_conf
  log "postgres: starting on 127.0.0.1:$PG_PORT"
  if ! pg_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 start >/dev/null; then
    tail -n 20 "$PG_LOG" >&2
    die "postgres: pg_ctl start failed (see $PG_LOG)"
  fi
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 30 ||
    die "postgres: started but does not answer on 127.0.0.1:$PG_PORT (see $PG_LOG)"
  pid=$(pg_postmaster_pid) || die "postgres: started but its postmaster.pid is unreadable"
  printf '%s\n' "$pid" >"$PG_PIDFILE"
  pg_ensure_db
  log "postgres: ready in $((SECONDS - t0))s (pid $pid)"
}

pg_stop() {
  local pid
  if [[ -n ${FO_PG_DSN:-} ]]; then
    log "postgres: FO_PG_DSN is set: not stopping that database"
    return 0
  fi
  pg_paths
  if ! pid=$(pg_postmaster_pid); then
    rm -f "$PG_PIDFILE"
    [[ -d $PGDATA_DIR ]] && pg_kill_leftovers
    log "postgres: not running"
    return 0
  fi
  log "postgres: stopping (pid $pid)"
  if ! pg_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null 2>&1; then
    log "postgres: fast shutdown did not finish in ${STOP_TIMEOUT}s: immediate shutdown"
    pg_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t 10 stop >/dev/null 2>&1 ||
      kill -KILL "$pid" 2>/dev/null || true
  fi
  pg_kill_leftovers
  rm -f "$PG_PIDFILE"
  wait_port_free postgres "$PG_PORT" || true
  log "postgres: stopped"
}

pg_status() {
  local dsn pid
  dsn=$(pg_dsn)
  if [[ -n ${FO_PG_DSN:-} ]]; then
    if "$PG_BIN/pg_isready" -q -d "$dsn" -t 3; then
      printf 'postgres  external  answering      PG_DSN=%s\n' "$dsn"
      return 0
    fi
    printf 'postgres  external  NOT ANSWERING  PG_DSN=%s\n' "$dsn"
    return 1
  fi
  pg_paths
  if ! pid=$(pg_postmaster_pid); then
    printf 'postgres  stopped                  PG_DSN=%s\n' "$dsn"
    return 1
  fi
  if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 3; then
    printf 'postgres  running   pid %-9s  PG_DSN=%s\n' "$pid" "$dsn"
    return 0
  fi
  printf 'postgres  NOT ANSWERING pid %s  PG_DSN=%s (see %s)\n' "$pid" "$dsn" "$PG_LOG"
  return 1
}

# ------------------------------------------------------------- commands ---

cmd_env() {
  printf 'KAFKA_BROKERS=%s\n' "$(kafka_brokers)"
  printf 'PG_DSN=%s\n' "$(pg_dsn)"
}

cmd_status() {
  local rc=0
  kafka_status || rc=1
  pg_status || rc=1
  return $rc
}

cmd_reset() {
  kafka_stop
  pg_stop
  pg_paths
  log "reset: deleting $KAFKA_DIR and $PG_BASE"
  rm -rf "$KAFKA_DIR" "$PG_BASE"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  case $cmd in
    start)        take_lock; kafka_start; pg_start; kafka_topics ;;
    stop)         take_lock; kafka_stop; pg_stop ;;
    status)       cmd_status ;;
    env)          cmd_env ;;
    kafka-start)  take_lock; kafka_start ;;
    kafka-stop)   take_lock; kafka_stop ;;
    kafka-status) kafka_status ;;
    kafka-fetch)  take_lock; kafka_fetch ;;
    pg-start)     take_lock; pg_start ;;
    pg-stop)      take_lock; pg_stop ;;
    pg-status)    pg_status ;;
    topics)       take_lock; kafka_topics ;;
    reset)        take_lock; cmd_reset ;;
    -h|--help|help) usage ;;
    "")           usage >&2; exit 2 ;;
    *)            log "unknown command: $cmd"; usage >&2; exit 2 ;;
  esac
}

main "$@"
