#!/usr/bin/env python3
"""Write conformance: drive the write API of `trm sim serve` with the official
Tableau Server Client and read every result back with it.

For the Tableau Server flavour and then the Tableau Cloud flavour this script

  1. starts `<trm> sim serve --addr 127.0.0.1:PORT --size small --seed 42
     --manifest PATH --job-seconds 1 [--flavor cloud]`;
  2. signs in with a personal access token (`use_server_version=True`);
  3. performs writes through TSC's public API only (users, groups, projects,
     permissions, default permissions, tags, refreshes, jobs, schedules; on
     Cloud the flavour's differences) and reads each result back through TSC;
  4. compares, per section, the simulator's write log (`GET /sim/calls`,
     cleared with `DELETE /sim/calls` when the section starts) with the write
     calls TSC made in that section, status included, and at the end compares
     the site's own counts (`GET /sim/manifest`) with what TSC lists.

Raw HTTP is used only for the simulator's own `/sim/...` endpoints.  Every
check prints one PASS/FAIL line (SKIP/INFO lines are not counted); the last
line is exactly `N passed, M failed` and the exit status is non-zero if
anything failed.

Usage (TSC must be installed, see requirements.txt next to this file):

    python3 -m venv ~/.cache/trm-venv
    ~/.cache/trm-venv/bin/pip install -r tests/conformance/requirements.txt
    ~/.cache/trm-venv/bin/python tests/conformance/tsc_writes.py --trm target/debug/trm
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import sys
import time
import urllib.request
from collections import Counter
from datetime import time as clock_time
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# The read-side script owns the check collector, the server process and the
# paging helpers; importing them keeps both scripts' output and lifecycle alike.
from tsc_conformance import (  # noqa: E402
    BIG_PAGE,
    DEFAULT_PAT_NAME,
    DEFAULT_PAT_SECRET,
    DEFAULT_SITE,
    LATEST_REST_VERSION,
    TSC,
    Checks,
    ServerResponseError,
    SimServer,
    drain,
    drive,
    new_server,
    page_options,
    preview,
)
from tableauserverclient.models.tag_item import TagItem  # noqa: E402
from tableauserverclient.server import RequestFactory  # noqa: E402
from tableauserverclient.server.endpoint.exceptions import (  # noqa: E402
    JobCancelledException,
    JobFailedException,
)

PAGER_LIMIT = 1_000_000
JOB_TIMEOUT_S = 60.0
# Tries of a step that races a job's wall-clock run (seeing it unfinished, cancelling it).
RACE_ATTEMPTS = 3
PREFIX = "tscw"

Cap = TSC.Permission.Capability
Mode = TSC.Permission.Mode


def pager(endpoint, *args, **kwargs) -> list[Any]:
    return drain(TSC.Pager(endpoint, page_options(BIG_PAGE), *args, **kwargs), PAGER_LIMIT)


def first_segment(path: str) -> str:
    return "/" + path.lstrip("/").split("/", 1)[0]


def rules_of(rules: list[Any] | None, grantee_id: str) -> dict[str, str] | None:
    """Capabilities of the grantee's rule, or None if it has none."""
    found = [r for r in rules or [] if r.grantee.id == grantee_id]
    if not found:
        return None
    merged: dict[str, str] = {}
    for r in found:
        merged.update(r.capabilities)
    return merged


