#!/usr/bin/env bash
# Benchmarks `trm extract` against a simulated site served by a separate
# process, so the figures are the extractor's own: wall time, peak RSS, and
# requests sent against the fewest the page caps allow (REST pages of 1,000,
# Metadata API pages of 1,000, one listing per group's members, one flows
# listing (the simulated site has none), and one request per permissions
# endpoint read: four per project, one per workbook and datasource in an
# unlocked project, one per view of such a workbook that hides its tabs).
#
#   scripts/bench-extract.sh [small|medium|large]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trm-target}"
SIZE="${1:-large}"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/trm"
WORK="$(mktemp -d)"
PORT="${PORT:-18765}"
"$BIN" sim serve --addr "127.0.0.1:$PORT" --size "$SIZE" --manifest "$WORK/manifest.json" >"$WORK/sim.log" 2>&1 &
SIM=$!
trap 'kill $SIM 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 200); do
  curl -sf "http://127.0.0.1:$PORT/api/3.27/serverinfo" >/dev/null && break
  sleep 0.1
done

TABLEAU_TOKEN_NAME=trm-sim TABLEAU_TOKEN_SECRET=trm-sim-secret /usr/bin/time -v \
  "$BIN" extract --server "http://127.0.0.1:$PORT" --site analytics \
  --db "$WORK/trm.duckdb" --parquet "$WORK/parquet" >"$WORK/out.txt" 2>"$WORK/err.txt" || {
  cat "$WORK/err.txt"; exit 1; }

python3 - "$WORK" <<'PY'
import json, math, re, sys
work = sys.argv[1]
m = json.load(open(f"{work}/manifest.json"))["counts"]
out = open(f"{work}/out.txt").read()
err = open(f"{work}/err.txt").read()
pages = lambda n: max(1, math.ceil(n / 1000))
rest = sum(pages(m[k]) for k in ["projects", "users", "groups", "workbooks", "views", "datasources",
                                  "schedules", "extract_refresh_tasks", "jobs"]) + 1 + m["group_member_pages"]
rest += 1  # the flows listing
meta = sum(pages(m[k]) for k in ["metadata_dashboards", "metadata_sheets", "datasources", "embedded_datasources",
                                  "databases", "database_tables", "custom_sql_tables", "columns", "fields",
                                  "data_quality_warnings"])
perms = m["permissions"]["requests"]
minimum = rest + meta + perms + 3  # serverinfo, sign-in, sign-out
sent = int(re.search(r"requests (\d+)", out).group(1))
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err).group(1)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
print(f"size: {sys.argv[1] if len(sys.argv) > 2 else 'see manifest'}; fields {m['fields']}, views {m['views']}, users {m['users']}")
print(f"wall time: {wall}")
print(f"peak RSS: {rss / 1024:.0f} MiB")
print(f"requests: {sent} sent, {minimum} minimum ({sent / minimum:.2f}x)")
PY
grep -E "^Run |requests" "$WORK/out.txt" || true
