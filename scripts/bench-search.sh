#!/usr/bin/env bash
# Benchmarks `trm search` on a warehouse extracted from a simulated site:
# the index build (timed with /usr/bin/time -v: wall time and peak RSS),
# then 20 searches against the built index (wall time of each process,
# median and max).
#
#   scripts/bench-search.sh [small|medium|large] [WORKDIR]
#
# WORKDIR keeps the warehouse between runs: an existing WORKDIR/trm.duckdb
# is reused instead of extracted again. Targets: build <= 30 s and
# <= 1 GiB RSS, search median <= 200 ms (large site, release build).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trm-target}"
SIZE="${1:-large}"
WORK="${2:-$(mktemp -d)}"
mkdir -p "$WORK"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/trm"
PORT="${PORT:-18767}"
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
    --db "$WORK/trm.duckdb" --no-parquet >"$WORK/extract.txt" 2>"$WORK/extract.err" || {
    cat "$WORK/extract.err"; exit 1; }
  kill $SIM 2>/dev/null || true
fi

# The build: --reindex rebuilds even when an index of this run exists.
/usr/bin/time -v "$BIN" search --db "$WORK/trm.duckdb" --reindex --limit 1 "Pipeline" \
  >"$WORK/index.txt" 2>"$WORK/index.err" || { cat "$WORK/index.err"; exit 1; }
wall=$(grep -oP 'Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): \K\S+' "$WORK/index.err")
rss=$(grep -oP 'Maximum resident set size \(kbytes\): \K\d+' "$WORK/index.err")
grep -E "^Indexed" "$WORK/index.err" || true
echo "index build: wall $wall, peak RSS $((rss / 1024)) MiB, $(du -sh "$WORK/trm.duckdb.search" | cut -f1) on disk"

QUERIES=(
  "Pipeline" "EMEA Pipeline v2" "quota atainment" "Exec Overview" "Churn Analysis"
  "SUM Revenue" "Old Cost Basis" "Growth Rate" "customer_name" "sales.fact_orders region_name"
  "Custom SQL Query" "deprecated" "certified finance" "Région Québec" "日本"
  "<script>alert(1)</script>" "=HYPERLINK(\"x\")" "example.com" "Legacy Margin" "Inventory by Region"
)
times=()
for q in "${QUERIES[@]}"; do
  start=$(date +%s%N)
  "$BIN" search --db "$WORK/trm.duckdb" --limit 10 "$q" >>"$WORK/searches.txt" 2>>"$WORK/searches.err"
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000000 )))
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
n=${#sorted[@]}
median=$(( (sorted[(n - 1) / 2] + sorted[n / 2]) / 2 ))
echo "searches: ${n}, median ${median} ms, max ${sorted[n - 1]} ms (each a whole trm process: start, check the run, search, print)"
echo "per query (ms): ${times[*]}"
echo "workdir: $WORK"
