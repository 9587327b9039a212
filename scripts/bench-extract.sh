#!/usr/bin/env bash
# Benchmarks `trm extract` against a simulated site served by a separate
# process, so the figures are the extractor's own: wall time, peak RSS, and
# requests sent against the fewest the page caps allow (REST pages of 1,000,
# Metadata API pages of 1,000, one listing per group's members, one flows
# listing (the simulated site has none), and one request per permissions
# endpoint read: four per project, one per workbook and datasource in an
# unlocked project, one per view of such a workbook that hides its tabs).
#
#   scripts/bench-extract.sh [--latency SPEC] [--concurrency N] [--max-concurrency N]
#                            [--fault SPEC]... [small|medium|large]
#
# With --latency (e.g. rest=200ms,metadata=1s, see docs/latency.md) the site
# waits that long on each request, as a real server's round trips, and the
# bench also prints the bound of the run, from the requests actually sent:
# the sum of the latencies the site applied divided by the concurrency, or
# the longest serial chain of requests if that is longer; and wall time over
# that bound. --fault passes a fault to the site (e.g.
# "kind: status, status: 429, rate: 0.05"). TRM_BIN=path runs that binary
# instead of building one in release; SIM_MAX_CONCURRENT=N lets the site take
# N requests in flight per session before answering 429 (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trm-target}"
LATENCY=""
CONCURRENCY=4
MAX_CONCURRENCY=""
FAULTS=()
SIZE=large
while [ $# -gt 0 ]; do
  case "$1" in
    --latency) LATENCY="$2"; shift 2 ;;
    --concurrency) CONCURRENCY="$2"; shift 2 ;;
    --max-concurrency) MAX_CONCURRENCY="$2"; shift 2 ;;
    --fault) FAULTS+=(--fault "$2"); shift 2 ;;
    small|medium|large) SIZE="$1"; shift ;;
    *) echo "unknown argument '$1'; usage: $0 [--latency SPEC] [--concurrency N] [--max-concurrency N] [--fault SPEC]... [small|medium|large]" >&2; exit 2 ;;
  esac
done
if [ -n "${TRM_BIN:-}" ]; then
  BIN="$TRM_BIN"
else
  cargo build --release --quiet
  BIN="$CARGO_TARGET_DIR/release/trm"
fi
WORK="$(mktemp -d)"
PORT="${PORT:-18765}"
SIM_ARGS=(sim serve --addr "127.0.0.1:$PORT" --size "$SIZE" --manifest "$WORK/manifest.json")
[ -n "$LATENCY" ] && SIM_ARGS+=(--latency "$LATENCY")
[ -n "${SIM_MAX_CONCURRENT:-}" ] && SIM_ARGS+=(--max-concurrent "$SIM_MAX_CONCURRENT")
[ "${#FAULTS[@]}" -gt 0 ] && SIM_ARGS+=("${FAULTS[@]}")
"$BIN" "${SIM_ARGS[@]}" >"$WORK/sim.log" 2>&1 &
SIM=$!
trap 'kill $SIM 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/api/3.27/serverinfo" >/dev/null && break
  sleep 0.1
done
# Waiting for the site counted latencies too.
curl -sf -X DELETE "http://127.0.0.1:$PORT/sim/latency" >/dev/null || true

EXTRA=(--concurrency "$CONCURRENCY")
[ -n "$MAX_CONCURRENCY" ] && EXTRA+=(--max-concurrency "$MAX_CONCURRENCY")
TABLEAU_TOKEN_NAME=trm-sim TABLEAU_TOKEN_SECRET=trm-sim-secret /usr/bin/time -v \
  "$BIN" extract --server "http://127.0.0.1:$PORT" --site analytics "${EXTRA[@]}" \
  --db "$WORK/trm.duckdb" --parquet "$WORK/parquet" >"$WORK/out.txt" 2>"$WORK/err.txt" || {
  cat "$WORK/err.txt"; exit 1; }
curl -sf "http://127.0.0.1:$PORT/sim/latency" >"$WORK/latency.json" || echo '{}' >"$WORK/latency.json"

python3 - "$WORK" "$SIZE" "$CONCURRENCY" "$LATENCY" <<'PY'
import json, math, re, sys
work, size, concurrency, latency = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
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
print(f"size: {size}; fields {m['fields']}, views {m['views']}, users {m['users']}")
print(f"wall time: {wall}")
def seconds(text):
    parts = [float(p) for p in text.split(":")]
    return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
lat = json.load(open(f"{work}/latency.json"))
if latency and lat.get("requests"):
    by_budget = lat["total_ms"] / 1000 / concurrency
    chain = lat["longest_chain_ms"] / 1000
    bound = max(by_budget, chain)
    why = "latency / concurrency" if by_budget >= chain else f"longest chain ({lat['longest_chain']})"
    print(f"latency: {latency}; site saw {lat['requests']} requests: REST {lat['rest_requests']} "
          f"({lat['rest_ms'] / 1000:.1f} s), Metadata {lat['metadata_requests']} ({lat['metadata_ms'] / 1000:.1f} s)")
    print(f"bound: {bound:.1f} s ({why}; sum {lat['total_ms'] / 1000:.1f} s / concurrency {concurrency} = {by_budget:.1f} s, "
          f"longest chain {chain:.1f} s)")
    print(f"ratio: {seconds(wall) / bound:.2f}x the bound")
print(f"peak RSS: {rss / 1024:.0f} MiB")
print(f"requests: {sent} sent, {minimum} minimum ({sent / minimum:.2f}x)")
PY
grep -E "^Run |requests|concurrency|longest stream|warning" "$WORK/out.txt" || true
