#!/usr/bin/python3
"""Integration: fleetops-operator end to end against the real Kafka broker
and PostgreSQL, through its public REST and WebSocket API.

The events are real output of fleetopsd: a generated dataset (fleetops-gen
--preset test) replayed to ndjson, its raw_telemetry and anomalies then
produced (kcat) to topics of this run. The operator runs on a throwaway
database and its own topics and groups. Checks:
  1. anomalies become alerts rows and WebSocket alert_created messages
     within 1 s; producing them again changes nothing (no rows, no
     messages);
  2. the REST lifecycle: 401 without or with a bad token, 404 for unknown
     ids and routes, 409 for illegal transitions, 400 for malformed bodies
     and ids, 413 for a body over 4 KiB; acknowledge, assign, remote assist,
     a simulated pull-over that turns the vehicle UNDER_INTERVENTION and
     resolves the alert with an incident after the delay, dismiss; every
     action an OperatorActionEvent on the actions topic, keyed by action_id;
  3. the WebSocket: a snapshot first, action_executed and alert_updated
     after each action, vehicle_updated with positions, 4401 for a bad
     token; GET /vehicles, /vehicles/{id}, /vehicles/{id}/history, /metrics,
     /health, cursor paging.
Exit 0 pass, 1 fail, 77 skip (no broker or database).
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import operator_fixture as fx  # noqa: E402
from operator_fixture import Ws, check, free_port, produce, psql  # noqa: E402

BIN = os.path.join(os.environ.get("FO_BINARY_DIR", "build"), "bin")
BROKERS = os.environ.get("KAFKA_BROKERS")
DSN = os.environ.get("PG_DSN")
if not BROKERS or not DSN:
    print("SKIP: needs KAFKA_BROKERS and PG_DSN (tools/fleetops test starts them)")
    sys.exit(77)
for tool in ("kcat", "psql"):
    if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
        print(f"SKIP: {tool} not installed")
        sys.exit(77)

def consume(topic, timeout=10):
    r = subprocess.run(["kcat", "-C", "-b", BROKERS, "-t", topic, "-e", "-q", "-f",
                        "%k\t%s\n", "-m", str(timeout)], capture_output=True, text=True)
    out = []
    for line in r.stdout.splitlines():
        if "\t" in line:
            k, v = line.split("\t", 1)
            out.append((k, json.loads(v)))
    return out


class Http:
    def __init__(self, base):
        self.base = base

    def req(self, method, path, body=None, token=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        r = urllib.request.Request(self.base + path, data=data, method=method)
        if token:
            r.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            r.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(r, timeout=15) as resp:
                text = resp.read().decode()
                code = resp.status
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            code = e.code
        try:
            return code, json.loads(text)
        except ValueError:
            return code, text


def main():
    tag = f"fo_api_{os.getpid()}"
    db = f"fo_test_{tag}"
    admin = DSN
    psql(admin, f"DROP DATABASE IF EXISTS {db}")
    psql(admin, f"CREATE DATABASE {db}")
    dsn = DSN.rsplit("/", 1)[0] + "/" + db
    tmp = tempfile.mkdtemp(prefix="fo_api_")
    log = open(os.path.join(tmp, "operator.log"), "w")
    op = None
    topics = []
    try:
        # real events from fleetopsd
        subprocess.run([f"{BIN}/fleetops-gen", "--preset", "test", "--out", f"{tmp}/d.zarr"],
                       check=True, capture_output=True)
        subprocess.run([f"{BIN}/fleetopsd", "run", "--dataset", f"{tmp}/d.zarr", "--speed",
                        "max", "--sink", f"ndjson:{tmp}/nd"], check=True, capture_output=True)
        raw = open(f"{tmp}/nd/raw_telemetry.ndjson").read().splitlines()
        anomalies = open(f"{tmp}/nd/anomalies.ndjson").read().splitlines()
        check(len(anomalies) >= 4, f"the test dataset raises anomalies ({len(anomalies)})")
        t_anom, t_raw, t_act = f"{tag}_anomalies", f"{tag}_raw", f"{tag}_actions"
        topics[:] = [f"{t_anom}:6", f"{t_anom}.dlq:1", f"{t_raw}:6", f"{t_act}:3"]
        subprocess.run([f"{BIN}/fleetops-topics", "--brokers", BROKERS, "create", *topics],
                       check=True)
        produce(BROKERS, t_anom, anomalies[:2])
        produce(BROKERS, t_raw, raw[:50])

        token = subprocess.run([f"{BIN}/fleetops-operator", "--quiet", "--token", "alice",
                                "--pg-dsn", dsn], capture_output=True, text=True)
        check(token.returncode == 0, f"--token exits 0 ({token.stderr.strip()})")
        lines = token.stdout.splitlines()
        check(len(lines) == 1 and len(lines[0]) >= 32, "--token prints one line, the token")
        tok = lines[0]
        check(psql(dsn, f"SELECT count(*) FROM operators WHERE token_hash = '{tok}'") == "0",
              "the token itself is not stored")
        bob = subprocess.run([f"{BIN}/fleetops-operator", "--quiet", "--token", "bob",
                              "--pg-dsn", dsn], capture_output=True, text=True).stdout.strip()

        port = free_port()
        op = subprocess.Popen([f"{BIN}/fleetops-operator", "--brokers", BROKERS, "--pg-dsn", dsn,
                               "--listen", f"127.0.0.1:{port}", "--topic", t_anom,
                               "--group", f"{tag}_g", "--telemetry-topic", t_raw,
                               "--telemetry-group", f"{tag}_tg", "--actions-topic", t_act,
                               "--pullover-delay", "1", "-X", "auto.offset.reset=earliest",
                               "--progress", "1"], stdout=log, stderr=log)
        http = Http(f"http://127.0.0.1:{port}")
        deadline = time.time() + 30
        code = 0
        while time.time() < deadline:
            try:
                code, _ = http.req("GET", "/health")
            except OSError:
                code = 0
            if code == 200:
                break
            time.sleep(0.2)
        check(code == 200, f"GET /health answers 200 (got {code})")
        deadline = time.time() + 15
        while time.time() < deadline and psql(dsn, "SELECT count(*) FROM alerts") != "2":
            time.sleep(0.2)
        check(psql(dsn, "SELECT count(*) FROM alerts") == "2", "the first 2 anomalies are alerts")

        # --- WebSocket: bad token, then a snapshot
        bad = Ws(port, "/ws?token=nottherighttoken")
        check(bad.recv(5) is None and bad.close_code == 4401,
              f"a bad token closes /ws with 4401 (got {bad.close_code})")
        bad.close()
        none = Ws(port, "/ws")
        check(none.recv(5) is None and none.close_code == 4401, "no token: 4401")
        none.close()
        ws = Ws(port, f"/ws?token={tok}")
        snap = ws.recv(10)
        check(snap is not None and snap.get("type") == "snapshot", f"snapshot first: {snap}")
        if snap:
            check(len(snap["alerts"]) == 2, "the snapshot holds the 2 open alerts")
            check(isinstance(snap["vehicles"], list), "the snapshot has vehicles")

        # --- 1: anomalies -> alert_created within 1 s; a repeat changes nothing
        rest = anomalies[2:]
        t0 = time.time()
        produce(BROKERS, t_anom, rest)
        want = {json.loads(l)["anomaly_id"] for l in rest}
        got = set()
        while got != want and time.time() < t0 + 5:
            m = ws.recv(t0 + 5 - time.time())
            if m and m.get("type") == "alert_created":
                got |= {a["anomaly_id"] for a in m["alerts"]}
        elapsed = time.time() - t0
        print(f"alert_created for {len(got)} alerts {elapsed * 1000:.0f} ms after producing "
              "(kcat start included)")
        check(got == want, f"alert_created for every new anomaly ({len(got)}/{len(want)})")
        check(elapsed < 1.0 + 0.3, f"within 1 s of producing (took {elapsed:.3f} s, "
                                   "kcat start included)")
        n_alerts = psql(dsn, "SELECT count(*) FROM alerts")
        check(n_alerts == str(len(anomalies)), f"one row per anomaly ({n_alerts})")
        produce(BROKERS, t_anom, anomalies)
        extra, _ = ws.until(lambda m: m.get("type") == "alert_created", timeout=3)
        check(extra is None, "redelivered anomalies raise no alert_created")
        check(psql(dsn, "SELECT count(*) FROM alerts") == n_alerts, "and no rows")

        # --- 2: lifecycle
        code, body = http.req("GET", "/alerts?limit=2")
        check(code == 200 and len(body["alerts"]) == 2 and body["next_cursor"], "paging: page 1")
        ids = [a["alert_id"] for a in body["alerts"]]
        cur = body["next_cursor"]
        while cur:
            code, body = http.req("GET", f"/alerts?limit=2&cursor={cur}")
            check(code == 200, "paging: next page")
            ids += [a["alert_id"] for a in body["alerts"]]
            cur = body.get("next_cursor")
        check(len(ids) == len(set(ids)) == len(anomalies), f"paging sees every alert once "
                                                           f"({len(ids)})")
        code, _ = http.req("GET", "/alerts?cursor=garbage")
        check(code == 400, f"a bad cursor is a 400 ({code})")
        code, _ = http.req("GET", "/alerts?status=FINE")
        check(code == 400, "a bad status filter is a 400")

        a = json.loads(anomalies[0])
        aid = psql(dsn, f"SELECT alert_id FROM alerts WHERE anomaly_id = '{a['anomaly_id']}'")
        vid = a["vehicle_id"]
        code, _ = http.req("POST", f"/alerts/{aid}/acknowledge")
        check(code == 401, f"no token: 401 ({code})")
        code, _ = http.req("POST", f"/alerts/{aid}/acknowledge", token="wrong")
        check(code == 401, f"wrong token: 401 ({code})")
        code, _ = http.req("POST", "/alerts/00000000-0000-4000-8000-000000000000/acknowledge",
                           token=tok)
        check(code == 404, f"unknown alert: 404 ({code})")
        code, _ = http.req("GET", "/alerts/00000000-0000-4000-8000-000000000000")
        check(code == 404, f"GET unknown alert: 404 ({code})")
        code, _ = http.req("POST", "/alerts/not-a-uuid/acknowledge", token=tok)
        check(code == 400, f"bad uuid: 400 ({code})")
        code, body = http.req("POST", f"/alerts/{aid}/actions", raw=b"{not json", token=tok)
        check(code == 400 and "error" in body, f"malformed body: 400 ({code})")
        code, _ = http.req("POST", f"/alerts/{aid}/actions", {"action_type": "FLY"}, token=tok)
        check(code == 400, f"unknown action_type: 400 ({code})")
        code, _ = http.req("POST", f"/alerts/{aid}/actions", {"note": 5}, token=tok)
        check(code == 400, f"missing action_type: 400 ({code})")
        code, _ = http.req("POST", f"/alerts/{aid}/actions",
                           raw=json.dumps({"action_type": "RESOLVE", "note": "x" * 5000}).encode(),
                           token=tok)
        check(code == 413, f"a body over 4 KiB: 413 ({code})")
        code, _ = http.req("POST", f"/alerts/{aid}/actions", {"action_type": "RESUME"}, token=tok)
        check(code == 409, f"RESUME without a pull-over: 409 ({code})")

        code, body = http.req("POST", f"/alerts/{aid}/acknowledge", {"note": "seen"}, token=tok)
        check(code == 200 and body["alert"]["alert_status"] == "ACKNOWLEDGED",
              f"acknowledge: 200 ACKNOWLEDGED ({code} {body})")
        check(psql(dsn, f"SELECT alert_status FROM alerts WHERE alert_id = '{aid}'")
              == "ACKNOWLEDGED", "and in PostgreSQL")
        upd, seen = ws.until(lambda m: m.get("type") == "alert_updated", timeout=3)
        check(upd is not None and upd["alert"]["alert_status"] == "ACKNOWLEDGED",
              "alert_updated on the WebSocket")
        act = [m for m in seen if m.get("type") == "action_executed"]
        if not act:
            m, _ = ws.until(lambda m: m.get("type") == "action_executed", timeout=3)
            act = [m] if m else []
        check(act and act[0]["action"]["action_type"] == "ACKNOWLEDGE"
              and act[0]["action"]["operator_name"] == "alice",
              "action_executed names the token's operator")
        code, body = http.req("POST", f"/alerts/{aid}/acknowledge", token=tok)
        check(code == 409 and body.get("alert_status") == "ACKNOWLEDGED",
              f"acknowledging twice: 409 ({code} {body})")
        code, body = http.req("POST", f"/alerts/{aid}/assign",
                              {"operator_id": 999, "note": "mine"}, token=bob)
        bob_id = psql(dsn, "SELECT id FROM operators WHERE name = 'bob'")
        check(code == 200 and str(body["alert"]["assigned_operator_id"]) == bob_id,
              "assign: to the token's operator, never the body's")
        code, body = http.req("POST", f"/alerts/{aid}/actions",
                              {"action_type": "REQUEST_REMOTE_ASSIST"}, token=tok)
        check(code == 200, f"remote assist: 200 ({code})")
        code, body = http.req("POST", f"/alerts/{aid}/actions",
                              {"action_type": "PULL_OVER_SIMULATED"}, token=tok)
        check(code == 200, f"pull over: 200 ({code} {body})")
        code, body = http.req("GET", f"/vehicles/{vid}")
        check(code == 200 and body["vehicle"]["state"] == "UNDER_INTERVENTION",
              f"the vehicle is UNDER_INTERVENTION ({code} {body if code != 200 else ''})")
        code, body = http.req("POST", f"/alerts/{aid}/actions",
                              {"action_type": "PULL_OVER_SIMULATED"}, token=tok)
        check(code == 409, f"a second pull-over: 409 ({code})")
        res, _ = ws.until(lambda m: m.get("type") == "alert_updated"
                          and m["alert"]["alert_id"] == aid
                          and m["alert"]["alert_status"] == "RESOLVED", timeout=6)
        check(res is not None, "the pull-over resolves the alert after the delay (WebSocket)")
        code, body = http.req("GET", f"/alerts/{aid}")
        check(code == 200 and body["alert"]["alert_status"] == "RESOLVED"
              and body["incident"] is not None, "GET /alerts/{id}: RESOLVED with an incident")
        if code == 200:
            types = [x["action_type"] for x in body["actions"]]
            check(types == ["ACKNOWLEDGE", "ASSIGN", "REQUEST_REMOTE_ASSIST",
                            "PULL_OVER_SIMULATED", "RESOLVE"], f"the action timeline: {types}")
            check("features" in body["alert"] and "evidence" in body["alert"],
                  "GET /alerts/{id} has features and evidence")
        check(psql(dsn, f"SELECT count(*) FROM incident_history WHERE alert_id = '{aid}'") == "1",
              "one incident_history row")
        code, body = http.req("GET", f"/vehicles/{vid}")
        check(code == 200 and body["vehicle"]["state"] != "UNDER_INTERVENTION",
              "the vehicle leaves UNDER_INTERVENTION")
        code, _ = http.req("POST", f"/alerts/{aid}/actions", {"action_type": "DISMISS"},
                           token=tok)
        check(code == 409, f"dismissing a resolved alert: 409 ({code})")

        b = json.loads(anomalies[1])
        bid = psql(dsn, f"SELECT alert_id FROM alerts WHERE anomaly_id = '{b['anomaly_id']}'")
        code, body = http.req("POST", f"/alerts/{bid}/actions", {"action_type": "DISMISS"},
                              token=tok)
        check(code == 200 and body["alert"]["alert_status"] == "DISMISSED", "dismiss: 200")
        check(psql(dsn, f"SELECT count(*) FROM incident_history WHERE alert_id = '{bid}'") == "0",
              "a dismissed alert leaves no incident")
        code, body = http.req("GET", f"/vehicles/{vid}/history")
        check(code == 200 and any(x["alert_id"] == aid for x in body["alerts"])
              and len(body["incidents"]) >= 1, "GET /vehicles/{id}/history")
        code, _ = http.req("GET", "/vehicles/no_such_vehicle")
        check(code == 404, f"unknown vehicle: 404 ({code})")
        code, _ = http.req("GET", "/nothing/here/at/all/x")
        check(code == 404, f"unknown route: 404 ({code})")
        code, _ = http.req("DELETE", "/alerts")
        check(code == 405, f"DELETE: 405 ({code})")

        # every action is an OperatorActionEvent keyed by action_id
        n_actions = int(psql(dsn, "SELECT count(*) FROM operator_actions"))
        deadline = time.time() + 10
        events = []
        while time.time() < deadline:
            events = consume(t_act)
            if len(events) >= n_actions:
                break
            time.sleep(0.5)
        check(len(events) == n_actions, f"operator_actions has every action ({len(events)}/"
                                        f"{n_actions})")
        check(all(k == v["action_id"] and v["event_version"] == "1.0.0" for k, v in events),
              "keyed by action_id, versioned")

        # --- 3: live positions and the rest of the API
        produce(BROKERS, t_raw, raw[50:400])
        vu, _ = ws.until(lambda m: m.get("type") == "vehicle_updated"
                         and any(v.get("x") is not None for v in m["vehicles"]), timeout=5)
        check(vu is not None, "vehicle_updated with positions")
        code, body = http.req("GET", "/vehicles")
        check(code == 200 and len(body["vehicles"]) > 5, "GET /vehicles")
        code, body = http.req("GET", "/vehicles?state=BROKEN")
        check(code == 400, "a bad state filter: 400")
        code, text = http.req("GET", "/metrics")
        check(code == 200 and "fleetops_alerts" in text
              and "fleetops_broadcast_seconds{quantile=\"0.99\"}" in text,
              "GET /metrics in Prometheus text")
        code, body = http.req("GET", "/health")
        check(code == 200 and body["kafka"] == "up" and body["postgres"] == "up",
              f"GET /health: {body}")
        ws.close()
    finally:
        if op:
            op.terminate()
            try:
                rc = op.wait(20)
                check(rc == 0, f"the operator exits 0 on SIGTERM ({rc})")
            except subprocess.TimeoutExpired:
                op.kill()
                check(False, "the operator stops within 20 s of SIGTERM")
        log.close()
        if fx.failures:
            print(open(os.path.join(tmp, "operator.log")).read()[-4000:])
        if topics:
            subprocess.run([f"{BIN}/fleetops-topics", "--brokers", BROKERS, "delete",
                            *[t.split(":")[0] for t in topics]])
        try:
            psql(admin, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        except RuntimeError as e:
            print(e)
    print(f"test_operator_api: {'FAIL' if fx.failures else 'ok'} ({fx.failures} failures)")
    return 1 if fx.failures else 0


if __name__ == "__main__":
    sys.exit(main())
