#!/usr/bin/env bash
# How fast the mail worker drains the outbox to a local SMTP server: a fresh
# PostgreSQL database (created here, dropped at the end) is given EMAILS
# pending emails with SQL, `nuancheng worker` (the release binary, as
# production runs it) sends them to a minimal SMTP server on loopback
# (benches/mail/sink.py), and the script prints emails per second from the
# worker's start until the last one is marked sent, the worker's CPU
# milliseconds per email and its peak resident memory. docs/performance.md
# has the figures.
#
#   benches/mail_drain.sh
#   BENCH_EMAILS=20000 BENCH_PGURL=postgres://postgres@127.0.0.1:5432 benches/mail_drain.sh
#   BENCH_BIN=/tmp/nuancheng-before benches/mail_drain.sh   # a binary built earlier
set -euo pipefail
cd "$(dirname "$0")/.."

EMAILS=${BENCH_EMAILS:-5000}
PGURL=${BENCH_PGURL:-postgres://postgres@127.0.0.1:5432}

. benches/release_bin.sh

DB="nuancheng_bench_mail_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
WORK=$(mktemp -d)
SINK_PID=""
WORKER_PID=""
cleanup() {
  [[ -n "$WORKER_PID" ]] && kill "$WORKER_PID" 2>/dev/null || true
  [[ -n "$SINK_PID" ]] && kill "$SINK_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  psql "$PGURL/postgres" -qAtc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

psql "$PGURL/postgres" -qAtc "CREATE DATABASE $DB" >/dev/null
export DATABASE_URL="$PGURL/$DB"
export NUANCHENG_ENV=development
export RUST_LOG=warn
"$BIN" migrate up >/dev/null

python3 benches/mail/sink.py >"$WORK/sink.port" 2>"$WORK/sink.count" &
SINK_PID=$!
for _ in $(seq 1 50); do [[ -s "$WORK/sink.port" ]] && break; sleep 0.1; done
PORT=$(head -n1 "$WORK/sink.port")

# Emails as the outbox holds them: a subject, a text and an HTML body of a
# registration confirmation's size, due now.
psql "$DATABASE_URL" -qAt >/dev/null <<SQL
INSERT INTO notifications (id, kind, to_email, subject, text_body, html_body, attachments,
  status, attempts, next_attempt_at, locked_until, lease_token, last_error, sent_at, created_at)
SELECT gen_random_uuid(), 'event_changed', 'student' || n || '@pku.edu.cn',
  '活动信息变更 / Event updated',
  repeat('您好，您报名的宣讲会时间有变。Your event has a new time. ', 20),
  '<p>' || repeat('您好，您报名的宣讲会时间有变。Your event has a new time. ', 20) || '</p>',
  NULL, 'pending', 0, now(), NULL, NULL, NULL, NULL, now()
FROM generate_series(1, $EMAILS) AS n;
SQL

export NUANCHENG__EMAIL__TRANSPORT=smtp
export NUANCHENG__EMAIL__SMTP_URL="smtp://127.0.0.1:$PORT"
start=$(date +%s.%N)
"$BIN" worker >"$WORK/worker.log" 2>&1 &
WORKER_PID=$!
sent=0
while [[ "$sent" -lt "$EMAILS" ]]; do
  sleep 0.2
  kill -0 "$WORKER_PID" 2>/dev/null || { cat "$WORK/worker.log" >&2; echo "the worker stopped" >&2; exit 1; }
  sent=$(psql "$DATABASE_URL" -qAtc "SELECT count(*) FROM notifications WHERE status = 'sent'")
done
end=$(date +%s.%N)
ticks=$(getconf CLK_TCK)
cpu=$(awk '{print $14 + $15}' "/proc/$WORKER_PID/stat")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$WORKER_PID/status")
kill "$WORKER_PID"; wait "$WORKER_PID" 2>/dev/null || true; WORKER_PID=""
kill "$SINK_PID"; wait "$SINK_PID" 2>/dev/null || true; SINK_PID=""
received=$(cat "$WORK/sink.count")
python3 - "$EMAILS" "$start" "$end" "$cpu" "$ticks" "$hwm" "$received" <<'PY'
import sys
emails, start, end, cpu, ticks, hwm, received = sys.argv[1:]
emails, secs = int(emails), float(end) - float(start)
print(f"emails: {emails}, received by the SMTP server: {received}")
print(f"drained in {secs:.1f} s: {emails / secs:.0f} emails/s")
print(f"worker CPU: {int(cpu) * 1000 / int(ticks) / emails:.2f} ms per email, peak RSS {int(hwm) / 1024:.0f} MB")
PY
