#!/usr/bin/env bash
# Reading + decoding the 100-scene L5Kit dataset: FleetOps' reader vs c-blosc
# alone vs zarr-python, in one run. Builds the dataset with
# ../shared/l5kit/make_fleet.py into .cache/data/ the first time.
# Warm and (as root) cold page cache.
# usage: perf/bench_zarr_read.sh [DATASET.zarr]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${FO_BUILD_DIR:-$root/build}/bin
data=${1:-$root/.cache/data/fleet100.zarr}
if [ ! -d "$data" ]; then
  src=$root/../shared/l5kit/make_fleet.py
  [ -f "$src" ] || { echo "no dataset given and $src not found" >&2; exit 2; }
  mkdir -p "$(dirname "$data")"
  echo "building $data (100 scenes) with make_fleet.py ..." >&2
  /usr/bin/python3 "$src" --copies 100 "$data" >&2
fi
[ -x "$bin/bench_zarr_read" ] || { echo "build first: ./tools/fleetops build" >&2; exit 2; }
echo "== warm page cache"
# blosc threads per chunk / decode threads: 1/0 and 2/0 decode on the
# reading thread; 1/2 decodes whole chunks on two threads ahead of it
for cfg in "1 0" "2 0" "1 2"; do
  read -r threads decoders <<<"$cfg"
  "$bin/bench_zarr_read" "$data" --threads "$threads" --decoders "$decoders" --repeat 5
done
/usr/bin/python3 "$root/perf/bench_zarr_python.py" "$data" --repeat 3
if [ "$(id -u)" = 0 ]; then
  echo "== cold page cache (dropped before every pass)"
  "$bin/bench_zarr_read" "$data" --threads 2 --decoders 0 --repeat 3 --cold 1
  "$bin/bench_zarr_read" "$data" --threads 1 --decoders 2 --repeat 3 --cold 1
  /usr/bin/python3 "$root/perf/bench_zarr_python.py" "$data" --repeat 3 --cold
else
  echo "== cold page cache: skipped (needs root to drop the page cache)"
fi
