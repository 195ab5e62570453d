#!/usr/bin/env bash
# Fuzzes every operation of the server's own OpenAPI document with
# schemathesis, anonymously and as an admin, against the real binary on a
# fresh database, and fails on a 5xx or on a status, content type or body the
# document does not describe.
#
#   tests/fuzz/run.sh                                   # SQLite (a temp file)
#   tests/fuzz/run.sh postgres://postgres@127.0.0.1:5432  # a fresh PostgreSQL database there
#
# FUZZ_MAX_EXAMPLES (default 25) bounds the cases per operation and phase,
# FUZZ_MAX_TIME (default 90) the seconds of each of the two runs,
# FUZZ_SEED (default 20261127) makes a run repeatable, and FUZZ_AS (default
# "anonymous admin") says who the runs are made as, in order: the demo
# campaign's organiser, recruiter and student may be added.
# See tests/fuzz/README.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pg_server="${1:-}"
max_examples="${FUZZ_MAX_EXAMPLES:-25}"
max_time="${FUZZ_MAX_TIME:-90}"
seed="${FUZZ_SEED:-20261127}"
roles="${FUZZ_AS:-anonymous admin}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

echo "== fuzz: schemathesis"
venv="$here/.venv"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$(sed -n 's/^schemathesis==//p' "$here/requirements.txt")"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi
"$venv/bin/schemathesis" --version

echo "== fuzz: build"
(cd "$root" && cargo build --quiet --bin nuancheng)
bin="$CARGO_TARGET_DIR/debug/nuancheng"

work="$(mktemp -d "${TMPDIR:-/tmp}/nuancheng-fuzz.XXXXXX")"
server_pid=""
database=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "$database" ]]; then
    psql "$pg_server/postgres" -qc "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ -n "$pg_server" ]]; then
  database="nuancheng_fuzz_$(date +%s)_$$"
  psql "$pg_server/postgres" -qc "CREATE DATABASE \"$database\"" >/dev/null
  db_url="$pg_server/$database"
  echo "== fuzz: PostgreSQL database $database"
else
  db_url="sqlite://$work/nuancheng.db?mode=rwc"
  echo "== fuzz: SQLite $work/nuancheng.db"
fi

# The server's settings: its own database and mail folder, loopback on a port
# the system picks, and rate limits far above what the fuzzer sends, so that
# the operations are exercised rather than refused (429 stays documented).
export NUANCHENG_ENV=development
export NUANCHENG_CONFIG_DIR="$root/config"
export DATABASE_URL="$db_url"
export NUANCHENG__SERVER__HOST=127.0.0.1
export NUANCHENG__SERVER__PORT=0
export NUANCHENG__SERVER__WORKERS=2
export NUANCHENG__EMAIL__TRANSPORT=file
export NUANCHENG__EMAIL__FILE_DIR="$work/mail"
export NUANCHENG__RATE_LIMIT__AUTH_PER_MINUTE=1000000
export RUST_LOG="${RUST_LOG:-warn}"
export NUANCHENG_LOG_FORMAT=json

admin_email="fuzz-admin@example.cn"
admin_password="fuzz-admin-password-2026"
"$bin" create-admin --email "$admin_email" --password "$admin_password" >/dev/null
"$bin" seed-demo >"$work/demo.txt"

"$bin" serve >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
port=""
for _ in $(seq 1 100); do
  port="$(sed -n 's|^nuancheng listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$work/server.out")"
  [[ -n "$port" ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$work/server.log" >&2
    echo "the server did not start" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$port" ]]; then
  echo "the server did not say its port" >&2
  exit 1
fi
base="http://127.0.0.1:$port"
echo "== fuzz: server on $base"

# An access token of the account, through POST /api/v1/auth/login.
login() {
  python3 - "$base" "$1" "$2" <<'EOF'
import json, sys, urllib.request
base, email, password = sys.argv[1:4]
request = urllib.request.Request(
    f"{base}/api/v1/auth/login",
    data=json.dumps({"email": email, "password": password}).encode(),
    headers={"Content-Type": "application/json"},
)
with urllib.request.urlopen(request, timeout=30) as response:
    print(json.load(response)["access_token"])
EOF
}

# The access token of a role: the admin made above, or an account of the
# demo campaign, as seed-demo printed it ("  student    student001…").
token_of() {
  if [[ "$1" == admin ]]; then
    login "$admin_email" "$admin_password"
    return
  fi
  local email password
  email="$(sed -n "s/^  $1 *//p" "$work/demo.txt")"
  password="$(sed -n 's/^sign in with password \(.*\):$/\1/p' "$work/demo.txt")"
  if [[ -z "$email" || -z "$password" ]]; then
    echo "FUZZ_AS: no account for $1 (anonymous, admin, organiser, recruiter, student)" >&2
    return 1
  fi
  login "$email" "$password"
}

# The static settings, and the seeded database's ids for the operations
# that take one (see ids.py).
settings="$work/schemathesis.toml"
cp "$here/schemathesis.toml" "$settings"
python3 "$here/ids.py" "$base" "$(token_of admin)" >>"$settings"

checks="not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
fuzz() {
  local name="$1"
  shift
  echo "== fuzz: $name"
  local started=$SECONDS
  local status=0
  # From the temporary folder, so nothing the fuzzer writes lands in the work tree.
  (cd "$work" && "$venv/bin/schemathesis" --config-file "$settings" run "$base/api/v1/openapi.json" \
    --url "$base" \
    --checks "$checks" \
    --max-examples "$max_examples" \
    --max-time "$max_time" \
    --seed "$seed" \
    --generation-database none \
    --request-timeout 20 \
    --workers 1 \
    --no-color \
    --output-truncate false \
    "$@") || status=$?
  echo "== fuzz: $name took $((SECONDS - started)) s"
  return "$status"
}

failed=0
for role in $roles; do
  if [[ "$role" == anonymous ]]; then
    fuzz anonymous || failed=1
  else
    # Signed in just before its run: an access token lives 15 minutes.
    token="$(token_of "$role")"
    fuzz "$role" --header "Authorization: Bearer $token" || failed=1
  fi
done

echo "== fuzz: statuses answered, by operation (from /metrics)"
python3 "$here/coverage.py" "$base" || true

# A 500 is logged with its cause; show it beside the failure it explains.
if grep -q '"level":"ERROR"' "$work/server.log"; then
  echo "== fuzz: the server logged errors:" >&2
  grep '"level":"ERROR"' "$work/server.log" | head -n 40 >&2
fi
if [[ $failed -ne 0 ]]; then
  echo "== fuzz: FAILED" >&2
  exit 1
fi
echo "== fuzz: passed"
