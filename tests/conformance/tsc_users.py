#!/usr/bin/env python3
"""Users conformance: `trm users sync` writes, the official Tableau Server
Client reads back.

This script

  1. starts `<trm> sim serve --size small` (Tableau Server flavour);
  2. reads the site's users with TSC and writes a users CSV from them: some
     users changed (site role, email, full name), some left out, 25 new
     ones, memberships of two existing groups and two new ones;
  3. runs `<trm> users sync --csv FILE --remove-missing unlicense` and checks
     it exits 0;
  4. reads users, groups and memberships back with TSC and compares them
     with the file: every row's role, email and full name, every managed
     group's members, and the absent users unlicensed;
  5. runs the sync again with `--dry-run --json`: it must plan 0 calls, and
     the site's write log (`GET /sim/calls`) must show no new write;
  6. runs `<trm> users export` and compares its rows with what TSC lists.

Every check prints one PASS/FAIL line; the last line is `N passed, M failed`
and the exit status is non-zero if anything failed.

Usage (TSC must be installed, see requirements.txt next to this file):

    ~/.cache/trm-venv/bin/python tests/conformance/tsc_users.py --trm target/debug/trm
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tsc_conformance import (  # noqa: E402
    BIG_PAGE,
    DEFAULT_PAT_NAME,
    DEFAULT_PAT_SECRET,
    DEFAULT_SITE,
    TSC,
    Checks,
    SimServer,
    drain,
    drive,
    new_server,
    page_options,
    preview,
)

LIMIT = 1_000_000
ROLES = ["Creator", "Explorer", "ExplorerCanPublish", "Viewer"]


def sim_calls(base_url: str) -> list[dict]:
    with urllib.request.urlopen(f"{base_url}/sim/calls", timeout=30) as resp:
        return json.loads(resp.read())["calls"]


def trm(args: argparse.Namespace, base_url: str, *argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update({
        "TABLEAU_SERVER": base_url,
        "TABLEAU_SITE": args.site,
        "TABLEAU_TOKEN_NAME": args.pat_name,
        "TABLEAU_TOKEN_SECRET": args.pat_secret,
    })
    return subprocess.run([args.trm, *argv], env=env, capture_output=True, text=True, timeout=600)


def read_site(srv: TSC.Server) -> tuple[dict, dict]:
    """Users by lower-case name, and group name → set of lower-case member names."""
    users = {u.name.lower(): u for u in drain(TSC.Pager(srv.users, page_options(BIG_PAGE)), LIMIT)}
    groups = {}
    for g in drain(TSC.Pager(srv.groups, page_options(BIG_PAGE)), LIMIT):
        srv.groups.populate_users(g)
        groups[g.name] = {u.name.lower() for u in g.users}
    return users, groups


def run_small(args: argparse.Namespace, size: str, c: Checks, workdir: str) -> None:
    c.scope = "users"
    with SimServer(args.trm, size, args.seed, workdir, args.startup_timeout, []) as sim:
        def sign_in() -> TSC.Server:
            # A personal access token holds one session at a time: each trm
            # run ends TSC's, so TSC signs in again after it.
            srv = new_server(sim.base_url, use_server_version=True)
            srv.auth.sign_in(TSC.PersonalAccessTokenAuth(args.pat_name, args.pat_secret, site_id=args.site))
            return srv

        srv = sign_in()
        users, groups = read_site(srv)
        admin = next(u for u in users.values() if u.id == srv.user_id).name.lower()
        existing = sorted((u for k, u in users.items() if k != admin), key=lambda u: u.name)
        site_groups = sorted(g for g in groups if g != "All Users")[:2]
        managed = site_groups + ["TSC Users A", "TSC Users B"]

        rows = []
        for i, u in enumerate(existing[:-5]):
            role = ROLES[i % len(ROLES)]
            email = f"tsc.{i}@example.org" if i % 3 == 0 else (u.email or "")
            full = f"TSC, User {i}" if i % 4 == 0 else (u.fullname or "")
            rows.append([u.name, role, email, full, ";".join(managed[j] for j in range(4) if (i + j) % 3 == 0)])
        for i in range(25):
            rows.append([f"tsc.new{i}@example.com", ROLES[i % 4], f"tsc.new{i}@example.net", f"New {i}",
                         ";".join(managed[j] for j in range(4) if (i + j) % 2 == 0)])
        absent = {u.name.lower() for u in existing[-5:]}
        path = os.path.join(workdir, "users.csv")
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["username", "site_role", "email", "full_name", "groups"])
            w.writerows(rows)

        done = trm(args, sim.base_url, "users", "sync", "--csv", path, "--remove-missing", "unlicense")
        if not c.eq("trm users sync exits 0", 0, done.returncode):
            print(done.stdout[-3000:], done.stderr[-3000:], flush=True)
            return
        writes = len(sim_calls(sim.base_url))
        c.ok("the sync made write calls", writes > 0, f"{writes} calls")

        srv = sign_in()
        users, groups = read_site(srv)
        wrong = []
        for name, role, email, full, _ in rows:
            u = users.get(name.lower())
            if u is None:
                wrong.append(f"{name} missing")
                continue
            if u.site_role != role or (email and u.email != email) or (full and u.fullname != full):
                wrong.append(f"{name}: {u.site_role}/{u.email}/{u.fullname} != {role}/{email}/{full}")
        c.ok("TSC reads every row's site role, email and full name", not wrong, preview(wrong))
        c.ok("absent users are unlicensed",
             all(users[a].site_role == "Unlicensed" for a in absent), preview(sorted(absent)))
        for g in managed:
            want = {r[0].lower() for r in rows if g in r[4].split(";")}
            got = groups.get(g, set()) - {admin}
            c.ok(f"TSC reads the members of '{g}'", want == got,
                 f"{len(got)} members" if want == got else f"differ on {preview(sorted(want ^ got))}")

        again = trm(args, sim.base_url, "--json", "users", "sync", "--csv", path,
                    "--remove-missing", "unlicense", "--dry-run")
        plan = json.loads(again.stdout) if again.stdout.strip().startswith("{") else {}
        c.eq("a second sync plans 0 calls", 0, (plan.get("plan") or {}).get("rest_calls"))
        c.eq("and writes nothing", writes, len(sim_calls(sim.base_url)))

        exported = trm(args, sim.base_url, "users", "export")
        c.eq("trm users export exits 0", 0, exported.returncode)
        out = list(csv.DictReader(io.StringIO(exported.stdout)))
        c.eq("export has one row per user TSC lists", len(users), len(out))
        diffs = []
        for r in out:
            u = users.get(r["username"].lower())
            member_of = sorted(g for g, m in groups.items() if g != "All Users" and r["username"].lower() in m)
            listed = sorted(x for x in r["groups"].split(";") if x)
            if u is None or u.site_role != r["site_role"] or (u.email or "") != r["email"] \
                    or (u.fullname or "") != r["full_name"] or member_of != listed:
                diffs.append(r["username"])
        c.ok("export rows equal what TSC reads", not diffs, preview(diffs))


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trm", required=True, help="path to the trm binary")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--site", default=DEFAULT_SITE)
    p.add_argument("--pat-name", default=DEFAULT_PAT_NAME)
    p.add_argument("--pat-secret", default=DEFAULT_PAT_SECRET)
    p.add_argument("--startup-timeout", type=float, default=120.0)
    p.add_argument("--keep-logs", action="store_true", help="keep server logs")
    p.add_argument("--verbose", action="store_true", help="print tracebacks of failed checks")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)

    def run_one(args: argparse.Namespace, size: str, checks: Checks, workdir: str) -> None:
        with checks.guard("users sync round trip"):
            run_small(args, size, checks, workdir)

    return drive(args, "trm-tsc-users-", ["small"], run_one)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
