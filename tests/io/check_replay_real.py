#!/usr/bin/python3
"""Unit: fleetopsd's replay of the real L5Kit scene against an independent
implementation of DESIGN.md's telemetry definitions in numpy/zarr-python.

Runs `fleetopsd run --dataset ../shared/l5kit/single_scene.zarr --speed max
--sink ndjson:DIR` and checks: 21,050 events (20,802 agents + 248 ego), one
per (vehicle, frame), and for every event position, velocity, acceleration,
their magnitudes, yaw, yaw_rate, label_probability, track_length and
event_time against values recomputed here from the raw arrays.
Exit 0 pass, 1 fail, 77 skip (no ../shared data or no zarr-python).
"""
import json
import math
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

src = os.environ.get("FO_SOURCE_DIR", ".")
bindir = os.environ.get("FO_BINARY_DIR")
data = os.path.join(src, "..", "shared", "l5kit", "single_scene.zarr")
if not os.path.isdir(data):
    print(f"SKIP: {data} not found (the real L5Kit scene lives in ../shared)")
    sys.exit(77)
try:
    import numpy as np
    import zarr
except ImportError as e:
    print(f"SKIP: zarr-python not importable ({e}); install python3-zarr")
    sys.exit(77)
if not bindir:
    print("SKIP: FO_BINARY_DIR not set (run through ctest)")
    sys.exit(77)

g = zarr.open_group(data, mode="r")
scenes, frames, agents = g["scenes"][:], g["frames"][:], g["agents"][:]

# --- independent reference ---------------------------------------------
ref = {}
for si, sc in enumerate(scenes):
    f0, f1 = (int(x) for x in sc["frame_index_interval"])
    prev = {}  # vehicle -> (ts, pos, vel, yaw, count)
    for fi in range(f0, f1):
        fr = frames[fi]
        ts = int(fr["timestamp"])
        a0, a1 = (int(x) for x in fr["agent_index_interval"])
        obs = []
        R = fr["ego_rotation"]
        obs.append((f"scene_{si:03d}_ego", np.array(fr["ego_translation"], dtype=float),
                    None, math.atan2(R[1][0], R[0][0]), 1.0))
        for ag in agents[a0:a1]:
            obs.append((f"scene_{si:03d}_track_{int(ag['track_id'])}",
                        np.array([ag["centroid"][0], ag["centroid"][1], 0.0]),
                        np.array([ag["velocity"][0], ag["velocity"][1], 0.0], dtype=float),
                        float(ag["yaw"]), float(np.max(ag["label_probabilities"]))))
        for vid, pos, vel, yaw, p in obs:
            pv = prev.get(vid)
            count = pv[4] + 1 if pv else 1
            dt = (ts - pv[0]) * 1e-9 if pv else 0.0
            if vel is None:  # ego: from translation
                vel = (pos - pv[1]) / dt if pv else np.zeros(3)
            ego = vid.endswith("_ego")
            if pv and not (ego and count <= 2):
                acc = (vel - pv[2]) / dt
            else:
                acc = np.zeros(3)
            if pv:
                d = (yaw - pv[3] + math.pi) % (2 * math.pi) - math.pi
                yaw_rate = d / dt
            else:
                yaw_rate = 0.0
            ref[(vid, fi - f0)] = dict(pos=pos, vel=vel, acc=acc, yaw=yaw, yaw_rate=yaw_rate,
                                       p=p, n=count, ts=ts)
            prev[vid] = (ts, pos, vel, yaw, count)

# --- fleetopsd ------------------------------------------------------------
out = tempfile.mkdtemp(prefix="fo_real_")
cmd = [os.path.join(bindir, "bin", "fleetopsd"), "run", "--dataset", data, "--speed", "max",
       "--sink", f"ndjson:{out}", "--progress", "0"]
r = subprocess.run(cmd, capture_output=True, text=True)
if r.returncode != 0:
    print(f"FAIL: {' '.join(cmd)} exited {r.returncode}\n{r.stderr}")
    sys.exit(1)

fails = 0
def fail(msg):
    global fails
    fails += 1
    if fails <= 20:
        print("FAIL:", msg)

n = 0
seen = set()
ids = set()
with open(os.path.join(out, "raw_telemetry.ndjson")) as f:
    for line in f:
        n += 1
        e = json.loads(line)
        key = (e["vehicle_id"], e["frame_index"])
        if key in seen:
            fail(f"duplicate event {key}")
        seen.add(key)
        ids.add(e["event_id"])
        want = ref.get(key)
        if want is None:
            fail(f"unexpected event {key}")
            continue
        t = e["telemetry"]
        def near(name, got, exp, tol):
            if not abs(got - exp) <= tol:
                fail(f"{key} {name}: {got} != {exp}")
        for i, ax in enumerate("xyz"):
            near("position." + ax, t["position"][ax], want["pos"][i], 1e-3)
            near("velocity." + ax, t["velocity"][ax], want["vel"][i], 1e-3)
            near("acceleration." + ax, t["acceleration"][ax], want["acc"][i],
                 1e-3 + 1e-6 * abs(want["acc"][i]))
        near("velocity.magnitude", t["velocity"]["magnitude"], np.linalg.norm(want["vel"]), 1e-3)
        near("acceleration.magnitude", t["acceleration"]["magnitude"],
             np.linalg.norm(want["acc"]), 1e-3 + 1e-6 * np.linalg.norm(want["acc"]))
        near("yaw", t["yaw"], want["yaw"], 1e-5)
        near("yaw_rate", t["yaw_rate"], want["yaw_rate"], 1e-4 + 1e-6 * abs(want["yaw_rate"]))
        near("label_probability", t["label_probability"], want["p"], 1e-6)
        if t["track_length"] != want["n"]:
            fail(f"{key} track_length {t['track_length']} != {want['n']}")
        ts = want["ts"] // 1_000_000
        iso = datetime.fromtimestamp(ts / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts % 1000:03d}Z"
        if e["event_time"] != iso:
            fail(f"{key} event_time {e['event_time']} != {iso}")
        if e["vehicle_id"].endswith("_ego") != (e["track_id"] is None):
            fail(f"{key} track_id {e['track_id']}")
        if e["scene_id"] != "scene_000" or e["event_version"] != "1.0.0":
            fail(f"{key} scene_id/event_version")

if n != 21050:
    fail(f"{n} events, expected 21,050 (20,802 agents + 248 ego)")
if len(ids) != n:
    fail(f"{n - len(ids)} duplicate event ids")
if len(seen) != len(ref):
    fail(f"{len(ref) - len(seen)} reference events missing")
egos = sum(1 for k in seen if k[0].endswith("_ego"))
if egos != 248:
    fail(f"{egos} ego events, expected 248")
subprocess.run(["rm", "-rf", out])
print(f"check_replay_real: {n} events compared, {fails} failures")
sys.exit(1 if fails else 0)
