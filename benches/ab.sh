#!/usr/bin/env bash
# Two release binaries compared by `benches/wrk.sh`, run in turn (A, B, A,
# B, ...) so that both see the same moods of a noisy machine. Per phase it
# prints each build's median rate, ratio to pgbench and CPU per request,
# and the median of B's rate over A's within each round, which cancels
# what the machine did to both in that round. Give the same binary twice
# to see how far apart two runs of one build fall on this machine.
#
#   benches/ab.sh /tmp/nuancheng-before /tmp/nuancheng-after
#   BENCH_ROUNDS=4 BENCH_PHASES='healthz spread crowd' benches/ab.sh A B
#
# Every variable of wrk.sh passes through (BENCH_PHASES defaults to
# 'healthz scans repeats spread crowd' here). The full output of each run
# is kept in a temporary folder, named at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
  echo "usage: benches/ab.sh BINARY_A BINARY_B (two release builds of nuancheng)" >&2
  exit 2
fi
ROUNDS=${BENCH_ROUNDS:-3}
export BENCH_PHASES=${BENCH_PHASES:-healthz scans repeats spread crowd}
OUT=$(mktemp -d /tmp/nuancheng-ab.XXXXXX)

for round in $(seq 1 "$ROUNDS"); do
  for side in A B; do
    if [ "$side" = A ]; then bin=$1; else bin=$2; fi
    echo "round $round of $ROUNDS, $side ($bin)" >&2
    BENCH_BIN=$bin benches/wrk.sh >"$OUT/$side-$round.log" 2>&1 || {
      echo "wrk.sh failed; its output: $OUT/$side-$round.log" >&2
      tail -n 20 "$OUT/$side-$round.log" >&2
      exit 1
    }
  done
done

# The rows of wrk.sh's table, as: side round phase rate ratio server_cpu postgres_cpu p99
for log in "$OUT"/*.log; do
  name=$(basename "$log" .log)
  awk -F'|' -v side="${name%-*}" -v round="${name#*-}" '
    /^\| phase \|/ { table = 1; next }
    table && /^\|---/ { next }
    table && /^\|/ {
      phase = $2; gsub(/^ +| +$/, "", phase); gsub(/ /, "_", phase)
      print side, round, phase, $3 + 0, $9 + 0, $10 + 0, $11 + 0, $6 + 0
    }' "$log"
done >"$OUT/rows.txt"

echo
echo "### A: $1; B: $2; $ROUNDS rounds, phases: $BENCH_PHASES"
echo
echo "| phase | A req/s | B req/s | B / A, same round | A × pgbench | B × pgbench | A / B server CPU ms | A / B PostgreSQL CPU ms | A / B p99 ms |"
echo "|---|---|---|---|---|---|---|---|---|"
python3 - "$OUT/rows.txt" <<'EOF'
import collections
import statistics
import sys

rows = collections.defaultdict(dict)  # (phase, side) -> round -> values
order = []
for line in open(sys.argv[1]):
    side, rnd, phase, *values = line.split()
    if phase not in order:
        order.append(phase)
    rows[(phase, side)][rnd] = [float(v) for v in values]

def median(phase, side, i, digits):
    # wrk.sh shows "–" where a column does not apply (/healthz to pgbench).
    values = [v[i] for v in rows[(phase, side)].values()]
    if not values or not any(values):
        return "–"
    return f"{statistics.median(values):,.{digits}f}"

for phase in order:
    a, b = rows[(phase, "A")], rows[(phase, "B")]
    paired = [b[r][0] / a[r][0] for r in a if r in b and a[r][0] > 0]
    spread = f"{statistics.median(paired):.2f} ({min(paired):.2f}–{max(paired):.2f})" if paired else "–"
    print(
        f"| {phase.replace('_', ' ')} | {median(phase, 'A', 0, 0)} | {median(phase, 'B', 0, 0)} | {spread} "
        f"| {median(phase, 'A', 1, 2)} | {median(phase, 'B', 1, 2)} "
        f"| {median(phase, 'A', 2, 2)} / {median(phase, 'B', 2, 2)} "
        f"| {median(phase, 'A', 3, 2)} / {median(phase, 'B', 3, 2)} "
        f"| {median(phase, 'A', 4, 1)} / {median(phase, 'B', 4, 1)} |"
    )
EOF
echo
echo "medians of $ROUNDS runs each; B / A is the median of the rounds' ratios (lowest–highest)"
echo "every run's output: $OUT"
