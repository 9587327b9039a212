#!/usr/bin/env bash
# Benchmarks `trm audit` (lineage graph build + every detector) and
# `trm report` on a warehouse extracted from a simulated site.
#
#   scripts/bench-audit.sh [small|medium|large] [WORKDIR]
#
# WORKDIR keeps the warehouse between runs: an existing WORKDIR/trm.duckdb
# is reused instead of extracted again.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trm-target}"
SIZE="${1:-large}"
WORK="${2:-$(mktemp -d)}"
mkdir -p "$WORK"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/trm"
PORT="${PORT:-18766}"
if [ ! -f "$WORK/trm.duckdb" ]; then
  "$BIN" sim serve --addr "127.0.0.1:$PORT" --size "$SIZE" >"$WORK/sim.log" 2>&1 &
  SIM=$!
  trap 'kill $SIM 2>/dev/null || true' EXIT
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$PORT/api/3.27/serverinfo" >/dev/null && break
    sleep 0.1
  done
  TABLEAU_TOKEN_NAME=trm-sim TABLEAU_TOKEN_SECRET=trm-sim-secret \
    "$BIN" extract --server "http://127.0.0.1:$PORT" --site analytics \
    --db "$WORK/trm.duckdb" --parquet "$WORK/parquet" >"$WORK/extract.txt" 2>"$WORK/extract.err" || {
    cat "$WORK/extract.err"; exit 1; }
  kill $SIM 2>/dev/null || true
fi

measure() {
  local name="$1"; shift
  /usr/bin/time -v "$@" >"$WORK/$name.txt" 2>"$WORK/$name.err" || { cat "$WORK/$name.err"; exit 1; }
  local wall rss
  wall=$(grep -oP 'Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): \K\S+' "$WORK/$name.err")
  rss=$(grep -oP 'Maximum resident set size \(kbytes\): \K\d+' "$WORK/$name.err")
  echo "$name: wall $wall, peak RSS $((rss / 1024)) MiB"
}

measure audit "$BIN" audit --db "$WORK/trm.duckdb" --parquet "$WORK/parquet"
grep -E "^Audited|findings stored" "$WORK/audit.txt"
if "$BIN" report --help >/dev/null 2>&1; then
  measure report "$BIN" report --db "$WORK/trm.duckdb" --out "$WORK/report"
  echo "index.html: $(du -h "$WORK/report/index.html" | cut -f1)"
fi
echo "workdir: $WORK"
