#!/usr/bin/python3
"""test_gen_cli: fleetops-gen's command line and output-directory safety.

Checks --help, usage errors (exit 2, a JSON log line that says what is
wrong), that an existing dataset is only replaced with --force, that a
directory that is not a dataset is never deleted, that a missing parent is
named, and that every stderr line is a JSON log record. Needs no zarr.

usage: check_gen_cli.py [PATH/TO/fleetops-gen]
Exit: 0 pass, 1 fail.
"""
import json
import os
import subprocess
import sys
import tempfile

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)
    return cond


def run(gen, *args):
    # info lines are part of what is checked, whatever the caller's FO_LOG_LEVEL
    env = dict(os.environ, FO_LOG_LEVEL="info")
    r = subprocess.run([gen, *args], capture_output=True, text=True, timeout=120, env=env)
    logs = []
    for line in r.stderr.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            check(False, f"stderr line is not JSON: {line!r}")
            continue
        check({"ts", "service", "level", "event_type"} <= rec.keys()
              and rec["service"] == "fleetops-gen", f"log record fields: {rec}")
        logs.append(rec)
    return r.returncode, r.stdout, logs


def errors(logs):
    return " ".join(x.get("msg", "") for x in logs if x["level"] == "error")


def main():
    gen = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.environ.get("FO_BINARY_DIR", "build"), "bin", "fleetops-gen")
    if not os.access(gen, os.X_OK):
        print(f"FAIL: {gen} not found or not executable")
        return 1

    rc, out, _ = run(gen, "--help")
    check(rc == 0 and "usage: fleetops-gen" in out and "--preset" in out, "--help")
    for args, word in ((["--preset", "test"], "--out"),
                       (["--out", "x", "--frames", "1"], "--frames"),
                       (["--out", "x", "--vehicles", "abc"], "--vehicles"),
                       (["--out", "x", "--preset", "nope"], "nope"),
                       (["--out", "x", "--bogus"], "--bogus"),
                       (["--out", "x", "--seed", "-1"], "--seed"),
                       (["--out", "x", "extra"], "extra")):
        rc, _, logs = run(gen, *args)
        check(rc == 2 and word in errors(logs), f"{args}: rc {rc}, {errors(logs)!r}")

    with tempfile.TemporaryDirectory(prefix="fo-gencli-") as tmp:
        out = os.path.join(tmp, "d.zarr")
        rc, _, logs = run(gen, "--preset", "test", "--out", out)
        check(rc == 0 and os.path.isfile(os.path.join(out, ".zgroup")), "generate")
        check(not os.path.exists(out + ".partial"), ".partial left behind")
        done = [x for x in logs if x["event_type"] == "gen_done"]
        check(done and done[0]["agents"] > 0, "gen_done log with agents")

        rc, _, logs = run(gen, "--preset", "test", "--out", out)
        check(rc == 1 and out in errors(logs) and "--force" in errors(logs),
              f"overwrite without --force: rc {rc} {errors(logs)!r}")
        before = os.path.getmtime(os.path.join(out, "scripted_anomalies.json"))
        rc, _, _ = run(gen, "--preset", "test", "--out", out + "/", "--force",
                       "--no-anomalies")
        check(rc == 0, "--force replaces a dataset")
        with open(os.path.join(out, "scripted_anomalies.json")) as f:
            check(json.load(f)["anomalies"] == [], "--force did not replace")
        check(os.path.getmtime(os.path.join(out, "scripted_anomalies.json")) >= before,
              "mtime")

        keep = os.path.join(tmp, "precious")
        os.mkdir(keep)
        with open(os.path.join(keep, "notes.txt"), "w") as f:
            f.write("keep me")
        rc, _, logs = run(gen, "--preset", "test", "--out", keep, "--force")
        check(rc == 1 and keep in errors(logs), f"non-dataset dir: {errors(logs)!r}")
        check(os.path.isfile(os.path.join(keep, "notes.txt")), "deleted user files!")

        missing = os.path.join(tmp, "no", "such", "d.zarr")
        rc, _, logs = run(gen, "--preset", "test", "--out", missing)
        check(rc == 1 and os.path.join(tmp, "no", "such") in errors(logs),
              f"missing parent: {errors(logs)!r}")

        # a stale .partial from an interrupted run is cleared
        stale = os.path.join(tmp, "s.zarr")
        os.makedirs(stale + ".partial/agents")
        open(stale + ".partial/.zgroup", "w").close()
        rc, _, _ = run(gen, "--preset", "test", "--out", stale, "--quiet")
        check(rc == 0 and os.path.isdir(stale) and not os.path.exists(stale + ".partial"),
              "stale .partial")

        empty = os.path.join(tmp, "empty.zarr")
        os.mkdir(empty)
        rc, _, logs = run(gen, "--preset", "test", "--out", empty, "--quiet")
        check(rc == 0 and not logs, f"empty dir as --out; --quiet logs {logs}")

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("ok: fleetops-gen command line")
    return 0


if __name__ == "__main__":
    sys.exit(main())
