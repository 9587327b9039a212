#!/usr/bin/env bash
# Benchmarks `trm extract` over several sites of one server: three medium
# sites read side by side under a connected app (one JWT session per
# site), against one medium site alone, both from a simulated server in a
# separate process. Prints both wall times and their ratio (target: three
# sites in at most 1.5x the time of one).
#
#   scripts/bench-sites.sh [--latency SPEC] [small|medium|large]
#
# On loopback the run is bound by CPU (this machine's two cores serve the
# three sites and read them), not by the server's round trips as against a
# real server; --latency (e.g. rest=200ms,metadata=1s, see docs/latency.md)
# has the simulated server answer as slowly as a real one does.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trm-target}"
LATENCY=""
SIZE=medium
while [ $# -gt 0 ]; do
  case "$1" in
    --latency) LATENCY="$2"; shift 2 ;;
    small|medium|large) SIZE="$1"; shift ;;
    *) echo "unknown argument '$1'; usage: $0 [--latency SPEC] [small|medium|large]" >&2; exit 2 ;;
  esac
done
# BIN=path/to/trm skips the release build (e.g. to try the script on a debug build).
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN="$CARGO_TARGET_DIR/release/trm"
fi
WORK="$(mktemp -d)"
PORT="${PORT:-18767}"
SIM_ARGS=(sim serve --addr "127.0.0.1:$PORT" --size "$SIZE" --sites analytics,finance,ops)
[ -n "$LATENCY" ] && SIM_ARGS+=(--latency "$LATENCY")
"$BIN" "${SIM_ARGS[@]}" >"$WORK/sim.log" 2>&1 &
SIM=$!
trap 'kill $SIM 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/api/3.27/serverinfo" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/sim/sites" >"$WORK/sites.json"

# The simulated server's connected app (printed by `trm sim serve`, which
# may answer before its banner is written).
for _ in $(seq 1 100); do grep -q "Connected app:" "$WORK/sim.log" && break; sleep 0.1; done
APP_CLIENT=$(sed -n 's/.*client id \([^,]*\),.*/\1/p' "$WORK/sim.log")
APP_SECRET_ID=$(sed -n 's/.*secret id \([^,]*\),.*/\1/p' "$WORK/sim.log")
export TABLEAU_JWT_SECRET=$(sed -n 's/.*, secret \([^ ]*\) (as TABLEAU_JWT_SECRET).*/\1/p' "$WORK/sim.log")
profile() { # name, sites (YAML list or empty)
  cat <<YAML
profiles:
  $1:
    server: http://127.0.0.1:$PORT
    site: analytics
    auth: jwt
    client_id: $APP_CLIENT
    secret_id: $APP_SECRET_ID
    username: site.admin@example.com
$( [ -n "$2" ] && echo "    sites: $2" )
YAML
}
profile one "" >"$WORK/one.yaml"
profile three "[analytics, finance, ops]" >"$WORK/three.yaml"

run() { # name
  /usr/bin/time -v "$BIN" extract --config "$WORK/$1.yaml" --db "$WORK/$1.duckdb" --parquet "$WORK/$1-parquet" \
    >"$WORK/$1.out" 2>"$WORK/$1.err" || { cat "$WORK/$1.err"; exit 1; }
}
run one
run three

python3 - "$WORK" <<'PY'
import json, re, sys
work = sys.argv[1]
def wall(name):
    t = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", open(f"{work}/{name}.err").read()).group(1)
    parts = [float(p) for p in t.split(":")]
    return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
def rss(name):
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{work}/{name}.err").read()).group(1)) / 1024
def requests(name):
    return int(re.search(r"requests (\d+)", open(f"{work}/{name}.out").read()).group(1))
sites = json.load(open(f"{work}/sites.json"))["sites"]
print("sites: " + ", ".join(f"{s['content_url']} ({s['workbooks']} workbooks, {s['users']} users)" for s in sites))
one, three = wall("one"), wall("three")
print(f"one site:    {one:7.1f} s, {requests('one')} requests, peak RSS {rss('one'):.0f} MiB")
print(f"three sites: {three:7.1f} s, {requests('three')} requests, peak RSS {rss('three'):.0f} MiB")
print(f"ratio: {three / one:.2f}x (target <= 1.5x)")
PY
grep -E "^  site " "$WORK/three.out" || true