class WriteConformance:
    """All write checks against one running simulated site."""

    def __init__(self, sim: SimServer, flavor: str, checks: Checks, args: argparse.Namespace) -> None:
        self.sim = sim
        self.flavor = flavor
        self.c = checks
        self.args = args
        self.base_url = sim.base_url
        self.srv: TSC.Server | None = None
        self.manifest: dict = {}
        # Write calls TSC made in the current section: (method, first path segment, status or None=2xx).
        self.expected_calls: list[tuple[str, str, int | None]] = []

    # ----------------------------------------------------------- /sim/ API

    def sim_request(self, method: str, path: str) -> Any:
        req = urllib.request.Request(f"{self.base_url}{path}", method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body.strip() else None

    def sim_manifest(self) -> dict:
        return self.sim_request("GET", "/sim/manifest") or {}

    def sim_calls(self) -> list[dict]:
        body = self.sim_request("GET", "/sim/calls")
        if not isinstance(body, dict) or not isinstance(body.get("calls"), list):
            raise RuntimeError(f"GET /sim/calls: expected {{\"calls\": [...]}}, got {str(body)[:200]}")
        return body["calls"]

    # ----------------------------------------------------- call accounting

    def expect(self, method: str, segment: str, status: int | None = None) -> None:
        self.expected_calls.append((method, segment, status))

    def write(self, method: str, segment: str, fn: Callable[..., Any], *a, **kw) -> Any:
        """A TSC write of exactly one HTTP request that must succeed."""
        self.expect(method, segment)
        try:
            return fn(*a, **kw)
        except ServerResponseError as exc:
            # The log then holds this call with the status the server refused it with; the
            # failure itself is reported by whoever catches the error.
            code = str(exc.code)[:3]
            self.expected_calls[-1] = (method, segment, int(code) if code.isdigit() else None)
            raise

    def expect_error(self, name: str, code: str, method: str, segment: str, fn: Callable[..., Any],
                     *a, **kw) -> bool:
        """A TSC write the server must refuse with Tableau error `code` (its HTTP status is code[:3])."""
        self.expect(method, segment, int(code[:3]))
        try:
            fn(*a, **kw)
        except ServerResponseError as exc:
            return self.c.ok(name, str(exc.code) == code,
                             f"code={exc.code!r} summary={exc.summary!r} detail={exc.detail!r}")
        except Exception as exc:  # noqa: BLE001
            self.c.error(name, exc)
            return False
        self.c.fail(name, "the call succeeded")
        return False

    @contextlib.contextmanager
    def section(self, name: str):
        """Clears the write log, runs the block, then compares the log with the writes made."""
        self.c.scope = f"{self.flavor}/{name}"
        self.expected_calls = []
        try:
            self.sim_request("DELETE", "/sim/calls")
            cleared = self.sim_calls()
            self.c.eq("DELETE /sim/calls empties the write log", 0, len(cleared))
        except Exception as exc:  # noqa: BLE001
            self.c.error("DELETE /sim/calls", exc)
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - a section aborted by an unexpected error
            self.c.error(f"section {name} aborted", exc)
        self.compare_calls()

    def compare_calls(self) -> None:
        try:
            calls = self.sim_calls()
        except Exception as exc:  # noqa: BLE001
            self.c.error("GET /sim/calls", exc)
            return
        actual = [(str(c.get("method")), first_segment(str(c.get("path", ""))), c.get("status")) for c in calls]
        expected = self.expected_calls
        self.c.eq("GET /sim/calls: number of write calls equals TSC's write calls in this section",
                  len(expected), len(actual))
        by_kind_exp = Counter((m, s) for m, s, _ in expected)
        by_kind_act = Counter((m, s) for m, s, _ in actual)
        self.c.ok("GET /sim/calls: write calls per method and path prefix", by_kind_exp == by_kind_act,
                  f"expected {dict(by_kind_exp)}, logged {dict(by_kind_act)}" if by_kind_exp != by_kind_act
                  else f"{dict(by_kind_act)}")
        mismatches = []
        for i, (exp, act) in enumerate(zip(expected, actual)):
            m, s, st = exp
            am, as_, ast = act
            ok_status = (isinstance(ast, int) and 200 <= ast < 300) if st is None else ast == st
            if (m, s) != (am, as_) or not ok_status:
                mismatches.append(f"#{i}: expected {m} {s} {st or '2xx'}, logged {am} {calls[i].get('path')} {ast}")
        self.c.ok("GET /sim/calls: each logged call in order, with the status TSC saw", not mismatches
                  and len(expected) == len(actual),
                  preview(mismatches) if mismatches else f"{len(actual)} calls")

    # ------------------------------------------------------------- setup

    def sign_in(self) -> bool:
        name = "sign in with PAT, TSC.Server(use_server_version=True)"
        try:
            srv = new_server(self.base_url, use_server_version=True)
            srv.auth.sign_in(TSC.PersonalAccessTokenAuth(self.args.pat_name, self.args.pat_secret,
                                                         site_id=self.args.site))
        except Exception as exc:  # noqa: BLE001
            self.c.error(name, exc)
            return False
        self.c.ok(name, True, f"user_id={srv.user_id}")
        self.c.eq("REST version negotiated", LATEST_REST_VERSION, srv.version)
        self.srv = srv
        return True

    def count(self, key: str) -> int | None:
        value = (self.manifest.get("counts") or {}).get(key)
        return value if isinstance(value, int) else None

    def refresh_manifest(self) -> None:
        self.manifest = self.sim_manifest()

    def run(self) -> None:
        self.c.scope = self.flavor
        with self.c.guard("GET /sim/manifest"):
            self.refresh_manifest()
            self.c.ok("GET /sim/manifest has counts", isinstance(self.manifest.get("counts"), dict),
                      f"keys {sorted(self.manifest)}")
        if not self.sign_in():
            return
        try:
            if self.flavor == "server":
                steps = [self.users, self.groups, self.projects, self.permissions, self.tags,
                         self.refresh_and_jobs, self.schedules]
            else:
                steps = [self.cloud]
            for step in steps + [self.final_counts]:
                # A step that breaks outside its section must not hide the later ones.
                self.c.scope = f"{self.flavor}/{step.__name__}"
                with self.c.guard(f"{step.__name__}: unexpected error"):
                    step()
        finally:
            with contextlib.suppress(Exception):
                self.srv.auth.sign_out()

    # ------------------------------------------------------------- users

    def user_ids(self) -> set[str]:
        return {u.id for u in pager(self.srv.users)}

    def users(self) -> None:
        srv = self.srv
        self.refresh_manifest()
        before = self.count("users")
        with self.section("users"):
            alice = self.write("POST", "/users", srv.users.add, TSC.UserItem(f"{PREFIX}_alice", "Viewer"))
            self.c.ok("users.add returns the new user (id, name, siteRole)",
                      bool(alice.id) and alice.name == f"{PREFIX}_alice" and alice.site_role == "Viewer",
                      f"{alice.id} {alice.name!r} {alice.site_role!r}")
            got = srv.users.get_by_id(alice.id)
            self.c.eq("users.get_by_id reads the added user back (name, siteRole)",
                      (f"{PREFIX}_alice", "Viewer"), (got.name, got.site_role))
            listed = self.user_ids()
            self.c.ok("added user is in Pager(server.users)", alice.id in listed)
            if before is None:
                self.c.fail("user count after add", "manifest has no integer counts.users")
            else:
                self.c.eq("user count after add = manifest count before + 1", before + 1, len(listed))

            got.site_role = "Explorer"
            got.fullname = "Alice Writes"
            got.email = "alice.writes@example.com"
            self.write("PUT", "/users", srv.users.update, got)
            back = srv.users.get_by_id(alice.id)
            self.c.eq("users.update read back (siteRole, fullName, email)",
                      ("Explorer", "Alice Writes", "alice.writes@example.com"),
                      (back.site_role, back.fullname, back.email))

            self.expect_error("adding an existing user name fails with 409000", "409000", "POST", "/users",
                              srv.users.add, TSC.UserItem(f"{PREFIX}_alice", "Viewer"))

            # TSC validates site roles client-side, so the bad role is set behind its setter:
            # the error code must come from the server.
            bad = TSC.UserItem(f"{PREFIX}_badrole", "Viewer")
            bad._site_role = "Emperor"
            self.expect_error("adding a user with an invalid site role fails with 400013 (server-side)",
                              "400013", "POST", "/users", srv.users.add, bad)

            bob = self.write("POST", "/users", srv.users.add, TSC.UserItem(f"{PREFIX}_bob", "Viewer"))
            self.write("DELETE", "/users", srv.users.remove, bob.id)
            self.c.ok("users.remove of a user who owns nothing: gone from Pager(server.users)",
                      bob.id not in self.user_ids())
            try:
                srv.users.get_by_id(bob.id)
                self.c.fail("users.get_by_id of the removed user fails with 404xxx", "the user is still there")
            except ServerResponseError as exc:
                self.c.ok("users.get_by_id of the removed user fails with 404xxx", str(exc.code).startswith("404"),
                          f"code={exc.code!r}")

            self.remove_owner()

    def remove_owner(self) -> None:
        srv = self.srv
        workbooks = pager(srv.workbooks)
        owners = Counter(w.owner_id for w in workbooks if w.owner_id and w.owner_id != srv.user_id)
        if len(owners) < 2:
            self.c.fail("find two workbook owners (other than the signed-in user)", f"owners: {dict(owners)}")
            return
        (owner, _), (heir, _) = owners.most_common()[-1], owners.most_common()[0]
        owned_wbs = sorted(w.id for w in workbooks if w.owner_id == owner)
        owned_ds = sorted(d.id for d in pager(srv.datasources) if d.owner_id == owner)
        self.c.info(f"removing owner {owner} ({len(owned_wbs)} workbooks, {len(owned_ds)} datasources), "
                    f"assets to {heir}")

        # The code Tableau answers here is a 409 family code; only its HTTP status is specified.
        self.expect("DELETE", "/users", 409)
        name = "users.remove of a content owner without map_assets_to fails with HTTP 409"
        try:
            srv.users.remove(owner)
            self.c.fail(name, "the call succeeded")
        except ServerResponseError as exc:
            self.c.ok(name, str(exc.code).startswith("409"), f"code={exc.code!r} summary={exc.summary!r}")
        user = srv.users.get_by_id(owner)
        self.c.eq("... and the owner is now Unlicensed", "Unlicensed", user.site_role)
        self.c.ok("... and still in Pager(server.users)", owner in self.user_ids())

        if "map_assets_to" not in inspect.signature(srv.users.remove).parameters:
            self.c.fail("users.remove(user_id, map_assets_to=...) exists in this TSC", "missing")
            return
        self.write("DELETE", "/users", srv.users.remove, owner, map_assets_to=heir)
        self.c.ok("users.remove with map_assets_to: gone from Pager(server.users)", owner not in self.user_ids())
        now_owned = {w.id: w.owner_id for w in pager(srv.workbooks)}
        wrong = [(w, now_owned.get(w)) for w in owned_wbs if now_owned.get(w) != heir]
        self.c.ok("... and every workbook they owned is now owned by the map_assets_to user",
                  bool(owned_wbs) and not wrong,
                  f"{len(wrong)} of {len(owned_wbs)} not moved: {preview(wrong)}" if wrong else f"{len(owned_wbs)}")
        ds_owner = {d.id: d.owner_id for d in pager(srv.datasources)}
        wrong = [(d, ds_owner.get(d)) for d in owned_ds if ds_owner.get(d) != heir]
        self.c.ok("... and every datasource they owned too", not wrong,
                  f"{len(wrong)} of {len(owned_ds)} not moved: {preview(wrong)}" if wrong else f"{len(owned_ds)}")
        left = [w for w, o in now_owned.items() if o == owner]
        self.c.eq("... and no workbook names the removed user as owner", [], left)

    # ------------------------------------------------------------ groups

    def group_by_id(self, group_id: str) -> Any | None:
        return next((g for g in pager(self.srv.groups) if g.id == group_id), None)

    def members(self, group) -> set[str]:
        self.srv.groups.populate_users(group)
        return {u.id for u in drain(group.users, PAGER_LIMIT)}

    def groups(self) -> None:
        srv = self.srv
        self.refresh_manifest()
        before = self.count("groups")
        users = [u for u in pager(srv.users) if u.id != srv.user_id and u.site_role != "Unlicensed"]
        if len(users) < 3:
            self.c.fail("three users to put in groups", f"only {len(users)}")
            return
        u1, u2, u3 = (u.id for u in users[:3])
        with self.section("groups"):
            g = self.write("POST", "/groups", srv.groups.create, TSC.GroupItem(f"{PREFIX} group"))
            self.c.ok("groups.create returns the group (id, name)", bool(g.id) and g.name == f"{PREFIX} group",
                      f"{g.id} {g.name!r}")
            listed = pager(srv.groups)
            self.c.ok("created group is in Pager(server.groups)", any(x.id == g.id for x in listed))
            if before is None:
                self.c.fail("group count after create", "manifest has no integer counts.groups")
            else:
                self.c.eq("group count after create = manifest count before + 1", before + 1, len(listed))
            self.expect_error("creating a group with an existing name fails with 409009", "409009",
                              "POST", "/groups", srv.groups.create, TSC.GroupItem(f"{PREFIX} group"))

            added = self.write("POST", "/groups", srv.groups.add_user, g, u1)
            self.c.eq("groups.add_user returns the member", u1, getattr(added, "id", None))
            self.c.eq("populate_users after add_user", {u1}, self.members(g))
            if not hasattr(srv.groups, "add_users"):
                self.c.fail("groups.add_users exists in this TSC", "missing")
            else:
                added = self.write("POST", "/groups", srv.groups.add_users, g, [u2, u3])
                self.c.eq("groups.add_users returns the members", {u2, u3}, {u.id for u in added})
                self.c.eq("populate_users after add_users", {u1, u2, u3}, self.members(g))
                self.c.eq("userCount in Pager(server.groups) after adding 3",
                          3, getattr(self.group_by_id(g.id), "user_count", None))
            self.expect_error("adding an existing member fails with 409011", "409011", "POST", "/groups",
                              srv.groups.add_user, g, u1)

            self.write("DELETE", "/groups", srv.groups.remove_user, g, u1)
            self.c.eq("populate_users after remove_user", {u2, u3}, self.members(g))
            if not hasattr(srv.groups, "remove_users"):
                self.c.fail("groups.remove_users exists in this TSC", "missing")
            else:
                self.write("PUT", "/groups", srv.groups.remove_users, g, [u2, u3])
                self.c.eq("populate_users after remove_users", set(), self.members(g))
                self.c.eq("userCount in Pager(server.groups) after removing all",
                          0, getattr(self.group_by_id(g.id), "user_count", None))

            self.write("DELETE", "/groups", srv.groups.delete, g.id)
            self.c.ok("groups.delete: gone from Pager(server.groups)", self.group_by_id(g.id) is None)

            # A group that stays, so the final count comparison covers memberships made by writes.
            keep = self.write("POST", "/groups", srv.groups.create, TSC.GroupItem(f"{PREFIX} kept"))
            self.write("POST", "/groups", srv.groups.add_user, keep, u1)
            self.write("POST", "/groups", srv.groups.add_user, keep, u2)
            self.c.eq("kept group: populate_users", {u1, u2}, self.members(keep))
            self.c.eq("kept group: userCount", 2, getattr(self.group_by_id(keep.id), "user_count", None))

    # ---------------------------------------------------------- projects

    def project_by_id(self, project_id: str) -> Any | None:
        return next((p for p in pager(self.srv.projects) if p.id == project_id), None)

    def projects(self) -> None:
        srv = self.srv
        self.refresh_manifest()
        before = self.count("projects")
        with self.section("projects"):
            parent = self.write("POST", "/projects", srv.projects.create,
                                TSC.ProjectItem(f"{PREFIX} parent", description="made by tsc_writes"))
            child = self.write("POST", "/projects", srv.projects.create,
                               TSC.ProjectItem(f"{PREFIX} child", parent_id=parent.id))
            self.c.ok("projects.create returns the project (id, name, no parent)",
                      bool(parent.id) and parent.name == f"{PREFIX} parent" and not parent.parent_id,
                      f"{parent.id} {parent.name!r} parent={parent.parent_id!r}")
            self.c.eq("projects.create of a nested project returns its parentProjectId", parent.id, child.parent_id)
            listed = {p.id: p for p in pager(srv.projects)}
            self.c.ok("both projects in Pager(server.projects)", parent.id in listed and child.id in listed)
            if child.id in listed:
                self.c.eq("nested project's parent id in Pager(server.projects)", parent.id, listed[child.id].parent_id)
            if before is None:
                self.c.fail("project count after create", "manifest has no integer counts.projects")
            else:
                self.c.eq("project count after create = manifest count before + 2", before + 2, len(listed))

            for mode in (TSC.ProjectItem.ContentPermissions.LockedToProject,
                         TSC.ProjectItem.ContentPermissions.ManagedByOwner):
                item = listed.get(parent.id) or parent
                item.content_permissions = mode
                updated = self.write("PUT", "/projects", srv.projects.update, item)
                self.c.eq(f"projects.update contentPermissions={mode}: response", mode, updated.content_permissions)
                back = self.project_by_id(parent.id)
                self.c.eq(f"projects.update contentPermissions={mode}: read back in Pager(server.projects)",
                          mode, getattr(back, "content_permissions", None))

            self.write("DELETE", "/projects", srv.projects.delete, child.id)
            listed = {p.id for p in pager(srv.projects)}
            self.c.ok("projects.delete of the nested project: gone, parent stays",
                      child.id not in listed and parent.id in listed)

    # ------------------------------------------------------- permissions

    def permissions(self) -> None:
        srv = self.srv
        projects = {p.id: p for p in pager(srv.projects)}
        workbooks = pager(srv.workbooks)
        managed = [w for w in workbooks if getattr(projects.get(w.project_id), "content_permissions", None)
                   == TSC.ProjectItem.ContentPermissions.ManagedByOwner]
        if not managed:
            self.c.fail("a workbook in a ManagedByOwner project", "none found")
            return
        wb = managed[0]
        with self.section("permissions"):
            grp = self.write("POST", "/groups", srv.groups.create, TSC.GroupItem(f"{PREFIX} grantees"))

            def wb_rules():
                srv.workbooks.populate_permissions(wb)
                return wb.permissions

            before = wb_rules()
            self.write("PUT", "/workbooks", srv.workbooks.update_permissions, wb,
                       [TSC.PermissionsRule(grp, {Cap.Read: Mode.Allow, Cap.ExportImage: Mode.Deny})])
            after = wb_rules()
            self.c.eq("workbooks.update_permissions for a group: read back",
                      {Cap.Read: Mode.Allow, Cap.ExportImage: Mode.Deny}, rules_of(after, grp.id))
            self.c.eq("... other grantees' rules untouched",
                      sorted((r.grantee.id, sorted(r.capabilities.items())) for r in before),
                      sorted((r.grantee.id, sorted(r.capabilities.items())) for r in after if r.grantee.id != grp.id))

            self.write("PUT", "/workbooks", srv.workbooks.update_permissions, wb,
                       [TSC.PermissionsRule(grp, {Cap.Read: Mode.Deny})])
            self.c.eq("additive PUT: Deny for a capability already Allowed leaves it Allowed",
                      {Cap.Read: Mode.Allow, Cap.ExportImage: Mode.Deny}, rules_of(wb_rules(), grp.id))

            self.write("DELETE", "/workbooks", srv.workbooks.delete_permission, wb,
                       TSC.PermissionsRule(grp, {Cap.ExportImage: Mode.Deny}))
            self.c.eq("workbooks.delete_permission of one capability: read back",
                      {Cap.Read: Mode.Allow}, rules_of(wb_rules(), grp.id))
            self.write("DELETE", "/workbooks", srv.workbooks.delete_permission, wb,
                       TSC.PermissionsRule(grp, {Cap.Read: Mode.Allow}))
            final = wb_rules()
            self.c.eq("workbooks.delete_permission of the last capability: the group has no rule",
                      None, rules_of(final, grp.id))
            self.c.eq("... and the rule count is back to what it was", len(before), len(final))

            project = projects.get(wb.project_id)
            for kind, cap, populate, update, delete, attr in (
                ("workbook", Cap.Read, srv.projects.populate_workbook_default_permissions,
                 srv.projects.update_workbook_default_permissions,
                 srv.projects.delete_workbook_default_permissions, "default_workbook_permissions"),
                ("datasource", Cap.Connect, srv.projects.populate_datasource_default_permissions,
                 srv.projects.update_datasource_default_permissions,
                 srv.projects.delete_datasource_default_permissions, "default_datasource_permissions"),
            ):
                def read():
                    populate(project)
                    return getattr(project, attr)

                base = read()
                rule = TSC.PermissionsRule(grp, {cap: Mode.Allow})
                self.write("PUT", "/projects", update, project, [rule])
                self.c.eq(f"projects.update_{kind}_default_permissions: read back",
                          {cap: Mode.Allow}, rules_of(read(), grp.id))
                self.write("DELETE", "/projects", delete, project, rule)
                back = read()
                self.c.eq(f"projects.delete_{kind}_default_permissions: read back", None, rules_of(back, grp.id))
                self.c.eq(f"... {kind} default rule count back to what it was", len(base), len(back))

            self.locked_project_rejects(projects, workbooks, grp)

    def locked_project_rejects(self, projects: dict, workbooks: list, grp) -> None:
        srv = self.srv
        locked_mode = TSC.ProjectItem.ContentPermissions.LockedToProject
        locked = [w for w in workbooks if getattr(projects.get(w.project_id), "content_permissions", None)
                  == locked_mode]
        relock = None
        if locked:
            wb = locked[0]
        else:
            # No locked project holds a workbook: lock one for the check, then unlock it.
            wb = workbooks[0]
            relock = projects[wb.project_id]
            previous = relock.content_permissions
            relock.content_permissions = locked_mode
            self.write("PUT", "/projects", srv.projects.update, relock)
            self.c.info(f"locked project {relock.id} (was {previous}) for the check")
        self.expect("PUT", "/workbooks", 403)
        name = "workbooks.update_permissions in a LockedToProject project fails with HTTP 403"
        try:
            srv.workbooks.update_permissions(wb, [TSC.PermissionsRule(grp, {Cap.Read: Mode.Allow})])
            self.c.fail(name, "the call succeeded")
        except ServerResponseError as exc:
            self.c.ok(name, str(exc.code).startswith("403"), f"code={exc.code!r} summary={exc.summary!r}")
        srv.workbooks.populate_permissions(wb)
        self.c.eq("... and the group has no rule on it", None, rules_of(wb.permissions, grp.id))
        if relock is not None:
            relock.content_permissions = previous
            self.write("PUT", "/projects", srv.projects.update, relock)

    # -------------------------------------------------------------- tags

    def tags(self) -> None:
        srv = self.srv
        wb = pager(srv.workbooks)[0]
        ds = pager(srv.datasources)[0]
        views = pager(srv.views)
        view = views[0] if views else None
        labels = {f"{PREFIX}-a", f"{PREFIX} spaced"}
        with self.section("tags"):
            targets = [("workbook", srv.workbooks, wb), ("datasource", srv.datasources, ds)]
            if view is not None and hasattr(srv.views, "add_tags"):
                targets.append(("view", srv.views, view))
            for kind, endpoint, item in targets:
                with self.c.guard(f"{kind} tags"):
                    self.tag_item(kind, endpoint, item, labels)

            if not hasattr(srv, "tags") or not hasattr(srv.tags, "batch_add"):
                self.c.fail("server.tags.batch_add exists in this TSC", "missing")
                return
            batch = f"{PREFIX}-batch"
            if "/sites/" in srv.tags.baseurl:
                batch_add, batch_delete = srv.tags.batch_add, srv.tags.batch_delete
            else:
                # TSC 0.42 PUTs /api/{v}/tags:batchCreate, without the /sites/{site-id} that Tableau's
                # URI has; its body is right, so that body goes to the site URI through the same endpoint.
                self.c.info(f"TSC's tags endpoint lacks the site ({srv.tags.baseurl}): sending TSC's batch "
                            "body (RequestFactory.Tag.batch_create) to /sites/{site-id}/tags:batch*")
                site_tags = f"{srv.baseurl}/sites/{srv.site_id}/tags"

                def batch_call(verb):
                    def call(tags, content):
                        body = RequestFactory.Tag.batch_create(tags, content)
                        resp = srv.tags.put_request(f"{site_tags}:{verb}", body)
                        return TagItem.from_response(resp.content, srv.namespace)
                    return call

                batch_add, batch_delete = batch_call("batchCreate"), batch_call("batchDelete")
            returned = self.write("PUT", "/tags:batchCreate", batch_add, {batch}, [wb, ds])
            self.c.ok("tags:batchCreate: response lists the tag", batch in set(returned), f"{sorted(returned)}")
            self.c.ok("tags:batchCreate: on the workbook and the datasource (get_by_id)",
                      batch in srv.workbooks.get_by_id(wb.id).tags and batch in srv.datasources.get_by_id(ds.id).tags)
            self.write("PUT", "/tags:batchDelete", batch_delete, {batch}, [wb, ds])
            self.c.ok("tags:batchDelete: gone from both (get_by_id)",
                      batch not in srv.workbooks.get_by_id(wb.id).tags
                      and batch not in srv.datasources.get_by_id(ds.id).tags)

    def tag_item(self, kind: str, endpoint, item, labels: set[str]) -> None:
        seg = f"/{kind}s"
        base = set(endpoint.get_by_id(item.id).tags)
        # TSC quotes a label with a space ("a b") so the server keeps it as one tag.
        returned = self.write("PUT", seg, endpoint.add_tags, item, labels)
        self.c.ok(f"{kind}s.add_tags: response lists the tags", labels <= set(returned), f"{sorted(returned)}")
        self.c.eq(f"{kind}s.add_tags: read back with get_by_id", base | labels, set(endpoint.get_by_id(item.id).tags))
        for label in sorted(labels):
            with self.c.guard(f"{kind}s.delete_tags({label!r})"):
                self.write("DELETE", seg, endpoint.delete_tags, item, label)
        self.c.eq(f"{kind}s.delete_tags: read back with get_by_id", base, set(endpoint.get_by_id(item.id).tags))

    # -------------------------------------------------- refresh and jobs

    def extract_refreshed_at(self, kind: str, luid: str) -> Any:
        """The Metadata API's extractLastRefreshTime of a published datasource, or the latest one
        among a workbook's embedded datasources."""
        if kind == "datasource":
            query = ('{ publishedDatasourcesConnection(filter: {luid: "%s"}) '
                     '{ nodes { luid extractLastRefreshTime } } }' % luid)
            data = self.srv.metadata.query(query, abort_on_error=True)["data"]
            times = [n.get("extractLastRefreshTime") for n in data["publishedDatasourcesConnection"]["nodes"]]
        else:
            query = ('{ workbooksConnection(filter: {luid: "%s"}) '
                     '{ nodes { luid embeddedDatasources { extractLastRefreshTime } } } }' % luid)
            data = self.srv.metadata.query(query, abort_on_error=True)["data"]
            times = [e.get("extractLastRefreshTime") for n in data["workbooksConnection"]["nodes"]
                     for e in n.get("embeddedDatasources") or []]
        times = [t for t in times if t]
        return max(times) if times else None

    def follow(self, job_id: str) -> list[tuple[Any, bool]]:
        """Polls jobs.get_by_id quickly until the job completes: (progress, finished) per look."""
        seen = []
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while time.monotonic() < deadline:
            job = self.srv.jobs.get_by_id(job_id)
            seen.append((job.progress, job.completed_at is not None))
            if job.completed_at is not None:
                break
            time.sleep(0.05)
        return seen

    def refresh_and_jobs(self) -> None:
        srv = self.srv
        self.refresh_manifest()
        planted = self.manifest.get("planted") or {}
        broken = planted.get("broken_extracts")
        transient = set(planted.get("transient_failures") or [])
        if broken is None:
            self.c.fail("manifest planted.broken_extracts", "missing")
            return
        broken_tasks = {b.get("task_id") for b in broken}
        tasks = pager(srv.tasks)
        datasources = {d.id: d for d in pager(srv.datasources)}
        workbooks = {w.id: w for w in pager(srv.workbooks)}
        # Healthy: never failed lately and not planted as broken; transient failures recovered.
        healthy = sorted((t for t in tasks if t.target is not None and t.consecutive_failed_count == 0
                          and t.id not in broken_tasks),
                         key=lambda t: (t.id in transient, t.target.type != "datasource", t.id))
        tasked = {t.target.id for t in tasks if t.target is not None}
        healthy_ds = [datasources[t.target.id] for t in healthy if t.target.type == "datasource"
                      and getattr(datasources.get(t.target.id), "has_extracts", False)]
        # A datasource with an extract and no refresh task has nothing that fails either.
        healthy_ds += [d for d in datasources.values() if d.has_extracts and d.id not in tasked]
        failing = [b for b in broken if b.get("target_type") == "datasource"
                   and {"last_refresh_failed", "consecutive_failures"} & set(b.get("reasons") or [])]
        no_extract = [d for d in datasources.values() if d.has_extracts is False]
        self.c.info(f"{len(healthy)} healthy tasks ({len(healthy_ds)} datasources with a healthy or no task), "
                    f"{len(failing)} planted failing datasource tasks, {len(no_extract)} datasources without extract")

        # What a successful refresh is run on: a datasource, as the issue asks; when the generated site
        # has none, a workbook with a healthy task keeps the rest of the flow covered.
        if self.c.ok("a datasource with an extract whose refresh task is healthy exists (to refresh successfully)",
                     bool(healthy_ds), f"{healthy_ds[0].name!r}" if healthy_ds else
                     f"none among {len(datasources)} datasources (extract ones: "
                     f"{[d.name for d in datasources.values() if d.has_extracts]}, all with failing tasks); "
                     "falling back to a workbook"):
            ok_kind, ok_item, ok_endpoint = "datasource", healthy_ds[0], srv.datasources
        else:
            wb_tasks = [t for t in healthy if t.target.type == "workbook" and t.target.id in workbooks]
            if not wb_tasks:
                self.c.fail("a workbook with a healthy refresh task", "none either")
                return
            ok_kind, ok_item, ok_endpoint = "workbook", workbooks[wb_tasks[0].target.id], srv.workbooks
        ok_task = next((t for t in tasks if t.target is not None and t.target.id == ok_item.id), None)
        if not failing or not no_extract or not healthy:
            self.c.fail("refresh candidates: a planted failing datasource task, a datasource without extract, "
                        "a healthy task", f"{len(failing)}, {len(no_extract)}, {len(healthy)}")
            return
        facts_before = None
        with self.c.guard("Metadata API extract facts before the refresh"):
            facts_before = self.extract_refreshed_at(ok_kind, ok_item.id)
        job_ids: dict[str, str] = {}
        seg = f"/{ok_kind}s"

        with self.section("refresh"):
            # A job lasts --job-seconds of wall-clock time; on a loaded machine the first look may come
            # too late to see it run, so a job seen only finished is followed by another refresh.
            for attempt in range(1, RACE_ATTEMPTS + 1):
                job = self.write("POST", seg, ok_endpoint.refresh, ok_item)
                seen = self.follow(job.id)
                if any(not done for _, done in seen) or attempt == RACE_ATTEMPTS:
                    break
                self.c.info(f"attempt {attempt}: job {job.id} had finished before the first look; again")
            self.c.ok(f"{ok_kind}s.refresh returns a job", job is not None and bool(job.id), f"{job!r}")
            unfinished = [p for p, done in seen if not done]
            self.c.ok("jobs.get_by_id while the job runs: unfinished, with a progress value",
                      bool(unfinished) and all(p is not None for p in unfinished),
                      f"progress seen: {[p for p, _ in seen][:12]}")
            numbers = [int(p) for p, _ in seen if p is not None and str(p).isdigit()]
            self.c.ok("... progress never goes down and ends at 100", numbers == sorted(numbers)
                      and numbers[-1:] == [100], f"{numbers[:12]}")
            name = f"jobs.wait_for_job: refresh of a {ok_kind} with a healthy task succeeds (finishCode 0)"
            try:
                done = srv.jobs.wait_for_job(job.id, timeout=JOB_TIMEOUT_S)
                self.c.ok(name, done.finish_code == 0 and done.started_at is not None
                          and done.completed_at is not None,
                          f"finish_code={done.finish_code} started={done.started_at} completed={done.completed_at}")
                job_ids["Success"] = job.id
            except Exception as exc:  # noqa: BLE001
                self.c.error(name, exc)
            if ok_task is not None:
                self.c.eq("... its task's consecutiveFailedCount stays 0", 0,
                          srv.tasks.get_by_id(ok_task.id).consecutive_failed_count)

            bad = failing[0]
            count0 = srv.tasks.get_by_id(bad["task_id"]).consecutive_failed_count
            job = self.write("POST", "/datasources", srv.datasources.refresh, bad["target_id"])
            name = "jobs.wait_for_job: refresh of a planted failing datasource raises JobFailedException"
            try:
                done = srv.jobs.wait_for_job(job.id, timeout=JOB_TIMEOUT_S)
                self.c.fail(name, f"the job succeeded (finish_code={done.finish_code})")
            except JobCancelledException as exc:
                self.c.fail(name, f"cancelled instead: {exc}")
            except JobFailedException as exc:
                self.c.ok(name, exc.job.finish_code == 1, f"finish_code={exc.job.finish_code} notes={exc.notes}")
                job_ids["Failed"] = job.id
            self.c.eq("... and the task's consecutiveFailedCount grew by one", count0 + 1,
                      srv.tasks.get_by_id(bad["task_id"]).consecutive_failed_count)

            content = self.write("POST", "/tasks", srv.tasks.run, healthy[0])
            try:
                job = TSC.JobItem.from_response(content, srv.namespace)[0]
                done = srv.jobs.wait_for_job(job.id, timeout=JOB_TIMEOUT_S)
                self.c.ok("tasks.run: the job it returns finishes (finishCode 0)", done.finish_code == 0,
                          f"job {job.id} finish_code={done.finish_code}")
            except Exception as exc:  # noqa: BLE001
                self.c.error("tasks.run: the job it returns finishes (finishCode 0)", exc)

            self.expect("POST", "/datasources", 400)
            name = "datasources.refresh of a datasource without an extract fails with a 400 server error"
            try:
                srv.datasources.refresh(no_extract[0])
                self.c.fail(name, "the call succeeded")
            except ServerResponseError as exc:
                self.c.ok(name, str(exc.code).startswith("400"), f"code={exc.code!r} detail={exc.detail!r}")

            for attempt in range(1, RACE_ATTEMPTS + 1):
                job = self.write("POST", seg, ok_endpoint.refresh, ok_item)
                try:
                    self.write("PUT", "/jobs", srv.jobs.cancel, job.id)
                    break
                except ServerResponseError as exc:
                    # Only a job that finished before the cancel arrived may be retried.
                    if attempt == RACE_ATTEMPTS or srv.jobs.get_by_id(job.id).completed_at is None:
                        raise
                    self.c.info(f"attempt {attempt}: job {job.id} finished before the cancel ({exc.code}); again")
            got = srv.jobs.get_by_id(job.id)
            self.c.eq("jobs.cancel right after a refresh starts: finishCode 2", 2, got.finish_code)
            name = "... and jobs.wait_for_job raises JobCancelledException"
            try:
                srv.jobs.wait_for_job(job.id, timeout=JOB_TIMEOUT_S)
                self.c.fail(name, "the job succeeded")
            except JobCancelledException:
                self.c.ok(name, True)
                job_ids["Cancelled"] = job.id
            except JobFailedException as exc:
                self.c.fail(name, f"JobFailedException instead (finish_code={exc.job.finish_code})")

        jobs = {j.id: j.status for j in pager(srv.jobs)}
        for status, job_id in job_ids.items():
            self.c.eq(f"Pager(server.jobs) lists the {status.lower()} job with status {status}",
                      status, jobs.get(job_id))
        if "Success" in job_ids:
            with self.c.guard("Metadata API extract facts after the refresh"):
                after = self.extract_refreshed_at(ok_kind, ok_item.id)
                self.c.ok(f"Metadata API extractLastRefreshTime of the refreshed {ok_kind} moves forward",
                          bool(after) and (facts_before is None or after > facts_before),
                          f"before {facts_before!r}, after {after!r}")

    # --------------------------------------------------------- schedules

    def schedules(self) -> None:
        srv = self.srv
        schedules = pager(srv.schedules)
        extract = [s for s in schedules if s.schedule_type == "Extract"]
        if not extract:
            self.c.fail("an extract schedule", f"types: {Counter(s.schedule_type for s in schedules)}")
            return
        tasks = pager(srv.tasks)
        with_task = {t.target.id for t in tasks if t.target is not None}
        workbooks = pager(srv.workbooks)
        refreshed_wbs = {t.target.id for t in tasks if t.target is not None and t.target.type == "workbook"}
        sched = extract[0]
        on_sched = {t.target.id for t in tasks if t.target is not None and t.schedule_id == sched.id}
        # Tableau lists a workbook's hasExtracts only with fields=_all_: a workbook refreshed by a
        # task has an extract either way.
        extract_wbs = [w for w in workbooks if (w.has_extracts or w.id in refreshed_wbs) and w.id not in on_sched]
        # Prefer a workbook with no refresh task at all; else one whose task is on another schedule.
        candidates = [w for w in extract_wbs if w.id not in with_task] or extract_wbs
        with self.section("schedules"):
            item = srv.schedules.get_by_id(sched.id)
            item.name = f"{PREFIX} renamed schedule"
            item.state = TSC.ScheduleItem.State.Suspended
            self.write("PUT", "/schedules", srv.schedules.update, item)
            back = srv.schedules.get_by_id(sched.id)
            self.c.eq("schedules.update (rename, suspend): read back with get_by_id",
                      (f"{PREFIX} renamed schedule", "Suspended"), (back.name, back.state))

            if not candidates:
                self.c.fail("a workbook with extracts and no refresh task", "none found")
                return
            wb = candidates[0]
            failures = self.write("PUT", "/schedules", srv.schedules.add_to_schedule, sched.id, workbook=wb)
            self.c.eq("schedules.add_to_schedule(workbook=...) reports no failure", [], failures)
            after = pager(srv.tasks)
            new = [t for t in after if t.target is not None and t.target.id == wb.id and t.schedule_id == sched.id]
            self.c.ok("the new task shows in Pager(server.tasks) on that schedule",
                      len(new) == 1 and new[0].target.type == "workbook", f"{new!r}")
            self.c.eq("task count grew by one", len(tasks) + 1, len(after))

    # ------------------------------------------------------------- cloud

    def cloud(self) -> None:
        srv = self.srv
        name = "Pager(server.schedules) on Cloud fails with HTTP 403"
        try:
            got = pager(srv.schedules)
            self.c.fail(name, f"listed {len(got)} schedules")
        except ServerResponseError as exc:
            self.c.ok(name, str(exc.code).startswith("403"), f"code={exc.code!r} summary={exc.summary!r}")

        tasks = pager(srv.tasks)
        with_id = [t.id for t in tasks if t.schedule_id]
        without = [t.id for t in tasks if t.schedule_item is None or t.schedule_item.interval_item is None]
        self.c.ok("Cloud tasks carry their schedule inline with frequency details", bool(tasks) and not without,
                  f"{len(without)} of {len(tasks)} without: {preview(without)}")
        self.c.ok("Cloud tasks' schedules have no schedule id", bool(tasks) and not with_id,
                  f"{len(with_id)} of {len(tasks)} with one: {preview(with_id)}")

        with self.section("cloud writes"):
            self.expect("POST", "/users", 400)
            name = "Cloud: adding a user whose name is not an email fails with HTTP 400"
            try:
                srv.users.add(TSC.UserItem(f"{PREFIX}_plain", "Viewer"))
                self.c.fail(name, "the call succeeded")
            except ServerResponseError as exc:
                self.c.ok(name, str(exc.code).startswith("400"), f"code={exc.code!r} detail={exc.detail!r}")
            email = f"{PREFIX}.cloud@example.com"
            added = self.write("POST", "/users", srv.users.add, TSC.UserItem(email, "Viewer"))
            self.c.eq("Cloud: adding a user named by email succeeds, read back", email,
                      srv.users.get_by_id(added.id).name)

            if not tasks:
                return
            task = tasks[0]
            # TSC 0.42 has no tasks.update: the body is TSC's own serialization of a Cloud task
            # (RequestFactory.Task.create_extract_req), sent through the tasks endpoint's post_request.
            if hasattr(srv.tasks, "update"):
                self.c.info("this TSC has tasks.update; the script still uses create_extract_req")
            url = f"{srv.tasks.baseurl}/extractRefreshes/{task.id}"

            def update(start: clock_time):
                body_item = TSC.TaskItem(None, "FullRefresh", None,
                                         schedule_item=TSC.ScheduleItem(None, None, None, None,
                                                                        TSC.DailyInterval(start, 24)),
                                         target=task.target)
                body = RequestFactory.Task.create_extract_req(body_item)
                return srv.tasks.post_request(url, body)

            self.write("POST", "/tasks", update, clock_time(4, 15))
            back = srv.tasks.get_by_id(task.id)
            interval = back.schedule_item.interval_item if back.schedule_item else None
            self.c.eq("Cloud: task schedule update (Daily 04:15, every 24 h) read back with tasks.get_by_id",
                      ("Daily", clock_time(4, 15)),
                      (getattr(interval, "_frequency", None), getattr(interval, "start_time", None)))
            self.expect_error("Cloud: a task schedule starting at :07 fails with 409004", "409004",
                              "POST", "/tasks", update, clock_time(4, 7))
            back = srv.tasks.get_by_id(task.id)
            self.c.eq("... and the task keeps its 04:15 start", clock_time(4, 15),
                      getattr(back.schedule_item.interval_item if back.schedule_item else None, "start_time", None))

    # ------------------------------------------------------ final counts

    def final_counts(self) -> None:
        self.c.scope = f"{self.flavor}/final"
        srv = self.srv
        try:
            manifest = self.sim_manifest()
        except Exception as exc:  # noqa: BLE001
            self.c.error("GET /sim/manifest", exc)
            return
        counts = manifest.get("counts") or {}
        groups = pager(srv.groups)
        memberships = 0
        for g in groups:
            memberships += len(self.members(g))
        listed = {
            "users": len(pager(srv.users)),
            "groups": len(groups),
            "group_memberships": memberships,
            "projects": len(pager(srv.projects)),
        }
        for key, actual in listed.items():
            if not isinstance(counts.get(key), int):
                self.c.fail(f"manifest counts.{key} after the writes", "missing from GET /sim/manifest")
            else:
                self.c.eq(f"manifest counts.{key} after the writes equals what TSC lists", counts[key], actual)


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


def run_flavor(args: argparse.Namespace, flavor: str, checks: Checks, workdir: str) -> None:
    checks.scope = flavor
    extra = ["--job-seconds", str(args.job_seconds)]
    if flavor == "cloud":
        extra += ["--flavor", "cloud"]
    # One directory per flavour: SimServer names its manifest and log after the size only.
    flavor_dir = os.path.join(workdir, flavor)
    os.makedirs(flavor_dir, exist_ok=True)
    sim: SimServer | None = None
    started = time.monotonic()
    try:
        sim = SimServer(args.trm, args.size, args.seed, flavor_dir, args.startup_timeout, extra)
        checks.info(f"starting: {' '.join(sim.command())}")
        with sim:
            checks.ok("server starts and answers /api/3.27/serverinfo", True,
                      f"{sim.base_url} after {sim.startup_seconds:.1f}s")
            WriteConformance(sim, flavor, checks, args).run()
            checks.scope = flavor
            if sim.proc is not None and sim.proc.poll() is not None:
                checks.fail("server still running at the end", f"exited with {sim.proc.returncode}")
                print(sim.log_tail(), flush=True)
    except Exception as exc:  # noqa: BLE001
        checks.error("server lifecycle", exc)
        if sim is not None:
            print(f"     last lines of {sim.log_path}:\n{sim.log_tail()}", flush=True)
    finally:
        checks.scope = flavor
        checks.info(f"{flavor} took {time.monotonic() - started:.1f}s")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trm", required=True, help="path to the trm binary")
    p.add_argument("--size", default="small", choices=["small", "medium", "large"])
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--flavor", action="append", choices=["server", "cloud"],
                   help="site flavour; repeat for both (default: server and cloud)")
    p.add_argument("--job-seconds", type=float, default=1.0,
                   help="wall-clock seconds a refresh job takes (default: %(default)s)")
    p.add_argument("--site", default=DEFAULT_SITE)
    p.add_argument("--pat-name", default=DEFAULT_PAT_NAME)
    p.add_argument("--pat-secret", default=DEFAULT_PAT_SECRET)
    p.add_argument("--startup-timeout", type=float, default=120.0)
    p.add_argument("--keep-logs", action="store_true", help="keep server logs and manifests")
    p.add_argument("--verbose", action="store_true", help="print tracebacks of failed checks")
    args = p.parse_args(argv)
    args.flavor = args.flavor or ["server", "cloud"]
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    return drive(args, "trm-tsc-writes-", args.flavor, run_flavor)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
