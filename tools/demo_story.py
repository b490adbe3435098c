#!/usr/bin/python3
"""The demo story of docs/demo_script.md, played against a running
fleetops-operator through its public REST API only, so that a dashboard
open at the same time shows every step live.

  1. the story scene is replayed (POST /replay/start): vehicles appear;
  2. a sudden deceleration raises a WARNING: the operator acknowledges it;
  3. a perception instability follows: the operator takes it (assign);
  4. a CRITICAL deceleration: the operator pulls the vehicle over
     (simulated); the alert resolves after the operator's delay and an
     incident is recorded;
  5. the other scenes are replayed; then a summary of what this run raised.

Usage: demo_story.py --url URL --token TOKEN [--story-scenes S] [--rest-scenes S]
                     [--speed N] [--rest-speed N]
Progress goes to stderr as it happens; the summary to stdout. Exit 0 when
the replays finished (a step the data does not hold is reported, not an
error), 1 when a replay failed or the operator did not answer.
"""
import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

T0 = time.time()


def say(msg):
    print(f"demo [{time.time() - T0:6.1f} s] {msg}", file=sys.stderr, flush=True)


class Api:
    def __init__(self, url, token):
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method, path, body=None, ok=(200, 202)):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if method == "POST":
            req.add_header("Authorization", f"Bearer {self.token}")
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                code, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            code, text = e.code, e.read().decode()
        except OSError as e:
            raise SystemExit(f"demo: {method} {path}: the operator does not answer ({e})")
        try:
            doc = json.loads(text)
        except ValueError:
            doc = {"error": text}
        if code not in ok:
            raise SystemExit(f"demo: {method} {path}: {code} {doc.get('error', doc)}")
        return doc

    def alerts_since(self, since):
        """Every alert created at or after since (ISO), newest first."""
        out, cursor = [], None
        while True:
            path = "/alerts?limit=1000" + (f"&cursor={cursor}" if cursor else "")
            page = self.call("GET", path)
            for a in page["alerts"]:
                if a["created_at"] < since:
                    return out
                out.append(a)
            cursor = page.get("next_cursor")
            if not cursor:
                return out


