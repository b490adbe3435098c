#!/usr/bin/env bash
# Throughput and per-stage p99 of the data plane, runs a user can repeat.
#
#   1. in process, null sink (encode everything, discard): fleetopsd run
#      --speed max at 1, 2 and 4 workers on the 100-scene dataset
#   2. through the real broker (KAFKA_BROKERS, or ./tools/fleetops up):
#      fleetopsd run --sink kafka paced at 10x and 100x real time, and max
#   3. replay -> Kafka -> fleetopsd detect -> Kafka at 100x: the p99 from
#      replay emit to anomaly delivered, across processes
#
# Each run prints fleetopsd's latency table; the JSON reports land in
# .cache/perf/. usage: perf/bench_pipeline.sh [DATASET.zarr]
# Benchmarks: they never fail on speed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${FO_BUILD_DIR:-$root/build}/bin
data=${1:-$root/.cache/data/fleet100.zarr}
out=$root/.cache/perf
mkdir -p "$out"
if [ ! -d "$data" ]; then
  src=$root/../shared/l5kit/make_fleet.py
  if [ -f "$src" ]; then
    echo "building $data (100 scenes) with make_fleet.py ..." >&2
    /usr/bin/python3 "$src" --copies 100 "$data" >&2
  else
    echo "no ../shared data: generating the bench preset instead" >&2
    data=$root/.cache/data/bench.zarr
    [ -d "$data" ] || "$bin/fleetops-gen" --preset bench --out "$data" -q
  fi
fi
th=$root/config/thresholds.json

echo "== in process, null sink ($data)"
for w in 1 2 4; do
  echo "-- workers $w"
  "$bin/fleetopsd" run --dataset "$data" --speed max --sink null --workers "$w" \
    --thresholds "$th" --progress 0 --report "$out/null_w$w.json" 2>&1 >/dev/null |
    grep -v '^{'
done

brokers=${KAFKA_BROKERS:-}
if [ -z "$brokers" ]; then
  echo "== through Kafka: skipped (set KAFKA_BROKERS or run ./tools/fleetops up)"
  exit 0
fi
# paced runs replay the first scenes only, so they take about 25 s each
for speed in 10 100 max; do
  scenes=0-9
  [ "$speed" = 10 ] && scenes=0
  echo "== through Kafka at $brokers, --speed $speed, scenes $scenes"
  "$bin/fleetopsd" run --dataset "$data" --scenes "$scenes" --speed "$speed" --sink kafka \
    --brokers "$brokers" --thresholds "$th" --progress 5 -X linger.ms=1 \
    --report "$out/kafka_$speed.json" 2>&1 >/dev/null | grep -v '"level":"info"' || true
done

# 3. replay and detect in separate processes, through the broker
group="fo-bench-$(date +%s)-$$"
echo "== replay --speed 100 (scenes 0-9) -> Kafka -> detect (group $group)"
# start the group at the end of raw_telemetry, then let detect follow the replay
"$bin/fleetopsd" detect --brokers "$brokers" --group "$group" --thresholds "$th" \
  -C auto.offset.reset=latest --idle-exit 5 --progress 5 --report "$out/detect_100.json" \
  > "$out/detect_100.out" 2> "$out/detect_100.log" &
det=$!
sleep 4
"$bin/fleetopsd" replay --dataset "$data" --scenes 0-9 --speed 100 --brokers "$brokers" \
  --progress 0 -X linger.ms=1 > /dev/null 2>&1
wait $det || true
grep -E '^(stage|reader|worker|emit|replay emit|[0-9]+ events)' "$out/detect_100.log" || true
