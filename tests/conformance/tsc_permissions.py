#!/usr/bin/env python3
"""Permissions as code, read back by the official client: `trm permissions
apply` writes a declared state to `trm sim serve`, and the Tableau Server
Client reads every declared rule back.

  1. starts `<trm> sim serve --size small --seed 42` on a free port;
  2. signs in with TSC and picks, through TSC only, an unlocked project with
     a workbook, a second unlocked project, a group and a user;
  3. writes a permissions file (a lock change, project rules, default
     workbook and data source rules, a workbook's rules; user and group
     grantees; templates with allow/deny overrides) and runs
     `trm permissions apply --file F`;
  4. reads back with TSC (`projects.populate_permissions`,
     `populate_workbook_default_permissions`,
     `populate_datasource_default_permissions`,
     `workbooks.populate_permissions`, the project list for the lock) and
     compares with the capabilities the templates stand for, spelled out
     here from Tableau's template tables;
  5. runs `trm permissions plan --file F` again: it must plan 0 calls.

Every check prints one PASS/FAIL line; the last line is `N passed, M failed`
and the exit status is non-zero if anything failed.

Usage:
    ~/.cache/trm-venv/bin/python tests/conformance/tsc_permissions.py --trm target/debug/trm
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

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
)

A = "Allow"
D = "Deny"
# Tableau's templates, cumulative (Permission Capabilities and Templates).
WB_VIEW = ["Read", "Filter", "ViewComments", "AddComment", "ExportImage", "ExportData"]
WB_EXPLORE = WB_VIEW + ["ShareView", "ViewUnderlyingData", "WebAuthoring", "RunExplainData"]
DS_PUBLISH = ["Read", "Connect", "ExportXml", "Write", "SaveAs"]


def pager(endpoint) -> list[Any]:
    return drain(TSC.Pager(endpoint, page_options(BIG_PAGE)), 100_000)


def rules_of(rules, grantee_id: str) -> dict[str, str] | None:
    found = [r for r in rules or [] if r.grantee.id == grantee_id]
    if not found:
        return None
    merged: dict[str, str] = {}
    for r in found:
        merged.update(r.capabilities)
    return merged


def project_paths(projects: list[Any]) -> dict[str, str]:
    by_id = {p.id: p for p in projects}
    out = {}
    for p in projects:
        names, cur = [p.name], p
        while cur.parent_id and cur.parent_id in by_id:
            cur = by_id[cur.parent_id]
            names.append(cur.name)
        out[p.id] = "/".join(reversed(names))
    return out


def run_trm(args, sim: SimServer, *rest: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update({
        "TABLEAU_SERVER": sim.base_url,
        "TABLEAU_SITE": args.site,
        "TABLEAU_TOKEN_NAME": args.pat_name,
        "TABLEAU_TOKEN_SECRET": args.pat_secret,
    })
    return subprocess.run([args.trm, *rest, "--concurrency", "2"], env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def run_one(args: argparse.Namespace, size: str, checks: Checks, workdir: str) -> None:
    checks.scope = "permissions"
    with SimServer(args.trm, size, args.seed, workdir, args.startup_timeout, []) as sim:
        srv = new_server(sim.base_url, True)
        srv.auth.sign_in(TSC.PersonalAccessTokenAuth(args.pat_name, args.pat_secret, site_id=args.site))
        projects = pager(srv.projects)
        paths = project_paths(projects)
        workbooks = pager(srv.workbooks)
        managed = TSC.ProjectItem.ContentPermissions.ManagedByOwner
        unlocked = [p for p in projects if p.content_permissions == managed]
        with_wb = [p for p in unlocked if any(w.project_id == p.id for w in workbooks)]
        if not with_wb or len(unlocked) < 2:
            checks.fail("site shape", "needs two unlocked projects, one with a workbook")
            return
        proj = with_wb[0]
        other = next(p for p in unlocked if p.id != proj.id)
        wb = next(w for w in workbooks if w.project_id == proj.id)
        groups = pager(srv.groups)
        users = pager(srv.users)
        grp = next(g for g in groups if g.name != "All Users")
        user = users[-1]

        text = "\n".join([
            "projects:",
            f"  {json.dumps(paths[other.id])}:",
            "    content_permissions: LockedToProject",
            f"  {json.dumps(paths[proj.id])}:",
            "    rules:",
            f"      - group: {json.dumps(grp.name)}",
            "        template: Publish",
            f"      - user: {json.dumps(user.name)}",
            "        template: View",
            "    defaults:",
            "      workbooks:",
            f"        - group: {json.dumps(grp.name)}",
            "          template: Explore",
            "          deny: [ExportData]",
            "      datasources:",
            f"        - user: {json.dumps(user.name)}",
            "          template: Publish",
            "    workbooks:",
            f"      {json.dumps(wb.name)}:",
            f"        - group: {json.dumps(grp.name)}",
            "          template: View",
            "          allow: [ExportXml]",
            f"        - user: {json.dumps(user.name)}",
            "          template: Denied",
            "",
        ])
        path = os.path.join(workdir, "permissions.yaml")
        with open(path, "w") as fh:
            fh.write(text)

        done = run_trm(args, sim, "permissions", "apply", "--file", path)
        checks.ok("trm permissions apply exits 0", done.returncode == 0,
                  f"exit {done.returncode}: {done.stderr[-800:]} {done.stdout[-800:]}")
        # A personal access token holds one session: trm's sign-in ended TSC's.
        srv.auth.sign_in(TSC.PersonalAccessTokenAuth(args.pat_name, args.pat_secret, site_id=args.site))

        srv.projects.populate_permissions(proj)
        checks.eq("projects.populate_permissions: group has Publish (Read, Write)",
                  {"Read": A, "Write": A}, rules_of(proj.permissions, grp.id))
        checks.eq("projects.populate_permissions: user has View (Read)",
                  {"Read": A}, rules_of(proj.permissions, user.id))

        srv.projects.populate_workbook_default_permissions(proj)
        want = {c: A for c in WB_EXPLORE}
        want["ExportData"] = D
        checks.eq("populate_workbook_default_permissions: group has Explore with ExportData denied",
                  want, rules_of(proj.default_workbook_permissions, grp.id))
        srv.projects.populate_datasource_default_permissions(proj)
        checks.eq("populate_datasource_default_permissions: user has Publish",
                  {c: A for c in DS_PUBLISH}, rules_of(proj.default_datasource_permissions, user.id))

        srv.workbooks.populate_permissions(wb)
        want = {c: A for c in WB_VIEW}
        want["ExportXml"] = A
        checks.eq("workbooks.populate_permissions: group has View plus ExportXml",
                  want, rules_of(wb.permissions, grp.id))
        denied = rules_of(wb.permissions, user.id) or {}
        checks.ok("workbooks.populate_permissions: user has Denied (16 capabilities, all Deny)",
                  len(denied) == 16 and set(denied.values()) == {D}, f"{denied}")

        back = {p.id: p for p in pager(srv.projects)}
        checks.eq("projects list: the second project is LockedToProject",
                  TSC.ProjectItem.ContentPermissions.LockedToProject, back[other.id].content_permissions)

        again = run_trm(args, sim, "--json", "permissions", "plan", "--file", path)
        try:
            calls = json.loads(again.stdout)["rest_calls"]
        except (ValueError, KeyError) as exc:
            calls = f"unreadable plan ({exc}): {again.stdout[-400:]} {again.stderr[-400:]}"
        checks.eq("trm permissions plan after apply: 0 calls", 0, calls)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trm", required=True, help="path to the trm binary")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--site", default=DEFAULT_SITE)
    p.add_argument("--pat-name", default=DEFAULT_PAT_NAME)
    p.add_argument("--pat-secret", default=DEFAULT_PAT_SECRET)
    p.add_argument("--startup-timeout", type=float, default=120.0)
    p.add_argument("--keep-logs", action="store_true")
    p.add_argument("--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    code = drive(args, "trm-tsc-permissions-", ["small"], run_one)
    print(f"took {time.monotonic() - started:.1f}s", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
