# Sourced by the bench scripts: sets BIN to the release binary they run.
# BENCH_BIN names a binary built before (to compare two commits in one
# session); otherwise the working tree's is built.
if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN
else
  cargo build --release --quiet --bin nuancheng
  TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import sys,json;print(json.load(sys.stdin)["target_directory"])')
  BIN=$TARGET/release/nuancheng
fi
