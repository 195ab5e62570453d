#!/usr/bin/env bash
# Resident memory of the server across a burst of signups (each an argon2
# hash of 19 MiB): idle, peak (VmHWM) and after the burst (VmRSS), with
# SIGNUPS signups (default 2000) sent 8 at a time. docs/performance.md has
# the figures. Loopback only; the server is stopped at the end.
#
#   benches/signup_memory.sh [path/to/nuancheng]    (default: a debug build)
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-}
if [ -z "$BIN" ]; then
  cargo build --quiet --bin nuancheng
  BIN=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import sys,json;print(json.load(sys.stdin)["target_directory"])')/debug/nuancheng
fi
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
export NUANCHENG__DATABASE__URL="sqlite://$WORK/n.db?mode=rwc" NUANCHENG__EMAIL__FILE_DIR=$WORK/mail \
  NUANCHENG__SERVER__PORT=$PORT NUANCHENG__SERVER__WORKERS=2 NUANCHENG__SERVER__RUN_WORKER=false \
  NUANCHENG__RATE_LIMIT__AUTH_PER_MINUTE=1000000 NUANCHENG__AUTH__HASH_WAIT_MS=60000 RUST_LOG=warn
"$BIN" serve >"$WORK/server.log" 2>&1 & PID=$!
trap 'kill $PID; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "localhost:$PORT/healthz" >/dev/null && break; sleep 0.1; done
mem() { awk -v k="$1" '$1 == k":" {printf "%.0f MB", $2/1024}' /proc/$PID/status; }
echo "idle: $(mem VmRSS)"
python3 - "$PORT" "${SIGNUPS:-2000}" <<'PY'
import json, sys, time, urllib.request, concurrent.futures as cf
port, n = sys.argv[1], int(sys.argv[2])
def signup(i):
    body = json.dumps({"email": f"s{i}@pku.edu.cn", "password": "warmcity-2026", "full_name": "学生",
                       "university": "北京大学", "major": "化学工程", "degree": "master", "graduation_year": 2027,
                       "privacy_notice_version": "2026-11"}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/auth/signup", body, {"Content-Type": "application/json"})
    try:
        return urllib.request.urlopen(req).status
    except urllib.error.HTTPError as e:
        return e.code
start = time.time()
with cf.ThreadPoolExecutor(8) as pool:
    statuses = list(pool.map(signup, range(n)))
print(f"{n} signups in {time.time() - start:.1f} s: " + ", ".join(f"{s}: {statuses.count(s)}" for s in sorted(set(statuses))))
PY
echo "peak: $(mem VmHWM), after: $(mem VmRSS)"
