#!/usr/bin/env bash
# e2e: the dashboard in Debian's Chromium against the running stack
# (ui/e2e/dashboard.e2e.mjs): a fleetops-operator of its own on a free
# port, a throwaway database, the synthetic demo scenes, the real broker.
# Its consumer groups are new and start at the end of the topics, so only
# the replay this test starts reaches it. Screenshots are kept in
# $FO_BINARY_DIR/e2e-artifacts. Exit 0 pass, 1 fail, 77 skip (a service,
# Chromium or the built dashboard missing).
set -euo pipefail
src=${FO_SOURCE_DIR:?} bin=${FO_BINARY_DIR:?}/bin
skip() { echo "SKIP: $*"; exit 77; }
[[ -n ${PG_DSN:-} && -n ${KAFKA_BROKERS:-} ]] || skip "needs PG_DSN and KAFKA_BROKERS (tools/fleetops test starts them)"
[[ -x /usr/bin/chromium ]] || skip "/usr/bin/chromium not installed (tools/install-deps.sh installs it)"
[[ -f $src/ui/dist/index.html && -d $src/ui/node_modules ]] || skip "the dashboard is not built (tools/fleetops build)"
command -v psql >/dev/null || skip "psql not installed"

tag=fo_e2e_$$
tmp=$(mktemp -d /tmp/$tag.XXXXXX)
db=$tag
dsn=${PG_DSN%/*}/$db
op_pid=""
cleanup() {
  [[ -n $op_pid ]] && kill "$op_pid" 2>/dev/null && wait "$op_pid" 2>/dev/null || true
  psql -X -q -d "$PG_DSN" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

psql -X -q -d "$PG_DSN" -c "CREATE DATABASE $db" >/dev/null
"$bin/fleetops-gen" --preset demo --out "$tmp/demo.zarr" >/dev/null 2>&1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=$("$bin/fleetops-operator" --quiet --token e2e --pg-dsn "$dsn")
"$bin/fleetops-operator" --brokers "$KAFKA_BROKERS" --pg-dsn "$dsn" --listen "127.0.0.1:$port" \
  --ui "$src/ui/dist" --dataset "$tmp/demo.zarr" --thresholds "$src/config/thresholds.json" \
  --replay-logs "$tmp" --pullover-delay 3 --group "${tag}_ops" --telemetry-group "${tag}_tel" \
  -X auto.offset.reset=latest >"$tmp/operator.log" 2>&1 &
op_pid=$!
for _ in $(seq 150); do
  curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$op_pid" 2>/dev/null || { tail -20 "$tmp/operator.log"; echo "FAIL: the operator exited"; exit 1; }
  sleep 0.2
done
sleep 4 # the consumer groups' first assignment, so the replay is not missed

artifacts=${FO_BINARY_DIR}/e2e-artifacts
mkdir -p "$artifacts"
rc=0
(cd "$src/ui" && OPERATOR_URL="http://127.0.0.1:$port" FO_TOKEN=$token PG_DSN=$dsn \
  FO_E2E_ARTIFACTS=$artifacts node e2e/dashboard.e2e.mjs) || rc=$?
if ((rc != 0)); then
  echo "--- operator log (last 30 lines)"
  tail -30 "$tmp/operator.log"
fi
echo "screenshots: $artifacts"
exit $rc
