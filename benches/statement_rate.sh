#!/usr/bin/env bash
# The database's own rate for the scans' statement, without the server: pgbench
# sends the statement the server sends (benches/wrk/scan_statement.sql, kept
# equal to src/checkin/fast.rs by a unit test) with 1, 8 or 32 scans in it, at
# PGBENCH_CLIENTS clients, against a bench database with 5,000 events,
# 100,000 registrations and the check-ins of a scans phase, next to the
# one-row insert that benches/wrk.sh divides by. It prints, per script:
# transactions and scans a second, the scans' ratio to the insert's rate, and
# the machine's busy CPU milliseconds per scan (from /proc/stat: run it on an
# otherwise idle machine). Each run checks that every scan found its ticket
# and wrote its audit row.
#
#   benches/statement_rate.sh            # seeds a database with benches/wrk.sh, drops it after
#   benches/statement_rate.sh URL        # a database kept by BENCH_KEEP=1 benches/wrk.sh
#   BENCH_SECONDS=20 benches/statement_rate.sh
#
# docs/performance.md ("Scans answered together") has the figures.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_PGBENCH_CLIENTS:-16}
THREADS=${BENCH_THREADS:-2}
WORK=$(mktemp -d)
URL=${1:-}
MADE=
cleanup() {
  if [ -n "$MADE" ]; then
    psql "${URL%/*}/postgres" -qAtc "DROP DATABASE IF EXISTS ${URL##*/} WITH (FORCE)" >/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
if [ -z "$URL" ]; then
  BENCH_KEEP=1 BENCH_PHASES='healthz scans' benches/wrk.sh | tee "$WORK/wrk.out"
  URL=$(sed -n 's/^kept: //p' "$WORK/wrk.out")
  [ -n "$URL" ] || { echo "benches/wrk.sh kept no database"; exit 1; }
  MADE=1
fi
query() { psql "$URL" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

# Ids ordered by time like the server's (UUIDv7), numbered tickets to pick.
psql "$URL" -qAtX -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION bench.uuid7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
  SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
    substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
    52, 1), 53, 1), 'hex')::uuid $$;
DROP TABLE IF EXISTS bench.rep;
CREATE TABLE bench.rep AS
  SELECT row_number() OVER (ORDER BY random())::int AS n, r.event_id AS ev, r.ticket_code AS code
  FROM checkins c JOIN registrations r ON r.id = c.registration_id
    JOIN bench.events e ON e.id = r.event_id AND e.pool = 'bg';
ALTER TABLE bench.rep ADD PRIMARY KEY (n);
SQL
fresh() { # the tickets of open events not checked in yet, numbered afresh
  psql "$URL" -qAtX -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench.fresh;
CREATE TABLE bench.fresh AS
  SELECT row_number() OVER (ORDER BY random())::int AS n, r.event_id AS ev, r.ticket_code AS code
  FROM registrations r JOIN bench.events e ON e.id = r.event_id AND e.pool = 'bg'
  WHERE r.status = 'confirmed' AND NOT EXISTS (SELECT 1 FROM checkins c WHERE c.registration_id = r.id);
ALTER TABLE bench.fresh ADD PRIMARY KEY (n);
SQL
  STRETCH=$(($(query "SELECT count(*) FROM bench.fresh") / CLIENTS)) # each client's own
}
fresh
TICKETS=$(query "SELECT count(*) FROM bench.rep")
[ "$TICKETS" -gt 0 ] && [ "$STRETCH" -gt 0 ] || { echo "no tickets to scan in $URL"; exit 1; }
python3 benches/wrk/statements.py benches/wrk/scan_statement.sql "$(query 'SELECT id FROM bench.organiser')" "$WORK"
cp benches/wrk/pgbench_insert.sql "$WORK/insert.sql"

busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
TCK=$(getconf CLK_TCK)
INSERT_RATE=
ROWS=()
# label, script, scans per transaction, audit rows per scan, pgbench options:
# how long (-T seconds, or -t transactions per client when each needs tickets
# of its own), the protocol (the scans' statement prepared, as the server's
# pool does; the insert as benches/wrk.sh sends it).
run() {
  local label=$1 script=$2 per=$3 audited=$4 before after out tps n logged
  shift 4
  query CHECKPOINT >/dev/null
  logged=$(query "SELECT count(*) FROM audit_log")
  before=$(busy)
  out=$(pgbench -n -c "$CLIENTS" -j "$THREADS" -D tickets="$TICKETS" \
    -D stretch="$STRETCH" "$@" -f "$WORK/$script" "$URL" 2>&1) || { echo "$out"; exit 1; }
  after=$(busy)
  tps=$(echo "$out" | awk '/^tps/ {printf "%.0f", $3}')
  n=$(echo "$out" | awk '/actually processed/ {split($NF, x, "/"); print x[1]}')
  # Each scan found its ticket and wrote its audit row, or the figure is not a scan's.
  logged=$(($(query "SELECT count(*) FROM audit_log") - logged))
  [ "$logged" -eq $((n * per * audited)) ] || { echo "$label: $logged audit rows for $((n * per)) scans"; exit 1; }
  [ -n "$INSERT_RATE" ] || INSERT_RATE=$tps
  ROWS+=("$(awk -v l="$label" -v tps="$tps" -v per="$per" -v ref="$INSERT_RATE" -v t=$((after - before)) \
    -v hz="$TCK" -v n="$n" 'BEGIN {printf "| %s | %d | %d | %.2f | %.3f |", l, tps, tps * per,
      tps * per / ref, t * 1000 / hz / (n * per)}')")
  echo "${ROWS[-1]}"
}
T=(-T "$SECS")
# First scans: as many transactions as each client has fresh tickets for,
# and about what the others take in SECS seconds.
firsts() { local n=$((STRETCH / $1)) most=$((SECS * 2000 / CLIENTS / $1)); echo $((n < most ? n : most)); }
run "one-row insert (the reference of benches/wrk.sh)" insert.sql 1 0 "${T[@]}"
run "a ticket picked, nothing else" lookup.sql 1 0 "${T[@]}" -M prepared
run "the audit row and person of a ticket shown again, alone" audit.sql 1 1 "${T[@]}" -M prepared
run "scans' statement, 1 ticket shown again" repeat1.sql 1 1 "${T[@]}" -M prepared
run "scans' statement, 8 tickets shown again" repeat8.sql 8 1 "${T[@]}" -M prepared
run "scans' statement, 32 tickets shown again" repeat32.sql 32 1 "${T[@]}" -M prepared
fresh
run "scans' statement, 1 first scan" first1.sql 1 1 -t "$(firsts 1)" -M prepared -D i=0
fresh
run "scans' statement, 8 first scans" first8.sql 8 1 -t "$(firsts 8)" -M prepared -D i=0
run "one-row insert, again" insert.sql 1 0 "${T[@]}"

echo
echo "### pgbench, $CLIENTS clients, $THREADS threads, ${SECS} s each, $(nproc) cores"
echo
echo "| script | transactions/s | scans/s | × insert | machine CPU ms per scan |"
echo "|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
