#!/usr/bin/env bash
# Peak resident memory (VmHWM) of the server before and after exporting an
# event's 100,000 registrations as CSV and as XLSX. docs/performance.md has
# the figures. Everything runs on loopback; the server is stopped at the end.
#
#   benches/export_memory.sh [path/to/nuancheng]    (default: a debug build)
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
  NUANCHENG__SERVER__PORT=$PORT NUANCHENG__SERVER__WORKERS=2 RUST_LOG=warn

# The demo campaign, then 100,000 more students registered for its first
# published event, written straight into the SQLite file.
"$BIN" seed-demo >/dev/null
EV=$(python3 - "$WORK/n.db" <<'PY'
import sqlite3, sys, uuid
c = sqlite3.connect(sys.argv[1])
ev = c.execute("select id from events where status='published' limit 1").fetchone()[0]
cols = [r[1] for r in c.execute("pragma table_info(users)")]
tpl = dict(zip(cols, c.execute("select * from users where role='candidate' limit 1").fetchone()))
now = "2026-11-27T13:30:00.000000+00:00"
users, regs = [], []
for n in range(100000):
    uid = uuid.uuid4().bytes
    row = dict(tpl, id=uid, email=f"bulk{n}@pku.edu.cn", referral_code=f"B{n:09d}", full_name=f"学生{n}")
    users.append(tuple(row[k] for k in cols))
    regs.append((uuid.uuid4().bytes, ev, uid, "confirmed", uuid.uuid4().hex.upper()[:26], now, now, now))
c.executemany(f"insert into users ({','.join(cols)}) values ({','.join('?' * len(cols))})", users)
c.executemany("insert into registrations (id,event_id,user_id,status,ticket_code,confirmed_at,created_at,updated_at)"
              " values (?,?,?,?,?,?,?,?)", regs)
c.commit()
print(uuid.UUID(bytes=ev))
PY
)

"$BIN" serve >"$WORK/server.log" 2>&1 & PID=$!
trap 'kill $PID; rm -rf "$WORK"' EXIT
trap "kill $PID" EXIT
for i in $(seq 50); do curl -sf localhost:$PORT/healthz >/dev/null && break; sleep 0.2; done
TOKEN=$(curl -s localhost:$PORT/api/v1/auth/login -H 'content-type: application/json' -d '{"email":"organiser@demo.nuancheng.cn","password":"warmcity-demo-2026"}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["access_token"])')
hwm() { grep VmHWM /proc/$PID/status | awk '{print $2/1024 " MB"}'; }
echo "idle: $(hwm)"
/usr/bin/time -f "csv %e s" curl -s -o "$WORK/r.csv" -H "Authorization: Bearer $TOKEN" "localhost:$PORT/api/v1/events/$EV/registrations?format=csv"
echo "after csv: $(hwm), $(wc -l < "$WORK/r.csv") lines"
/usr/bin/time -f "xlsx %e s" curl -s -o "$WORK/r.xlsx" -H "Authorization: Bearer $TOKEN" "localhost:$PORT/api/v1/events/$EV/registrations?format=xlsx"
echo "after xlsx: $(hwm), $(stat -c %s "$WORK/r.xlsx") bytes"
