#!/usr/bin/env python3
"""Unit: fleetops-calibrate and thresholds files.

- On a generated dataset of ordinary driving (no anomalies) it writes a
  thresholds.json with the percentile, the dataset, the date, every value
  (none below the rule book's default) and the quantiles behind them, and
  reports the anomaly rates; fleetopsd --thresholds loads it, and every
  scripted anomaly of the test preset is still found with it.
- On the real L5Kit scene (when ../shared is there) the calibrated rate is
  at most 2 per 1,000 vehicle-frames and below the defaults'.
- Bad input is a clear error: a bad --percentile (exit 2), a missing
  dataset (exit 1, naming it), a thresholds file with an unknown key or an
  out-of-range value (fleetopsd exits 1 naming the file and the key).
"""
import json
import os
import subprocess
import sys
import tempfile

src = os.environ.get("FO_SOURCE_DIR")
bindir = os.environ.get("FO_BINARY_DIR")
if not src or not bindir:
    print("SKIP: FO_SOURCE_DIR/FO_BINARY_DIR not set (run through ctest)")
    sys.exit(77)
cal = os.path.join(bindir, "bin", "fleetops-calibrate")
gen = os.path.join(bindir, "bin", "fleetops-gen")
fod = os.path.join(bindir, "bin", "fleetopsd")
tmp = tempfile.mkdtemp(prefix="fo_calibrate_")
fails = 0
DEFAULTS = {"decel_accel": 3.0, "decel_dv": -5.0, "decel_critical": 5.0, "label_drop": 0.2,
            "position_jump": 2.0, "yaw_jump": 0.5, "scene_agent_drop": 5}


def fail(msg):
    global fails
    fails += 1
    print("FAIL:", msg)


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True)


calm = os.path.join(tmp, "calm.zarr")
r = run(gen, "--preset", "test", "--no-anomalies", "--out", calm, "-q")
if r.returncode != 0:
    fail(f"fleetops-gen: {r.stderr}")
out = os.path.join(tmp, "th.json")
r = run(cal, "--dataset", calm, "--out", out)
if r.returncode != 0:
    fail(f"fleetops-calibrate exited {r.returncode}: {r.stderr}")
else:
    th = json.load(open(out))
    for k in ("percentile", "dataset", "calibrated_at", "values", "derivation"):
        if k not in th:
            fail(f"thresholds.json has no {k}")
    if th.get("percentile") != 99.9:
        fail(f"percentile {th.get('percentile')}")
    if th.get("dataset") != calm:
        fail(f"dataset {th.get('dataset')}")
    vals = th.get("values", {})
    for k, d in DEFAULTS.items():
        v = vals.get(k)
        if v is None:
            fail(f"values.{k} missing")
        elif (k == "decel_dv" and v > d) or (k != "decel_dv" and v < d):
            fail(f"values.{k} = {v} is looser than the rule book's {d}")
    rates = th.get("derivation", {}).get("anomalies_per_1000", {})
    if not {"defaults_no_cooldown", "defaults", "calibrated"} <= set(rates):
        fail(f"derivation.anomalies_per_1000: {rates}")
    if "per 1,000 vehicle-frames" not in r.stdout:
        fail("the report does not print the rates")
    # the result still finds every scripted anomaly
    ds = os.path.join(tmp, "test.zarr")
    run(gen, "--preset", "test", "--out", ds, "-q")
    nd = os.path.join(tmp, "nd")
    r = run(fod, "run", "--dataset", ds, "--speed", "max", "--thresholds", out, "--progress",
            "0", "--sink", "ndjson:" + nd)
    if r.returncode != 0:
        fail(f"fleetopsd --thresholds {out}: {r.stderr[-500:]}")
    else:
        found = [json.loads(l) for l in open(os.path.join(nd, "anomalies.ndjson"))]
        script = json.load(open(os.path.join(ds, "scripted_anomalies.json")))["anomalies"]
        for s in script:
            if not any(a["vehicle_id"] == s["vehicle_id"] and
                       a["anomaly_type"] == s["expected_anomaly_type"] and
                       s["frame_index"] <= a["frame_index"] <= s["detect_frame"] + 3
                       for a in found):
                fail(f"with calibrated thresholds: {s['kind']} at {s['vehicle_id']} not found")

real = os.path.join(src, "..", "shared", "l5kit", "single_scene.zarr")
if os.path.isdir(real):
    rout = os.path.join(tmp, "real.json")
    r = run(cal, "--dataset", real, "--golden",
            os.path.join(src, "config", "golden", "l5kit_real_scene.json"), "--out", rout)
    if r.returncode != 0:
        fail(f"calibrating on the real scene: {r.stderr}")
    else:
        rates = json.load(open(rout))["derivation"]["anomalies_per_1000"]
        print("real scene, anomalies per 1,000:", rates)
        if not rates["calibrated"] <= 2.0:
            fail(f"calibrated rate {rates['calibrated']} > 2 per 1,000")
        if not rates["calibrated"] < rates["defaults"] <= rates["defaults_no_cooldown"]:
            fail(f"rates not decreasing: {rates}")
else:
    print(f"note: {real} not found; the real-data rate is not checked")

# bad input
r = run(cal, "--dataset", calm, "--percentile", "120")
if r.returncode != 2 or "--percentile" not in r.stderr:
    fail(f"--percentile 120: exit {r.returncode} {r.stderr!r}")
r = run(cal, "--dataset", os.path.join(tmp, "nope.zarr"), "--out", os.path.join(tmp, "x.json"))
if r.returncode != 1 or "nope.zarr" not in r.stderr:
    fail(f"missing dataset: exit {r.returncode} {r.stderr!r}")
for name, body, needle in (
        ("unknown", {"values": {"decel_acel": 3}}, "values.decel_acel is not a known threshold"),
        ("range", {"values": {"label_drop": 7}}, "values.label_drop must be"),
        ("shape", {"thresholds": {}}, "expected an object \\\"values\\\"")):
    p = os.path.join(tmp, name + ".json")
    json.dump(body, open(p, "w"))
    r = run(fod, "run", "--dataset", calm, "--speed", "max", "--sink", "null",
            "--thresholds", p)
    if r.returncode != 1 or needle not in r.stderr or p not in r.stderr:
        fail(f"thresholds file {name}: exit {r.returncode}, stderr {r.stderr[-400:]!r}")

subprocess.run(["rm", "-rf", tmp])
print(f"check_calibrate: {fails} failures")
sys.exit(1 if fails else 0)
