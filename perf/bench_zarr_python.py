#!/usr/bin/python3
"""agents/s for zarr-python reading an L5Kit agents array (the reference
implementation), best of N runs; prints one JSON line.
usage: bench_zarr_python.py DATASET.zarr [--repeat N] [--cold]"""
import json
import os
import sys
import time

try:
    import zarr
except ImportError:
    print(json.dumps({"bench": "zarr_python", "skipped": "python3-zarr not installed"}))
    sys.exit(0)

path = sys.argv[1]
repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
cold = "--cold" in sys.argv  # drop the page cache before every pass (root)


def drop_caches():
    if cold:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3")
arr = zarr.open_group(path, mode="r")["agents"]


def best_of(fn):
    best = None
    for _ in range(repeat):
        drop_caches()
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = dt if best is None or dt < best else best
    return best


def fields():
    a = arr[:]
    # the fields the replay uses, as the C reader's frame stream does
    return (a["centroid"], a["velocity"], a["yaw"], a["track_id"],
            a["label_probabilities"].max(axis=1))


n = int(arr.shape[0])
t_read = best_of(lambda: arr[:])
t_fields = best_of(fields)
print(json.dumps({"bench": "zarr_python", "dataset": path, "agents": n,
                  "read_decode_agents_per_s": round(n / t_read),
                  "fields_agents_per_s": round(n / t_fields),
                  "cache": "cold" if cold else "warm"}))
