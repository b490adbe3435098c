#!/usr/bin/python3
"""agents/s for zarr-python reading an L5Kit agents array (the reference
implementation), best of N runs; prints one JSON line.
usage: bench_zarr_python.py DATASET.zarr [--repeat N]"""
import json
import sys
import time

try:
    import zarr
except ImportError:
    print(json.dumps({"bench": "zarr_python", "skipped": "python3-zarr not installed"}))
    sys.exit(0)

path = sys.argv[1]
repeat = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--repeat" else 3
arr = zarr.open_group(path, mode="r")["agents"]
best = None
for _ in range(repeat):
    t0 = time.perf_counter()
    a = arr[:]
    # touch the fields the replay uses, as the C reader does
    _ = (a["centroid"], a["velocity"], a["yaw"], a["track_id"], a["label_probabilities"].max(axis=1))
    dt = time.perf_counter() - t0
    best = dt if best is None or dt < best else best
print(json.dumps({"bench": "zarr_python", "dataset": path, "agents": int(arr.shape[0]),
                  "seconds": round(best, 4), "agents_per_s": round(arr.shape[0] / best)}))