def iso_now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{datetime.now(timezone.utc).microsecond // 1000:03d}Z"


def in_scenes(vehicle_id, prefixes):
    return any(vehicle_id.startswith(p) for p in prefixes) if prefixes else True


def wait_alert(api, since, pred, replay_id, timeout=120):
    """The first alert of this run matching pred (oldest first), or None once
    the replay ended and nothing matched (or timeout)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for a in reversed(api.alerts_since(since)):
            if pred(a):
                return a
        st = api.call("GET", f"/replay/status/{replay_id}")
        if st["status"] != "running":
            time.sleep(2)  # the last anomalies may still be on their way
            for a in reversed(api.alerts_since(since)):
                if pred(a):
                    return a
            return None
        time.sleep(0.1)
    return None


def wait_replay(api, replay_id, timeout=900):
    deadline = time.time() + timeout
    last = 0
    while time.time() < deadline:
        st = api.call("GET", f"/replay/status/{replay_id}")
        if st["status"] != "running":
            return st
        if time.time() - last > 5:
            say(f"replay {replay_id}: {st['events']}/{st['events_total']} events")
            last = time.time()
        time.sleep(0.3)
    raise SystemExit(f"demo: replay {replay_id} still running after {timeout} s")


def scene_prefixes(api, scenes):
    """vehicle_id prefixes (scene_NNN_) of a scenes expression, via /replay/scenes."""
    known = api.call("GET", "/replay/scenes")["scenes"]
    want = set()
    for part in scenes.split(","):
        if "-" in part:
            a, b = part.split("-")
            want |= set(range(int(a), int(b or known[-1]["scene_index"]) + 1))
        elif part:
            want.add(int(part))
    return [s["scene_id"] + "_" for s in known if s["scene_index"] in want]


def start_replay(api, scenes, speed):
    r = api.call("POST", "/replay/start", {"scenes": scenes, "speed": speed})
    say(f"replay {r['replay_id']} started: scenes {scenes} at {speed}x "
        f"({r['events_total']} events)")
    return r["replay_id"]


def story(api, args, since):
    prefixes = scene_prefixes(api, args.story_scenes)
    rid = start_replay(api, args.story_scenes, args.speed)
    replays = [rid]
    deadline = time.time() + 30
    while time.time() < deadline:
        vs = [v for v in api.call("GET", "/vehicles")["vehicles"]
              if in_scenes(v["vehicle_id"], prefixes) and v.get("x") is not None]
        if vs:
            say(f"{len(vs)} vehicles of scenes {args.story_scenes} are on the map and moving")
            break
        time.sleep(0.2)

    def decel(sev):
        # real data (--any-kind): the first alert of that severity, whatever its kind
        return lambda a: ((args.any_kind or a["anomaly_type"] == "sudden_deceleration")
                          and a["severity"] == sev and in_scenes(a["vehicle_id"], prefixes))

    steps = {}
    warn = wait_alert(api, since, decel("WARNING"), rid)
    if warn:
        say(f"WARNING: {warn['anomaly_type'].replace('_', ' ')} of {warn['vehicle_id']} "
            f"(rule {warn['triggered_rule']}, alert {warn['alert_id']})")
        api.call("POST", f"/alerts/{warn['alert_id']}/acknowledge",
                 {"note": "watching: hard braking among slowing traffic"})
        say(f"operator acknowledges {warn['alert_id']}")
        steps["acknowledged"] = warn["alert_id"]
    else:
        say("no WARNING " + ("alert" if args.any_kind else "sudden deceleration") + " in these scenes: step skipped")
    inst = wait_alert(api, since, lambda a: a["anomaly_type"] == "perception_instability"
                      and a["alert_id"] != steps.get("acknowledged")
                      and in_scenes(a["vehicle_id"], prefixes), rid)
    if inst:
        say(f"{inst['severity']}: perception instability on {inst['vehicle_id']} "
            f"(rule {inst['triggered_rule']})")
        api.call("POST", f"/alerts/{inst['alert_id']}/assign",
                 {"note": "checking the perception stack's output"})
        say(f"operator assigns {inst['alert_id']} to themself")
        steps["assigned"] = inst["alert_id"]
    else:
        say("no perception instability in these scenes: step skipped")
    crit = wait_alert(api, since, decel("CRITICAL"), rid)
    if crit:
        say(f"CRITICAL: {crit['anomaly_type'].replace('_', ' ')} of {crit['vehicle_id']} "
            f"(alert {crit['alert_id']})")
        api.call("POST", f"/alerts/{crit['alert_id']}/actions",
                 {"action_type": "PULL_OVER_SIMULATED", "note": "pull over and hold"})
        say(f"operator pulls {crit['vehicle_id']} over (simulated): UNDER_INTERVENTION")
        deadline = time.time() + 60
        while time.time() < deadline:
            a = api.call("GET", f"/alerts/{crit['alert_id']}")
            if a["alert"]["alert_status"] == "RESOLVED":
                inc = a.get("incident") or {}
                say(f"pull-over complete: alert resolved, incident {inc.get('incident_id')} "
                    "recorded")
                steps["pulled_over"] = crit["alert_id"]
                break
            time.sleep(0.2)
        else:
            say("the pull-over did not complete within 60 s")
    else:
        say("no CRITICAL " + ("alert" if args.any_kind else "sudden deceleration") + " in these scenes: step skipped")
    st = wait_replay(api, rid)
    say(f"replay {rid} {st['status']}: {st['events']} events, {st['anomalies']} anomalies")
    if st["status"] != "finished":
        raise SystemExit(f"demo: replay {rid} {st['status']}: {st.get('error')}")
    if args.rest_scenes:
        rid2 = start_replay(api, args.rest_scenes, args.rest_speed)
        replays.append(rid2)
        st = wait_replay(api, rid2)
        say(f"replay {rid2} {st['status']}: {st['events']} events, {st['anomalies']} anomalies")
        if st["status"] != "finished":
            raise SystemExit(f"demo: replay {rid2} {st['status']}: {st.get('error')}")
    return replays, steps


def settle(api, since, anomalies):
    """Waits until every anomaly of the replays is an alert (or 30 s)."""
    deadline = time.time() + 30
    n = -1
    while time.time() < deadline:
        n = len(api.alerts_since(since))
        if n >= anomalies:
            return n
        time.sleep(0.3)
    say(f"{n} alerts for {anomalies} anomalies after 30 s")
    return n


def summary(api, since, replays, steps):
    alerts = api.alerts_since(since)
    reps = [api.call("GET", f"/replay/status/{r}") for r in replays]
    by_type, by_sev, by_status = {}, {}, {}
    for a in alerts:
        by_type[a["anomaly_type"]] = by_type.get(a["anomaly_type"], 0) + 1
        by_sev[a["severity"]] = by_sev.get(a["severity"], 0) + 1
        by_status[a["alert_status"]] = by_status.get(a["alert_status"], 0) + 1
    incidents = 0
    for a in alerts:
        if a["alert_status"] == "RESOLVED" and api.call("GET", f"/alerts/{a['alert_id']}")[
                "incident"]:
            incidents += 1

    def fmt(d, order):
        return ", ".join(f"{k} {d.get(k, 0)}" for k in order)

    events = sum(r["events"] for r in reps)
    anomalies = sum(r["anomalies"] for r in reps)
    p99 = [r["latency_p99_ms"] for r in reps]
    raw = max((p["raw_telemetry"] for p in p99 if p["raw_telemetry"] is not None), default=None)
    anom = max((p["anomalies"] for p in p99 if p["anomalies"] is not None), default=None)
    ms = (lambda v: f"{v:.1f} ms" if v is not None else "n/a")
    print("FleetOps demo summary")
    print(f"  replays            {', '.join(r['replay_id'] + ' (scenes ' + r['scenes'] + ')' for r in reps)}")
    print(f"  events replayed    {events} raw_telemetry, {anomalies} anomalies")
    print(f"  alerts raised      {len(alerts)}")
    print(f"    by type          {fmt(by_type, ['sudden_deceleration', 'perception_instability', 'dropout'])}")
    print(f"    by severity      {fmt(by_sev, ['INFO', 'WARNING', 'CRITICAL'])}")
    print(f"    by status        {fmt(by_status, ['OPEN', 'ACKNOWLEDGED', 'RESOLVED', 'DISMISSED'])}")
    print(f"  alerts resolved    {by_status.get('RESOLVED', 0)}")
    print(f"  incidents          {incidents}")
    print(f"  operator steps     {', '.join(f'{k} {v}' for k, v in steps.items()) or 'none'}")
    print(f"  pipeline p99       emit -> delivered: raw_telemetry {ms(raw)}, anomalies {ms(anom)}")
    return len(alerts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--story-scenes", default="1")
    ap.add_argument("--rest-scenes", default="0,2-3")
    ap.add_argument("--speed", type=float, default=5)
    ap.add_argument("--rest-speed", type=float, default=20)
    ap.add_argument("--any-kind", action="store_true",
                    help="act on the first WARNING and CRITICAL alerts of any kind (real data)")
    args = ap.parse_args()
    api = Api(args.url, args.token)
    since = iso_now()
    replays, steps = story(api, args, since)
    anomalies = sum(api.call("GET", f"/replay/status/{r}")["anomalies"] for r in replays)
    settle(api, since, anomalies)
    summary(api, since, replays, steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
