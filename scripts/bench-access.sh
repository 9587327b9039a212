#!/usr/bin/env bash
# Benchmarks effective access on a warehouse extracted from a simulated
# site: `trm access --compute` (every user × item × capability, stored as
# access classes, profiles and per-user exceptions), then one user's answers
# (`--user`) and one workbook's readers (`--asset`). Targets on the large
# site (50,000 users, ~75,000 items): compute ≤ 60 s and ≤ 2 GiB peak RSS;
# each question ≤ 1 s.
#
#   scripts/bench-access.sh [small|medium|large] [WORKDIR]
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
# A user and a workbook to ask about, from the site's own manifest.
"$BIN" sim manifest --size "$SIZE" --out "$WORK/manifest.json" >/dev/null
read -r USER_LUID WORKBOOK_LUID < <(python3 - "$WORK/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
sample = m["access"]["sample"]
user = sample[0]["user_luid"]
wb = next(x["content_luid"] for x in sample if x["content_type"] == "workbook")
print(user, wb)
PY
)

measure() {
  local name="$1"; shift
  /usr/bin/time -v "$@" >"$WORK/$name.txt" 2>"$WORK/$name.err" || { cat "$WORK/$name.err"; exit 1; }
  local wall rss
  wall=$(grep -oP 'Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): \K\S+' "$WORK/$name.err")
  rss=$(grep -oP 'Maximum resident set size \(kbytes\): \K\d+' "$WORK/$name.err")
  echo "$name: wall $wall, peak RSS $((rss / 1024)) MiB"
}

measure compute "$BIN" access --db "$WORK/trm.duckdb" --no-parquet --compute
grep -E "^Effective access" "$WORK/compute.txt"
measure user "$BIN" access --db "$WORK/trm.duckdb" --user "$USER_LUID"
tail -n 1 "$WORK/user.txt"
measure asset "$BIN" access --db "$WORK/trm.duckdb" --asset "$WORKBOOK_LUID"
tail -n 1 "$WORK/asset.txt"
echo "workdir: $WORK"
