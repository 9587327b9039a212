#!/usr/bin/env bash
# Bench of `trm users sync` on the large simulated site (50,000 users,
# 5,000 groups): export, change 1% of the rows (half site roles, half a
# membership removed), then time the dry run (reading the site and
# planning, which must take at most 3 s) and the real sync, and check the
# number of write calls the site received against the minimum computed
# from the change.
#
#   scripts/bench-users.sh                   # release binary, large site
#   TRM=$CARGO_TARGET_DIR/debug/trm SIZE=medium scripts/bench-users.sh
set -euo pipefail

TRM=${TRM:-${CARGO_TARGET_DIR:-target}/release/trm}
SIZE=${SIZE:-large}
PORT=${PORT:-18471}
CONCURRENCY=${CONCURRENCY:-8}
URL="http://127.0.0.1:$PORT"

work=$(mktemp -d)
"$TRM" sim serve --addr "127.0.0.1:$PORT" --size "$SIZE" >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do
  curl -sf "$URL/api/3.27/serverinfo" >/dev/null 2>&1 && break
  sleep 0.2
done

export TABLEAU_SERVER="$URL" TABLEAU_SITE=analytics TABLEAU_TOKEN_NAME=trm-sim TABLEAU_TOKEN_SECRET=trm-sim-secret
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }

t0=$(now)
"$TRM" users export --concurrency "$CONCURRENCY" >"$work/users.csv"
t1=$(now)
echo "export: $(($(wc -l <"$work/users.csv") - 1)) users in $(secs "$t0" "$t1") s"

# Every 100th row changes: odd hundreds a new site role, even hundreds leave
# their first group. Prints the minimal number of calls: one PUT per role
# change, one bulk removal per group that loses members.
expected=$(python3 - "$work/users.csv" "$work/changed.csv" <<'PY'
import csv, sys
src, dst = sys.argv[1], sys.argv[2]
with open(src, newline="", encoding="utf-8") as fh:
    rows = list(csv.DictReader(fh))
roles, groups_losing = 0, set()
for i, r in enumerate(rows):
    if i % 100 != 1:
        continue
    if (i // 100) % 2 == 0:
        r["site_role"] = "Viewer" if r["site_role"] != "Viewer" else "Explorer"
        roles += 1
    else:
        gs = [g for g in r["groups"].split(";") if g]
        if gs:
            groups_losing.add(gs[0].lower())
            r["groups"] = ";".join(gs[1:])
        else:
            r["site_role"] = "Viewer" if r["site_role"] != "Viewer" else "Explorer"
            roles += 1
with open(dst, "w", newline="", encoding="utf-8") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(rows)
print(roles + len(groups_losing))
PY
)
# The signed-in admin is never changed: if row 1 is theirs, one call fewer.
echo "changed rows: 1%; minimal calls: $expected (one fewer if the admin's row was picked)"

curl -sf -X DELETE "$URL/sim/calls" >/dev/null
t0=$(now)
"$TRM" users sync --csv "$work/changed.csv" --dry-run --concurrency "$CONCURRENCY" >"$work/plan.txt" 2>"$work/plan.err"
t1=$(now)
cat "$work/plan.err"
echo "dry run (read + plan): $(secs "$t0" "$t1") s; $(head -1 "$work/plan.txt")"

t0=$(now)
"$TRM" users sync --csv "$work/changed.csv" --concurrency "$CONCURRENCY" >"$work/sync.txt"
t1=$(now)
calls=$(curl -sf "$URL/sim/calls" | python3 -c 'import json,sys; c=json.load(sys.stdin)["calls"]; print(len(c), sum(1 for x in c if x["status"] >= 300))')
echo "sync: $(secs "$t0" "$t1") s; write calls received: ${calls% *} (failed: ${calls#* }); minimal: $expected"
grep -A9 '^Summary' "$work/sync.txt" || true

"$TRM" users sync --csv "$work/changed.csv" --dry-run --concurrency "$CONCURRENCY" >"$work/again.txt"
echo "rerun: $(head -1 "$work/again.txt")"
