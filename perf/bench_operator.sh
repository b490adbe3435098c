#!/usr/bin/env bash
# fleetops-operator's figures on this machine, a run a user can repeat:
#   ingest     alerts/s from a 6-partition topic into PostgreSQL (200,000
#              anomalies produced first, then the operator drains them)
#   broadcast  produce -> alert_created latency at 100 WebSocket clients,
#              2,000 anomalies/s for 10 s, and the server's own
#              fleetops_broadcast_seconds
# Starts Kafka and PostgreSQL if they are not running (tools/services.sh
# start); everything the run creates (topics, groups, databases) is removed.
# Output: the summaries and JSON lines of perf/bench_operator.c; the JSON
# lines also land in .cache/perf/operator.json, the operator's logs in
# .cache/perf/. Extra arguments go to bench_operator (--help lists them),
# e.g. perf/bench_operator.sh --only broadcast --rate 5000.
# A benchmark: it never fails on speed and is no part of the test tiers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${FO_BUILD_DIR:-$root/build}/bin
out=$root/.cache/perf
[ -x "$bin/bench_operator" ] && [ -x "$bin/fleetops-operator" ] || {
  echo "build first: ./tools/fleetops build (or set FO_BUILD_DIR)" >&2
  exit 2
}
mkdir -p "$out"
"$root/tools/services.sh" start >&2
eval "$("$root/tools/services.sh" env | sed 's/^/export /')"
"$bin/bench_operator" --operator "$bin/fleetops-operator" --log-dir "$out" "$@" \
  2> >(tee "$out/bench_operator.log" >&2) | tee "$out/operator.out"
grep '^{"bench"' "$out/operator.out" > "$out/operator.json" || true
echo "(progress log: $out/bench_operator.log; JSON: $out/operator.json)"
