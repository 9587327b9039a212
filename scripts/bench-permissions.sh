#!/usr/bin/env bash
# Benchmarks `trm permissions plan` against a simulated site served by a
# separate process (large: 600 projects, 10,000 workbooks, 2,000 data
# sources). It exports every rule of the site, then plans two files:
#   1. the export itself (the site already matches: 0 calls);
#   2. the export with every `template: Explore` turned into `Publish`
#      (content rules only: projects have no Explore), many changes.
# `plan` prints reading time and planning time separately on stderr
# ("Read the site in X s; planned N rule(s) … in Y s"); the figure that
# counts is Y, the planning phase, for N ≥ 10,000 rules.
#
#   scripts/bench-permissions.sh [small|medium|large]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trm-target}"
SIZE="${1:-large}"
PROFILE="${PROFILE:-release}"
if [ "$PROFILE" = release ]; then cargo build --release --quiet --bin trm; else cargo build --quiet --bin trm; fi
BIN="$CARGO_TARGET_DIR/$PROFILE/trm"
WORK="$(mktemp -d)"
PORT="${PORT:-18766}"
"$BIN" sim serve --addr "127.0.0.1:$PORT" --size "$SIZE" --max-concurrent 64 >"$WORK/sim.log" 2>&1 &
SIM=$!
trap 'kill $SIM 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/api/3.27/serverinfo" >/dev/null && break
  sleep 0.1
done
export TABLEAU_SERVER="http://127.0.0.1:$PORT" TABLEAU_SITE=analytics
export TABLEAU_TOKEN_NAME=trm-sim TABLEAU_TOKEN_SECRET=trm-sim-secret

start=$(date +%s.%N)
"$BIN" permissions export --concurrency 16 >"$WORK/permissions.yaml" 2>"$WORK/export.err" || { cat "$WORK/export.err"; exit 1; }
end=$(date +%s.%N)
echo "export ($SIZE): $(tail -1 "$WORK/export.err") in $(echo "$end - $start" | bc) s; $(wc -l <"$WORK/permissions.yaml") lines"

echo "plan of the export (expect 0 calls):"
"$BIN" permissions plan --concurrency 16 --file "$WORK/permissions.yaml" >"$WORK/plan1.txt" 2>"$WORK/plan1.err" || { cat "$WORK/plan1.err"; exit 1; }
grep -E "^Read the site" "$WORK/plan1.err"
head -1 "$WORK/plan1.txt"

sed -e 's/template: Explore$/template: Publish/' \
  "$WORK/permissions.yaml" >"$WORK/changed.yaml"
echo "plan of a changed file:"
"$BIN" permissions plan --concurrency 16 --file "$WORK/changed.yaml" >"$WORK/plan2.txt" 2>"$WORK/plan2.err" || { cat "$WORK/plan2.err"; exit 1; }
grep -E "^Read the site" "$WORK/plan2.err"
head -1 "$WORK/plan2.txt"
