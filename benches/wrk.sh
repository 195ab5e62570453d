#!/usr/bin/env bash
# Load benchmark of the release binary from outside its process, with wrk:
# a fresh PostgreSQL database (created here, dropped at the end), the server
# started as production starts it (`nuancheng serve`), data seeded straight
# into the database (5,000 events and 100,000 registrations before the first
# phase), then one wrk run per phase at CONNECTIONS connections and THREADS
# threads. Each phase prints its rate, p50/p95/p99, statuses, the ratio to
# /healthz and to pgbench (both measured in the same run), the server's CPU
# milliseconds per request and its peak resident memory so far.
# docs/performance.md has the figures and what each phase does.
#
#   benches/wrk.sh
#   BENCH_SECONDS=20 BENCH_PGURL=postgres://postgres@127.0.0.1:5432 benches/wrk.sh
#   BENCH_DB=sqlite benches/wrk.sh     # a SQLite file; reference: a sqlite3 insert loop
#   BENCH_BIN=/tmp/nuancheng-before benches/wrk.sh   # a binary built earlier
#   BENCH_PHASES='healthz scans repeats' benches/wrk.sh  # some phases only
#   BENCH_PERF='scans' benches/wrk.sh  # also a CPU profile of the machine, in /tmp
#   BENCH_KEEP=1 benches/wrk.sh        # leave the PostgreSQL database (its name is printed)
#
# Loopback only; needs psql and pgbench against a PostgreSQL that trusts the
# user (sqlite3 for BENCH_DB=sqlite), installs wrk (Debian) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECONDS:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
PGURL=${BENCH_PGURL:-postgres://postgres@127.0.0.1:5432}
PGBENCH_CLIENTS=${BENCH_PGBENCH_CLIENTS:-16}
KIND=${BENCH_DB:-postgres} # or sqlite: a file in a temporary folder
BG_EVENTS=${BENCH_BG_EVENTS:-5000}
BG_PER_EVENT=${BENCH_BG_PER_EVENT:-20}
SPREAD_STUDENTS=${BENCH_SPREAD_STUDENTS:-40000}
CROWD_EVENTS=${BENCH_CROWD_EVENTS:-20}
PERF_DIR=${BENCH_PERF_DIR:-/tmp/nuancheng-perf}
SIGNUP_SECS=${BENCH_SIGNUP_SECONDS:-25} # about 2,000 signups at today's rate
SECRET="bench-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
ISSUER=nuancheng

if [ -n "${BENCH_PERF:-}" ]; then
  command -v perf >/dev/null || apt-get install -y linux-perf >/dev/null
  mkdir -p "$PERF_DIR"
fi
if ! command -v wrk >/dev/null; then
  apt-get install -y wrk >/dev/null
fi
. benches/release_bin.sh

DB=nuancheng_bench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
WORK=$(mktemp -d)
# The worker's emails go to .eml files in memory (tmpfs) when the machine has
# one: on ext4, the previous run's tens of thousands of deleted files made
# each new file's inode cost a search past them for a minute or more (a
# profile had 16 % of the machine in ext4's inode allocator), so a run paid
# for the one before it. BENCH_MAIL_DIR names another folder.
MAIL_DIR=${BENCH_MAIL_DIR:-}
if [ -z "$MAIL_DIR" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  MAIL_DIR=$(mktemp -d /dev/shm/nuancheng-bench-mail.XXXXXX)
fi
MAIL_DIR=${MAIL_DIR:-$WORK/mail}
PID=
cleanup() {
  status=$?
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  if [ "$status" -ne 0 ] && [ -s "$WORK/server.log" ]; then
    echo "the server's last log lines:"; tail -n 20 "$WORK/server.log"
  fi
  if [ "$KIND" = postgres ] && [ -n "${BENCH_KEEP:-}" ]; then
    echo "kept: $PGURL/$DB"
  elif [ "$KIND" = postgres ]; then
    psql "$PGURL/postgres" -qAtc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null || true
  fi
  rm -rf "$WORK"
  case $MAIL_DIR in /dev/shm/nuancheng-bench-mail.*) rm -rf "$MAIL_DIR" ;; esac
}
trap cleanup EXIT
if [ "$KIND" = postgres ]; then
  # The figures are the cluster's: say so when it holds more than the bench.
  others=$(psql "$PGURL/postgres" -qAtc "SELECT count(*) FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1')")
  [ "$others" -le 5 ] || echo "warning: $others other databases on this cluster (tests leave nuancheng_test_*): figures may be slower"
  psql "$PGURL/postgres" -qAtc "CREATE DATABASE $DB" >/dev/null
  URL=$PGURL/$DB
  B=bench. # the bench's own tables
  # Tab-separated rows of a query.
  query() { psql "$PGURL/$DB" -qAtX -v ON_ERROR_STOP=1 -F $'\t' -c "$1"; }
else
  FILE=$WORK/bench.db
  URL="sqlite://$FILE?mode=rwc"
  B=bench_
  query() { sqlite3 -bail -batch -separator $'\t' -cmd '.timeout 10000' "$FILE" "$1"; }
fi

PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
NUANCHENG_ENV=development NUANCHENG__DATABASE__URL="$URL" NUANCHENG__SERVER__PORT=$PORT \
  NUANCHENG__EMAIL__TRANSPORT=file NUANCHENG__EMAIL__FILE_DIR="$MAIL_DIR" \
  NUANCHENG__AUTH__JWT_SECRET="$SECRET" NUANCHENG__AUTH__JWT_ISSUER=$ISSUER \
  NUANCHENG__AUTH__ACCESS_TOKEN_TTL_SECS=7200 NUANCHENG__RATE_LIMIT__AUTH_PER_MINUTE=1000000 RUST_LOG=warn \
  "$BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "the server did not get ready"; cat "$WORK/server.log"; exit 1; }

echo "seeding $BG_EVENTS events × $BG_PER_EVENT registrations, $SPREAD_STUDENTS + $((CROWD_EVENTS * 2000)) students ..."
if [ "$KIND" = postgres ]; then
  psql "$URL" -qAtX -v ON_ERROR_STOP=1 -v bg_events="$BG_EVENTS" -v bg_per_event="$BG_PER_EVENT" \
    -v spread_students="$SPREAD_STUDENTS" -v crowd_events="$CROWD_EVENTS" -f benches/wrk/seed.sql >/dev/null
else
  sqlite3 -bail -batch -cmd '.timeout 10000' -cmd ".parameter set @bg_events $BG_EVENTS" \
    -cmd ".parameter set @bg_per_event $BG_PER_EVENT" -cmd ".parameter set @spread_students $SPREAD_STUDENTS" \
    -cmd ".parameter set @crowd_events $CROWD_EVENTS" "$FILE" <benches/wrk/seed_sqlite.sql >/dev/null
fi
# One request per line: METHOD, path, user_id:role (made a token by mint.py), body.
export_requests() { query "$1" | python3 benches/wrk/mint.py "$SECRET" $ISSUER 7200 >"$WORK/$2.tsv"; }
printf 'GET\t/healthz\t\t\n' >"$WORK/healthz.tsv"
if [ "$KIND" = postgres ]; then
export_requests "SELECT 'POST', '/api/v1/events/' || r.event_id || '/checkins', o.id || ':organiser',
    json_build_object('ticket_code', r.ticket_code, 'gate', '门' || (abs(hashtext(r.ticket_code)) % 4))
  FROM registrations r JOIN bench.events e ON e.id = r.event_id AND e.pool = 'bg', bench.organiser o
  ORDER BY random()" scans
export_requests "SELECT 'POST', '/api/v1/events/' || e.id || '/registrations', s.id || ':candidate', '{}'
  FROM bench.students s JOIN bench.events e ON e.pool = 'spread' AND e.n = $BG_EVENTS + 1 + s.n % 20
  WHERE s.pool = 'spread' ORDER BY s.n" spread
export_requests "SELECT 'POST', '/api/v1/events/' || e.id || '/registrations', s.id || ':candidate', '{}'
  FROM (SELECT id, row_number() OVER (ORDER BY n) - 1 AS k FROM bench.students WHERE pool = 'crowd') s
  JOIN bench.events e ON e.pool = 'crowd' AND e.n = $BG_EVENTS + 20 + 1 + s.k / 2000
  ORDER BY s.k" crowd
else
# The same requests from SQLite, whose ids are blobs: bench_uuid has their text.
export_requests "SELECT 'POST', '/api/v1/events/' || ue.uid || '/checkins', uo.uid || ':organiser',
    json_object('ticket_code', r.ticket_code, 'gate', '门' || (abs(random()) % 4))
  FROM registrations r JOIN bench_events e ON e.id = r.event_id AND e.pool = 'bg'
  JOIN bench_uuid ue ON ue.id = e.id, bench_organiser o JOIN bench_uuid uo ON uo.id = o.id
  ORDER BY random()" scans
export_requests "SELECT 'POST', '/api/v1/events/' || ue.uid || '/registrations', us.uid || ':candidate', '{}'
  FROM bench_students s JOIN bench_events e ON e.pool = 'spread' AND e.n = $BG_EVENTS + 1 + s.n % 20
  JOIN bench_uuid ue ON ue.id = e.id JOIN bench_uuid us ON us.id = s.id
  WHERE s.pool = 'spread' ORDER BY s.n" spread
export_requests "SELECT 'POST', '/api/v1/events/' || ue.uid || '/registrations', us.uid || ':candidate', '{}'
  FROM (SELECT id, row_number() OVER (ORDER BY n) - 1 AS k FROM bench_students WHERE pool = 'crowd') s
  JOIN bench_events e ON e.pool = 'crowd' AND e.n = $BG_EVENTS + 20 + 1 + s.k / 2000
  JOIN bench_uuid ue ON ue.id = e.id JOIN bench_uuid us ON us.id = s.id
  ORDER BY s.k" crowd
fi
# Signups: each a new address (an argon2id hash each, so a burst of them is
# what the server's memory must bear).
python3 - "$WORK/signups.tsv" <<'PY'
import json, sys
with open(sys.argv[1], "w") as out:
    for i in range(20000):
        body = {"email": f"bench-signup-{i}@pku.edu.cn", "password": "warmcity-2026", "full_name": "压力测试学生",
                "university": "北京大学", "major": "化学工程", "degree": "master", "graduation_year": 2027,
                "privacy_notice_version": "2026-11"}
        out.write("POST\t/api/v1/auth/signup\t\t" + json.dumps(body, ensure_ascii=False) + "\n")
PY
echo "requests: $(wc -l <"$WORK/scans.tsv") tickets, $(wc -l <"$WORK/spread.tsv") spread, $(wc -l <"$WORK/crowd.tsv") crowd"

TCK=$(getconf CLK_TCK)
cpu_ticks() { sed 's/.*) //' "/proc/$PID/stat" | awk '{print $12 + $13}'; }
# PostgreSQL's side: the CPU of all its processes (nothing else uses the
# server during a phase but the mail worker's polls) and the transactions
# committed in the bench database, statements outside a transaction each
# counting one: round trips a request costs, roughly. A backend that exits
# while it is read is skipped.
pg_ticks() {
  [ "$KIND" = postgres ] || { echo 0; return; }
  for p in $(pgrep -x postgres); do { sed 's/.*) //' "/proc/$p/stat" 2>/dev/null || true; }; done | awk '{t += $12 + $13} END {print t + 0}'
}
# A backend reports its counts within 10 s of going idle, so each reading
# waits that long; one reading ends a phase and starts the next.
XACTS=
pg_xacts() {
  [ "$KIND" = postgres ] || { echo 0; return; }
  sleep 11
  query "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
}
# Bytes of WAL written so far, cluster-wide: what a phase asks of the disk.
pg_wal() {
  [ "$KIND" = postgres ] || { echo 0; return; }
  query "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
}
hwm_mb() { awk '$1 == "VmHWM:" {printf "%.0f", $2/1024}' "/proc/$PID/status"; }

ROWS=()
HEALTHZ_RATE=
REF_RATE=
phase() { # name, request file, "distinct" when no request may be sent twice, seconds
  local name=$1 file=$2 distinct=${3:-} secs=${4:-$SECS} before after out line
  # BENCH_PHASES: only these request files (healthz scans repeats spread crowd signups).
  [[ " ${BENCH_PHASES:-$file} " == *" $file "* ]] || return 0
  local pg_before xacts_before sent_before=0 sent_after=0 backlog=0
  # Emails the worker sent during the phase: its work counts in the CPU too.
  [ "$KIND" = postgres ] && sent_before=$(query "SELECT count(*) FROM notifications WHERE status = 'sent'")
  [ -n "$XACTS" ] || XACTS=$(pg_xacts)
  xacts_before=$XACTS
  pg_before=$(pg_ticks)
  local wal_before wal_after
  wal_before=$(pg_wal)
  before=$(cpu_ticks)
  # BENCH_PERF: a CPU profile of the machine (server, PostgreSQL, wrk) during these phases.
  local perf=
  if [[ " ${BENCH_PERF:-} " == *" $file "* ]]; then
    perf record -q -F 499 -a -o "$PERF_DIR/perf-$file.data" >/dev/null 2>&1 &
    perf=$!
  fi
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --timeout 10s --latency \
    -s benches/wrk/requests.lua "http://127.0.0.1:$PORT" -- "$WORK/$file.tsv" "$THREADS")
  after=$(cpu_ticks)
  if [ -n "$perf" ]; then
    kill -INT "$perf"; wait "$perf" || true
    perf report -q -i "$PERF_DIR/perf-$file.data" --no-children --sort comm,dso,sym --stdio 2>/dev/null \
      | grep -v '^$' | grep -v '^ *|' | grep -v '^ *-' | head -n 60 >"$PERF_DIR/perf-$file.txt" || true
    echo "profile of $file: $PERF_DIR/perf-$file.txt"
  fi
  wal_after=$(pg_wal)
  local pg_after xacts_after
  pg_after=$(pg_ticks)
  xacts_after=$(pg_xacts)
  XACTS=$xacts_after
  if [ "$KIND" = postgres ]; then
    sent_after=$(query "SELECT count(*) FROM notifications WHERE status = 'sent'")
    backlog=$(query "SELECT count(*) FROM notifications WHERE status = 'pending'")
    XACTS=
  fi
  echo "$out" >>"$WORK/wrk.log"
  line=$(echo "$out" | grep '^RESULT')
  eval "$(echo "${line#RESULT }" | tr ' ' '\n' | sed 's/^/local r_/')"
  local rate cpu
  rate=$(awk -v n="$r_requests" -v us="$r_duration_us" 'BEGIN {printf "%.0f", n / (us / 1e6)}')
  cpu=$(awk -v t=$((after - before)) -v hz="$TCK" -v n="$r_requests" 'BEGIN {printf "%.2f", t * 1000 / hz / n}')
  local pgcpu xacts wal
  wal=$(awk -v b=$((wal_after - wal_before)) -v n="$r_requests" 'BEGIN {printf "%.1f", b / 1024 / n}')
  pgcpu=$(awk -v t=$((pg_after - pg_before)) -v hz="$TCK" -v n="$r_requests" 'BEGIN {printf "%.2f", t * 1000 / hz / n}')
  xacts=$(awk -v t=$((xacts_after - xacts_before)) -v n="$r_requests" 'BEGIN {printf "%.1f", t / n}')
  [ "$KIND" = postgres ] || { pgcpu=–; xacts=–; wal=–; }
  [ -z "$HEALTHZ_RATE" ] && HEALTHZ_RATE=$rate
  local xh xp
  xh=$(awk -v a="$rate" -v b="$HEALTHZ_RATE" 'BEGIN {printf "%.3f", a / b}')
  xp=$(awk -v a="$rate" -v b="${REF_RATE:-0}" 'BEGIN {if (b > 0) printf "%.2f", a / b; else printf "–"}')
  local p50 p95 p99
  p50=$(awk -v us="$r_p50_us" 'BEGIN {printf "%.1f", us / 1000}')
  p95=$(awk -v us="$r_p95_us" 'BEGIN {printf "%.1f", us / 1000}')
  p99=$(awk -v us="$r_p99_us" 'BEGIN {printf "%.1f", us / 1000}')
  local note=""
  [ -n "$distinct" ] && [ "$r_wraps" != 0 ] && note=" (requests reused: $r_wraps wraps)"
  [ "$r_errors" != 0 ] && note="$note (socket errors: $r_errors)"
  ROWS+=("| $name | $rate | $p50 | $p95 | $p99 | ${r_statuses//,/, }$note | $xh | $xp | $cpu | $pgcpu | $xacts | $wal | $(hwm_mb) |")
  echo "$name: $rate/s, p50 $p50 ms, p95 $p95 ms, p99 $p99 ms, statuses $r_statuses$note, ×healthz $xh, ×reference $xp, CPU $cpu ms/request (PostgreSQL $pgcpu), $xacts PostgreSQL transactions/request, $wal KB of WAL/request, peak RSS $(hwm_mb) MB, emails sent $((sent_after - sent_before)) (pending after: $backlog)"
}

# Resident memory now: the whole, the heap and stacks (anonymous), the
# binary's and libraries' pages (file).
rss_now() {
  awk '$1 == "VmRSS:" {r = $2} $1 == "RssAnon:" {a = $2} $1 == "RssFile:" {f = $2}
    END {printf "RSS %.0f MB (anonymous %.0f, file %.0f)", r/1024, a/1024, f/1024}' "/proc/$PID/status"
}
echo "idle: $(rss_now)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "http://127.0.0.1:$PORT/healthz" >/dev/null # warm-up
phase "GET /healthz" healthz
if [ "$KIND" = postgres ]; then
  REF_RATE=$(pgbench -n -c "$PGBENCH_CLIENTS" -j "$THREADS" -T "$SECS" -f benches/wrk/pgbench_insert.sql "$URL" 2>&1 |
    awk '/^tps/ {printf "%.0f", $3; exit}')
  REF="pgbench one-row INSERT transaction, $PGBENCH_CLIENTS clients: $REF_RATE tps"
  # Its rows and dirty pages go before the next phase, or autovacuum and the
  # checkpointer would work through them on that phase's time.
  query "TRUNCATE bench.pgbench_scratch" >/dev/null
  query "CHECKPOINT" >/dev/null
  REF_COLUMN="× pgbench"
else
  # The same file with the server's settings (WAL, synchronous = NORMAL), one
  # autocommitted one-row insert after the other from the sqlite3 shell.
  n=200000
  start=$(date +%s%N)
  { echo "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;"
    awk -v n=$n 'BEGIN {for (i = 0; i < n; i++) print "INSERT INTO bench_scratch (payload) VALUES (\047one row\047);"}'; } | sqlite3 -bail "$FILE" >/dev/null
  REF_RATE=$(awk -v n=$n -v ns=$(($(date +%s%N) - start)) 'BEGIN {printf "%.0f", n / (ns / 1e9)}')
  REF="sqlite3 one-row INSERT loop, one connection, same file and settings: $REF_RATE inserts/s"
  REF_COLUMN="× sqlite3 insert loop"
fi
echo "$REF"
XACTS= # the reference's transactions are not the next phase's
phase "check-in, first scan" scans distinct
# The tickets scanned above, again (fewer than the phase sends: each is
# scanned several times over, all repeats: the wraps are expected).
if [ "$KIND" = postgres ]; then
export_requests "SELECT 'POST', '/api/v1/events/' || r.event_id || '/checkins', o.id || ':organiser',
    json_build_object('ticket_code', r.ticket_code, 'gate', '门' || (abs(hashtext(r.ticket_code)) % 4))
  FROM checkins c JOIN registrations r ON r.id = c.registration_id
    JOIN bench.events e ON e.id = r.event_id AND e.pool = 'bg', bench.organiser o
  ORDER BY random()" repeats
else
export_requests "SELECT 'POST', '/api/v1/events/' || ue.uid || '/checkins', uo.uid || ':organiser',
    json_object('ticket_code', r.ticket_code, 'gate', '门' || (abs(random()) % 4))
  FROM checkins c JOIN registrations r ON r.id = c.registration_id JOIN bench_uuid ue ON ue.id = r.event_id,
    bench_organiser o JOIN bench_uuid uo ON uo.id = o.id
  ORDER BY random()" repeats
fi
phase "check-in, repeat scan" repeats
phase "register, 20 events" spread distinct
phase "register, crowded events" crowd distinct
phase "signup burst" signups distinct "$SIGNUP_SECS"
echo "after the phases: $(rss_now)"
# How many requests each batched statement carried (PostgreSQL), from /metrics.
curl -sf "http://127.0.0.1:$PORT/metrics" | awk '
  /^(checkin_scan|registration|waitlist)_statement_rows_(sum|count) / { split($1, n, "_rows_"); v[n[1] " " n[2]] = $2 }
  END { for (k in v) if (k ~ / count$/ && v[k] > 0) { b = substr(k, 1, length(k) - 6);
        printf "%s: %d statements, %.1f rows a statement\n", b, v[k], v[b " sum"] / v[k] } }'

echo
echo "### $KIND: $CONNECTIONS connections, $THREADS wrk threads, ${SECS} s per phase (signups ${SIGNUP_SECS} s)"
echo
echo "$REF; GET /healthz: $HEALTHZ_RATE/s"
echo
echo "| phase | req/s | p50 ms | p95 ms | p99 ms | statuses | × healthz | $REF_COLUMN | server CPU ms/req | PostgreSQL CPU ms/req | PostgreSQL xacts/req | WAL KB/req | peak RSS MB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
# The crowded events: each one reached is full to the seat, its counters match its rows.
query "SELECT count(*) FILTER (WHERE confirmed + waitlisted > 0),
    count(*) FILTER (WHERE confirmed = 1000 AND waitlisted = 500),
    coalesce(max(confirmed), 0), coalesce(max(waitlisted), 0),
    count(*) FILTER (WHERE confirmed <> confirmed_count OR waitlisted <> waitlist_count)
  FROM (SELECT e.id, e.confirmed_count, e.waitlist_count,
      count(r.id) FILTER (WHERE r.status = 'confirmed') AS confirmed,
      count(r.id) FILTER (WHERE r.status = 'waitlisted') AS waitlisted
    FROM ${B}events b JOIN events e ON e.id = b.id LEFT JOIN registrations r ON r.event_id = e.id
    WHERE b.pool = 'crowd' GROUP BY e.id) c" |
  tr '\t' ' ' | { read -r reached full maxc maxw mismatched
    echo "crowded events reached: $reached, full (1000 + 500): $full, most confirmed on one: $maxc, most waitlisted: $maxw, counters not matching rows: $mismatched"; }
echo "registrations in the database at the end: $(query 'SELECT count(*) FROM registrations'), check-ins: $(query 'SELECT count(*) FROM checkins')"
