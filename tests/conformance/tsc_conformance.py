#!/usr/bin/env python3
"""Conformance test: drive `trm sim serve` with the official Tableau Server Client.

The simulated Tableau Server shipped by TRM must be usable by the unmodified
`tableauserverclient` (TSC) package from PyPI.  For each requested size this
script:

  1. starts `<trm> sim serve --addr 127.0.0.1:PORT --size SIZE --seed N
     --manifest PATH`, waits for `GET /api/3.27/serverinfo` to answer and reads
     the manifest the simulator wrote;
  2. signs in with a personal access token through TSC (first the way most TSC
     users do it, `use_server_version=True`, which starts out on REST 2.4);
  3. pages with `TSC.Pager` through projects (page size 7 *and* 1000),
     workbooks, views with usage statistics, data sources, users, groups (and
     each group's users), background jobs, extract-refresh tasks and schedules;
  4. fetches permissions of every project, workbook, view and data source and
     the default workbook/data-source permissions of every project;
  5. compares everything with the manifest, checks id uniqueness and a few
     cross-references, checks TSC's error handling (bad PAT, 404, revoked
     token) and signs out;
  6. stops the server (always, also on failure).

Every check prints one line (PASS/FAIL, plus SKIP/INFO lines that are not
counted); the last line is exactly `N passed, M failed`.  The exit status is
non-zero if anything failed.  Every check can fail: a manifest key a check
needs that is missing (or not a number) fails that check rather than
dropping it, and a check is skipped only when an earlier, failed check left
it nothing to look at.

Usage (TSC must be installed, see requirements.txt next to this file):

    python3 -m venv ~/.cache/trm-venv
    ~/.cache/trm-venv/bin/pip install -r tests/conformance/requirements.txt
    ~/.cache/trm-venv/bin/python tests/conformance/tsc_conformance.py \\
        --trm target/debug/trm --size small [--size medium] [--seed 42]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable

try:
    import tableauserverclient as TSC
    from tableauserverclient.server.endpoint.exceptions import (
        FailedSignInError,
        ServerResponseError,
    )
except ImportError:  # pragma: no cover - environment problem, not a test failure
    sys.stderr.write(
        "tableauserverclient is not installed for this interpreter.\n"
        "  python3 -m venv ~/.cache/trm-venv && ~/.cache/trm-venv/bin/pip install "
        "-r tests/conformance/requirements.txt\n"
        "then run this script with ~/.cache/trm-venv/bin/python\n"
    )
    sys.exit(2)

DEFAULT_SITE = "analytics"
DEFAULT_PAT_NAME = "trm-sim"
DEFAULT_PAT_SECRET = "trm-sim-secret"
LATEST_REST_VERSION = "3.27"
BIG_PAGE = 1000
SMALL_PAGE = 7
HTTP_TIMEOUT_S = 60
NIL_UUID = "00000000-0000-0000-0000-000000000000"

# Kinds of permission owners in manifest["counts"]["permissions"].
PERMISSION_KINDS = (
    "projects",
    "workbooks",
    "views",
    "datasources",
    "project_default_workbooks",
    "project_default_datasources",
)


# --------------------------------------------------------------------------
# Check collector
# --------------------------------------------------------------------------


def describe_exception(exc: BaseException) -> str:
    """One-line description of an exception, including TSC's error code."""
    text = " ".join(str(exc).split())
    code = getattr(exc, "code", None)
    name = type(exc).__name__
    if code and str(code) not in text:
        return f"{name}(code={code}): {text}"
    return f"{name}: {text}" if text else name


class Checks:
    """Collects check results and prints one line per check."""

    def __init__(self, verbose: bool = False) -> None:
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.scope = ""
        self.verbose = verbose

    def _emit(self, status: str, name: str, detail: str = "") -> None:
        scope = f"[{self.scope}] " if self.scope else ""
        line = f"{status:<4} {scope}{name}"
        if detail:
            line += f": {detail}"
        print(line, flush=True)

    def ok(self, name: str, condition: bool, detail: str = "") -> bool:
        if condition:
            self.passed += 1
            self._emit("PASS", name, detail)
        else:
            self.failed += 1
            self._emit("FAIL", name, detail)
        return bool(condition)

    def eq(self, name: str, expected: Any, actual: Any) -> bool:
        if expected == actual:
            return self.ok(name, True, f"{actual!r}")
        return self.ok(name, False, f"expected {expected!r}, got {actual!r}")

    def fail(self, name: str, detail: str) -> None:
        self.ok(name, False, detail)

    def error(self, name: str, exc: BaseException) -> None:
        self.fail(name, f"raised {describe_exception(exc)}")
        if self.verbose:
            traceback.print_exception(exc, file=sys.stdout)

    def skip(self, name: str, reason: str) -> None:
        self.skipped += 1
        self._emit("SKIP", name, reason)

    def info(self, message: str) -> None:
        self._emit("INFO", message)

    @contextlib.contextmanager
    def guard(self, name: str):
        """Record any exception raised inside the block as a failed check."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - every error is a test failure
            self.error(name, exc)


def id_problems(ids: list[Any]) -> str:
    """Empty string if ids are all present and unique, else a description."""
    missing = sum(1 for i in ids if not i)
    dupes = [i for i, n in Counter(i for i in ids if i).items() if n > 1]
    problems = []
    if missing:
        problems.append(f"{missing} without id")
    if dupes:
        problems.append(f"{len(dupes)} duplicated (e.g. {dupes[:3]})")
    return "; ".join(problems)


def preview(values: Iterable[Any], limit: int = 3) -> str:
    values = list(values)
    head = ", ".join(repr(v) for v in values[:limit])
    more = f" (+{len(values) - limit} more)" if len(values) > limit else ""
    return f"[{head}]{more}"


# --------------------------------------------------------------------------
# The simulated server process
# --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SimServer:
    """Runs `trm sim serve` for one size; always stopped by __exit__."""

    def __init__(self, trm: str, size: str, seed: int, workdir: str, startup_timeout: float,
                 extra_args: list[str]) -> None:
        self.trm = trm
        self.size = size
        self.seed = seed
        self.workdir = workdir
        self.startup_timeout = startup_timeout
        self.extra_args = extra_args
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.manifest_path = os.path.join(workdir, f"manifest-{size}.json")
        self.log_path = os.path.join(workdir, f"server-{size}.log")
        self.proc: subprocess.Popen | None = None
        self._log = None
        self.startup_seconds = 0.0

    def command(self) -> list[str]:
        return [
            self.trm, "sim", "serve",
            "--addr", f"127.0.0.1:{self.port}",
            "--size", self.size,
            "--seed", str(self.seed),
            "--manifest", self.manifest_path,
            *self.extra_args,
        ]

    def log_tail(self, lines: int = 25) -> str:
        try:
            with open(self.log_path, "r", errors="replace") as fh:
                tail = fh.readlines()[-lines:]
        except OSError:
            return "(no server log)"
        return "".join("    | " + line for line in tail).rstrip() or "(server log empty)"

    def __enter__(self) -> "SimServer":
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        started = time.monotonic()
        deadline = started + self.startup_timeout
        probe = f"{self.base_url}/api/{LATEST_REST_VERSION}/serverinfo"
        while True:
            assert self.proc is not None
            code = self.proc.poll()
            if code is not None:
                raise RuntimeError(f"server exited with status {code} before answering {probe}")
            try:
                with urllib.request.urlopen(probe, timeout=2) as resp:
                    resp.read()
                break
            except urllib.error.HTTPError:
                break  # it answers; whether the answer is right is checked later
            except (urllib.error.URLError, ConnectionError, socket.timeout, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer {probe} within {self.startup_timeout:.0f}s")
            time.sleep(0.25)
        self.startup_seconds = time.monotonic() - started

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __exit__(self, *exc_info) -> None:
        self.stop()


# --------------------------------------------------------------------------
# TSC helpers
# --------------------------------------------------------------------------


def new_server(base_url: str, use_server_version: bool) -> TSC.Server:
    server = TSC.Server(base_url, use_server_version=use_server_version)
    server.add_http_options({"timeout": HTTP_TIMEOUT_S})
    return server


def drain(pager: Iterable[Any], limit: int) -> list[Any]:
    """Materialise a Pager, refusing to loop forever on bad pagination data."""
    items: list[Any] = []
    for item in pager:
        items.append(item)
        if len(items) > limit:
            raise RuntimeError(
                f"Pager yielded more than {limit} items: pagination attributes are probably "
                "inconsistent (pageSize must echo the requested size, totalAvailable the total)"
            )
    return items


def page_options(page_size: int | None) -> TSC.RequestOptions:
    return TSC.RequestOptions(pagesize=page_size) if page_size else TSC.RequestOptions()


class Conformance:
    """All checks against one running simulated server."""

    def __init__(self, sim: SimServer, manifest: dict, checks: Checks, args: argparse.Namespace) -> None:
        self.sim = sim
        self.base_url = sim.base_url
        self.manifest = manifest
        self.counts: dict = manifest.get("counts", {}) or {}
        self.c = checks
        self.args = args
        self.server: TSC.Server | None = None
        self.data: dict[str, list[Any]] = {}
        self.group_members: dict[str, list[Any]] = {}

    # ---------------------------------------------------------------- utils

    def auth(self, secret: str | None = None) -> TSC.PersonalAccessTokenAuth:
        return TSC.PersonalAccessTokenAuth(
            self.args.pat_name, secret or self.args.pat_secret, site_id=self.args.site
        )

    def expected(self, key: str) -> int | None:
        value = self.counts.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def limit_for(self, key: str) -> int:
        exp = self.expected(key)
        return 2 * exp + 1000 if exp is not None else 10_000_000

    def check_count(self, label: str, key: str, actual: int) -> None:
        exp = self.expected(key)
        if exp is None:
            self.c.fail(f"{label} count", f"manifest has no integer counts.{key}; fetched {actual}")
        else:
            self.c.eq(f"{label} count (manifest counts.{key})", exp, actual)

    def check_ids(self, label: str, items: list[Any]) -> None:
        problems = id_problems([getattr(i, "id", None) for i in items])
        self.c.ok(f"{label} ids present and unique", not problems,
                  problems or f"{len(items)} distinct ids")

    def fetch(self, key: str, label: str, pager_factory: Callable[[], Iterable[Any]]) -> list[Any] | None:
        started = time.monotonic()
        try:
            items = drain(pager_factory(), self.limit_for(key))
        except Exception as exc:  # noqa: BLE001
            self.c.error(f"fetch {label} via TSC.Pager", exc)
            return None
        self.c.info(f"fetched {len(items)} {label} in {time.monotonic() - started:.2f}s")
        self.data[key] = items
        return items

    # ------------------------------------------------------------ phases

    def run(self) -> None:
        self.check_manifest()
        self.check_server_info()
        if not self.sign_in():
            return
        try:
            self.fetch_everything()
            self.check_counts_and_ids()
            self.check_views()
            self.check_cross_references()
            self.check_planted()
            self.check_permissions()
            self.check_errors()
        finally:
            self.sign_out()

    def check_manifest(self) -> None:
        m = self.manifest
        self.c.eq("manifest size", self.sim.size, m.get("size"))
        self.c.eq("manifest seed", self.sim.seed, m.get("seed"))
        site = m.get("site") or {}
        self.c.eq("manifest site.content_url", self.args.site, site.get("content_url"))
        missing = [k for k in ("projects", "workbooks", "views", "datasources", "users", "groups",
                               "group_memberships", "schedules", "extract_refresh_tasks", "jobs",
                               "total_view_count", "permissions") if k not in self.counts]
        self.c.ok("manifest has all counts", not missing, f"missing {missing}" if missing else "")

    def check_server_info(self) -> None:
        # What the startup probe and most tools hit (lower-case, per Tableau docs).
        url = f"{self.base_url}/api/{LATEST_REST_VERSION}/serverinfo"
        with self.c.guard(f"GET {url}"):
            with urllib.request.urlopen(url, timeout=10) as resp:
                self.c.eq("GET /api/3.27/serverinfo status", 200, resp.status)
        # What TSC itself calls: camel-case serverInfo under the client's current version.
        for version in (LATEST_REST_VERSION, "2.4"):
            with self.c.guard(f"TSC server_info.get() at /api/{version}/serverInfo"):
                srv = new_server(self.base_url, use_server_version=False)
                srv.version = version
                info = srv.server_info.get()
                if info is None:
                    self.c.fail(f"TSC server_info.get() at /api/{version}/serverInfo",
                                "unparseable: need <serverInfo><productVersion build=..>X</productVersion>"
                                "<restApiVersion>3.27</restApiVersion>")
                    continue
                self.c.eq(f"TSC server_info.get() at /api/{version}/serverInfo restApiVersion",
                          LATEST_REST_VERSION, info.rest_api_version)
                self.c.ok(f"serverInfo productVersion present (/api/{version})", bool(info.product_version),
                          f"product={info.product_version!r} build={info.build_number!r}")

    def sign_in(self) -> bool:
        # The way TSC's docs do it: use_server_version=True.  TSC 0.42 signs in at
        # /api/2.4/auth/signin, then GETs /api/2.4/serverInfo and switches to
        # the advertised restApiVersion.
        name = "sign in with PAT, TSC.Server(use_server_version=True)"
        try:
            srv = new_server(self.base_url, use_server_version=True)
            srv.auth.sign_in(self.auth())
            self.c.ok(name, True, f"site_id={srv.site_id} user_id={srv.user_id}")
            if self.c.eq("REST version negotiated by use_server_version", LATEST_REST_VERSION, srv.version):
                self.server = srv
            else:
                with contextlib.suppress(Exception):
                    srv.auth.sign_out()
        except Exception as exc:  # noqa: BLE001
            self.c.fail(name, f"raised {describe_exception(exc)} (TSC signs in at /api/2.4/auth/signin and "
                              "then GETs /api/2.4/serverInfo; both must be served)")

        if self.server is None:
            name = f"sign in with PAT, version pinned to {LATEST_REST_VERSION} (fallback)"
            try:
                srv = new_server(self.base_url, use_server_version=False)
                srv.version = LATEST_REST_VERSION
                srv.auth.sign_in(self.auth())
                self.c.ok(name, True, f"site_id={srv.site_id} user_id={srv.user_id}")
                self.server = srv
            except Exception as exc:  # noqa: BLE001
                self.c.error(name, exc)
                return False

        site = self.manifest.get("site") or {}
        self.c.ok("manifest site.id present", bool(site.get("id")), f"{site.get('id')!r}")
        self.c.eq("signed-in site id == manifest site.id", site.get("id"), self.server.site_id)
        self.c.eq("signed-in site contentUrl", self.args.site, self.server.site_url)
        self.c.ok("signed-in user id present", bool(self.server._user_id), f"{self.server._user_id!r}")
        # One site per simulated server: the one signed in to.
        self.check_count("sites", "sites", 1)
        return True

    def fetch_everything(self) -> None:
        srv = self.server
        assert srv is not None

        # Projects twice: small pages (multi-page paging) and big pages; both must agree.
        small = self.fetch("projects", f"projects (pageSize={SMALL_PAGE})",
                           lambda: TSC.Pager(srv.projects, page_options(SMALL_PAGE)))
        self.data.pop("projects", None)
        big = self.fetch("projects", f"projects (pageSize={BIG_PAGE})",
                         lambda: TSC.Pager(srv.projects, page_options(BIG_PAGE)))
        if small is not None and big is not None:
            a, b = [p.id for p in small], [p.id for p in big]
            self.c.ok(f"projects: pageSize={SMALL_PAGE} and pageSize={BIG_PAGE} give the same ids",
                      sorted(a) == sorted(b), f"{len(a)} vs {len(b)} items; "
                      f"only-small={preview(set(a) - set(b))} only-big={preview(set(b) - set(a))}; "
                      f"small-page problems: {id_problems(a) or 'none'}")
        if big is None and small is not None:
            self.data["projects"] = small
        with self.c.guard("projects first page pagination"):
            items, pagination = srv.projects.get(page_options(SMALL_PAGE))
            exp = self.expected("projects")
            self.c.eq("projects first page <pagination pageNumber>", 1, pagination.page_number)
            self.c.eq("projects first page <pagination pageSize> echoes request", SMALL_PAGE,
                      pagination.page_size)
            if exp is None:
                self.c.fail("projects <pagination totalAvailable>", "manifest has no integer counts.projects")
            else:
                self.c.eq("projects <pagination totalAvailable>", exp, pagination.total_available)
                self.c.eq("projects first page item count", min(SMALL_PAGE, exp), len(items))

        self.fetch("workbooks", "workbooks", lambda: TSC.Pager(srv.workbooks, page_options(BIG_PAGE)))
        self.fetch("views", "views (includeUsageStatistics=true)",
                   lambda: TSC.Pager(srv.views, page_options(BIG_PAGE), usage=True))
        self.fetch("datasources", "datasources", lambda: TSC.Pager(srv.datasources, page_options(BIG_PAGE)))
        self.fetch("users", "users", lambda: TSC.Pager(srv.users, page_options(BIG_PAGE)))
        groups = self.fetch("groups", "groups", lambda: TSC.Pager(srv.groups, page_options(BIG_PAGE)))
        if groups is not None:
            started = time.monotonic()
            failures: list[str] = []
            for group in groups:
                try:
                    srv.groups.populate_users(group)  # lazily paged (default page size 100)
                    self.group_members[group.id] = drain(group.users, self.limit_for("group_memberships"))
                except Exception as exc:  # noqa: BLE001
                    failures.append(f"group {group.name!r} ({group.id}): {describe_exception(exc)}")
            self.c.ok("groups.populate_users for every group", not failures,
                      f"{len(failures)} failed, first: {failures[0]}" if failures
                      else f"{len(groups)} groups in {time.monotonic() - started:.2f}s")
        self.fetch("jobs", "background jobs", lambda: TSC.Pager(srv.jobs, page_options(BIG_PAGE)))
        with self.c.guard("tasks.get() (extractRefreshes) parses"):
            tasks, pagination = srv.tasks.get()
            self.c.info(f"tasks.get(): {len(tasks)} tasks, <pagination> "
                        + ("absent (TSC Pager then returns one page)" if pagination.total_available is None
                           else f"pageNumber={pagination.page_number} pageSize={pagination.page_size} "
                                f"totalAvailable={pagination.total_available}"))
        self.fetch("extract_refresh_tasks", "extract refresh tasks", lambda: TSC.Pager(srv.tasks))
        self.fetch("schedules", "schedules", lambda: TSC.Pager(srv.schedules))

    def check_counts_and_ids(self) -> None:
        labels = {
            "projects": "projects", "workbooks": "workbooks", "views": "views",
            "datasources": "datasources", "users": "users", "groups": "groups", "jobs": "jobs",
            "extract_refresh_tasks": "extract refresh tasks", "schedules": "schedules",
        }
        for key, label in labels.items():
            items = self.data.get(key)
            if items is None:
                self.c.skip(f"{label} count and ids", "fetch failed")
                continue
            self.check_count(label, key, len(items))
            self.check_ids(label, items)

        groups = self.data.get("groups")
        if groups is not None and len(self.group_members) == len(groups):
            total = sum(len(m) for m in self.group_members.values())
            self.check_count("group memberships (sum of group users)", "group_memberships", total)
            dup_groups = [gid for gid, members in self.group_members.items()
                          if id_problems([u.id for u in members])]
            self.c.ok("group member ids present and unique within each group", not dup_groups,
                      f"bad groups: {preview(dup_groups)}" if dup_groups else "")
        else:
            self.c.skip("group memberships count", "groups or their users could not be fetched")

        jobs = self.data.get("jobs")
        if jobs is None:
            self.c.skip("failed jobs count", "jobs could not be fetched")
        else:
            statuses = Counter(j.status for j in jobs)
            self.c.info(f"job status distribution: {dict(statuses)}")
            self.check_count("failed jobs (backgroundJob status=Failed)", "failed_jobs", statuses.get("Failed", 0))
        workbooks = self.data.get("workbooks")
        if workbooks is None:
            self.c.skip("workbook tags count", "workbooks could not be fetched")
        else:
            self.check_count("workbook tags (sum of <tags><tag label> per workbook)", "workbook_tags",
                             sum(len(w.tags or ()) for w in workbooks))

    def check_views(self) -> None:
        views = self.data.get("views")
        if views is None:
            self.c.skip("view checks", "views could not be fetched")
            return
        types = Counter(v.sheet_type for v in views)
        self.c.info(f"view sheetType distribution: {dict(types)}")
        self.c.ok("views carry sheetType", None not in types,
                  f"{types[None]} views without a sheetType attribute" if None in types else f"{len(views)} views")
        self.check_count("dashboards (views with sheetType=dashboard)", "dashboards", types.get("dashboard", 0))
        self.check_count("sheets (views with sheetType=worksheet)", "sheets", types.get("worksheet", 0))
        self.check_count("stories (views with sheetType=story)", "stories", types.get("story", 0))

        missing_usage, total = [], 0
        for view in views:
            try:
                total += view.total_views
            except Exception:  # UnpopulatedPropertyError: no <usage totalViewCount>
                missing_usage.append(view.id)
        self.c.ok("every view has <usage totalViewCount>", not missing_usage,
                  f"{len(missing_usage)} views without usage, e.g. {preview(missing_usage)}"
                  if missing_usage else f"{len(views)} views")
        self.check_count("total view count (sum of usage totalViewCount)", "total_view_count", total)

    def check_cross_references(self) -> None:
        def ids(key: str) -> set[str] | None:
            items = self.data.get(key)
            return None if items is None else {i.id for i in items}

        def ref_check(name: str, items_key: str, target_key: str, get_ref: Callable[[Any], Any],
                      optional: bool = False) -> None:
            items, targets = self.data.get(items_key), ids(target_key)
            if items is None or targets is None:
                self.c.skip(name, f"{items_key} or {target_key} could not be fetched")
                return
            refs = [(i.id, get_ref(i)) for i in items]
            if optional:
                refs = [(i, r) for i, r in refs if r]
            bad = [(i, r) for i, r in refs if r not in targets]
            self.c.ok(name, not bad, f"{len(bad)} of {len(refs)} dangling, e.g. {preview(bad)}"
                      if bad else f"{len(refs)} references")

        ref_check("every workbook's project id is a fetched project", "workbooks", "projects",
                  lambda w: w.project_id)
        ref_check("every workbook's owner id is a fetched user", "workbooks", "users", lambda w: w.owner_id)
        ref_check("every view's workbook id is a fetched workbook", "views", "workbooks", lambda v: v.workbook_id)
        ref_check("every datasource's project id is a fetched project", "datasources", "projects",
                  lambda d: d.project_id)
        ref_check("every datasource's owner id is a fetched user", "datasources", "users", lambda d: d.owner_id)
        ref_check("every parentProjectId is a fetched project", "projects", "projects",
                  lambda p: p.parent_id, optional=True)
        ref_check("every task's schedule id is a fetched schedule", "extract_refresh_tasks", "schedules",
                  lambda t: t.schedule_id, optional=True)

        tasks = self.data.get("extract_refresh_tasks")
        wb_ids, ds_ids = ids("workbooks"), ids("datasources")
        if tasks is not None and wb_ids is not None and ds_ids is not None:
            bad = []
            for t in tasks:
                target = t.target
                if target is None:
                    bad.append((t.id, "no <workbook>/<datasource> target"))
                elif target.id not in (wb_ids if target.type == "workbook" else ds_ids):
                    bad.append((t.id, f"{target.type} {target.id}"))
            self.c.ok("every extract task targets a fetched workbook/datasource", not bad,
                      f"{len(bad)} bad, e.g. {preview(bad)}" if bad else f"{len(tasks)} tasks")

        user_ids = ids("users")
        if user_ids is not None and self.group_members:
            bad = [(gid, u.id) for gid, members in self.group_members.items() for u in members
                   if u.id not in user_ids]
            self.c.ok("every group member is a fetched user", not bad,
                      f"{len(bad)} dangling, e.g. {preview(bad)}" if bad else "")

    def check_planted(self) -> None:
        """Planted facts (ground truth for TRM's detectors) must be visible through TSC."""
        planted = self.manifest.get("planted") or {}
        views = {v.id: v for v in self.data.get("views") or []}
        tasks = {t.id: t for t in self.data.get("extract_refresh_tasks") or []}

        for key, label in (("unused_dashboards", "planted unused dashboards"),
                           ("young_dashboards_without_views", "planted young dashboards without views")):
            entries = planted.get(key)
            if not isinstance(entries, list):
                self.c.fail(label, f"manifest has no list planted.{key}")
                continue
            if not views:
                self.c.skip(label, "no views fetched")
                continue
            bad = []
            for d in entries:
                view = views.get(d.get("id"))
                if view is None:
                    bad.append(f"{d.get('id')} ({d.get('name')!r}): not among fetched views")
                    continue
                if view.workbook_id != d.get("workbook_id"):
                    bad.append(f"{view.id}: workbook {view.workbook_id} != manifest {d.get('workbook_id')}")
                if view.sheet_type != "dashboard":
                    bad.append(f"{view.id}: sheetType {view.sheet_type!r}")
                if view.name != d.get("name"):
                    bad.append(f"{view.id}: name {view.name!r} != manifest {d.get('name')!r}")
                if view._total_views != d.get("total_view_count"):
                    bad.append(f"{view.id}: totalViewCount {view._total_views} != manifest {d.get('total_view_count')}")
            self.c.ok(f"{label} match fetched views (id, workbook, sheetType, name, totalViewCount)", not bad,
                      f"{len(bad)} mismatches: {preview(bad)}" if bad else f"{len(entries)} planted")

        failing = planted.get("broken_extracts")
        if not isinstance(failing, list):
            self.c.fail("planted broken extracts", "manifest has no list planted.broken_extracts")
        elif not tasks:
            self.c.skip("planted broken extracts", "no tasks fetched")
        else:
            bad = []
            for f in failing:
                task = tasks.get(f.get("task_id"))
                if task is None:
                    bad.append(f"{f.get('task_id')}: not among fetched tasks")
                    continue
                target = task.target
                if target is None or (target.type, target.id) != (f.get("target_type"), f.get("target_id")):
                    bad.append(f"{task.id}: target {target} != manifest {f.get('target_type')} {f.get('target_id')}")
                if task.consecutive_failed_count != f.get("consecutive_failed_count"):
                    bad.append(f"{task.id}: consecutiveFailedCount {task.consecutive_failed_count} != manifest "
                               f"{f.get('consecutive_failed_count')} ({', '.join(f.get('reasons', []))})")
            self.c.ok("planted broken extracts match fetched tasks (id, target, consecutiveFailedCount)",
                      not bad, f"{len(bad)} mismatches: {preview(bad)}" if bad else f"{len(failing)} planted")

        transient = planted.get("transient_failures")
        if not isinstance(transient, list):
            self.c.fail("planted transient-failure task ids", "manifest has no list planted.transient_failures")
        elif not tasks:
            self.c.skip("planted transient-failure task ids", "no tasks fetched")
        else:
            absent = [t for t in transient if t not in tasks]
            self.c.ok("planted transient-failure task ids are among fetched tasks", not absent,
                      f"{len(absent)} absent: {preview(absent)}" if absent else f"{len(transient)} planted")

        hostile = planted.get("hostile_names")
        if not isinstance(hostile, list) or not hostile:
            self.c.fail("planted hostile names", "manifest has no non-empty list planted.hostile_names")
        else:
            by_kind = {"project": "projects", "workbook": "workbooks", "view": "views",
                       "datasource": "datasources", "user": "users", "group": "groups"}
            bad, checked = [], 0
            for h in hostile:
                items = self.data.get(by_kind.get(h.get("kind"), ""))
                if items is None:
                    bad.append(f"{h.get('kind')} {h.get('id')}: kind not fetched")
                    continue
                item = next((i for i in items if i.id == h.get("id")), None)
                checked += 1
                if item is None:
                    bad.append(f"{h.get('kind')} {h.get('id')}: not found")
                elif item.name != h.get("name"):
                    bad.append(f"{h.get('kind')} {h.get('id')}: name {item.name!r} != manifest {h.get('name')!r}")
            self.c.ok("planted hostile names round-trip exactly through XML and TSC", not bad,
                      f"{len(bad)} mismatches: {preview(bad)}" if bad else f"{checked} names")

    # ---------------------------------------------------------- permissions

    def permission_jobs(self) -> dict[str, tuple[list[Any], Callable[[Any], list[Any]]]]:
        srv = self.server
        assert srv is not None

        def direct(endpoint):
            def fetch(item):
                endpoint.populate_permissions(item)
                return item.permissions  # the GET happens here (lazy property)
            return fetch

        def project_default_workbooks(project):
            srv.projects.populate_workbook_default_permissions(project)
            return project.default_workbook_permissions

        def project_default_datasources(project):
            srv.projects.populate_datasource_default_permissions(project)
            return project.default_datasource_permissions

        return {
            "projects": (self.data.get("projects"), direct(srv.projects)),
            "workbooks": (self.data.get("workbooks"), direct(srv.workbooks)),
            "views": (self.data.get("views"), direct(srv.views)),
            "datasources": (self.data.get("datasources"), direct(srv.datasources)),
            "project_default_workbooks": (self.data.get("projects"), project_default_workbooks),
            "project_default_datasources": (self.data.get("projects"), project_default_datasources),
        }

    def check_permissions(self) -> None:
        expected_all = self.counts.get("permissions") or {}
        user_ids = {u.id for u in self.data.get("users") or []}
        group_ids = {g.id for g in self.data.get("groups") or []}
        for kind, (items, fetch) in self.permission_jobs().items():
            label = f"permissions of {kind.replace('_', ' ')}"
            if items is None:
                self.c.skip(label, "items could not be fetched")
                continue
            sampled = items
            if self.args.perm_sample and len(items) > self.args.perm_sample:
                step = len(items) / self.args.perm_sample
                sampled = [items[int(i * step)] for i in range(self.args.perm_sample)]

            def one(item):
                try:
                    return item, fetch(item), None
                except Exception as exc:  # noqa: BLE001
                    return item, None, exc

            started = time.monotonic()
            if self.args.workers > 1:
                with ThreadPoolExecutor(max_workers=self.args.workers) as pool:
                    results = list(pool.map(one, sampled))
            else:
                results = [one(item) for item in sampled]
            elapsed = time.monotonic() - started

            errors = [(item, exc) for item, _, exc in results if exc is not None]
            rules = [rule for _, rs, _ in results if rs for rule in rs]
            capabilities = sum(len(rule.capabilities) for rule in rules)
            self.c.info(f"{label}: {len(sampled)} calls in {elapsed:.2f}s "
                        f"({1000 * elapsed / max(1, len(sampled)):.1f} ms/call), "
                        f"{len(rules)} rules, {capabilities} capabilities")
            if errors:
                item, exc = errors[0]
                self.c.fail(f"{label}: every call succeeds",
                            f"{len(errors)} of {len(sampled)} failed, first ({getattr(item, 'name', '')!r} "
                            f"{item.id}): {describe_exception(exc)}")
            else:
                self.c.ok(f"{label}: every call succeeds", True, f"{len(sampled)} calls")

            bad_grantees = [(r.grantee.tag_name, r.grantee.id) for r in rules
                            if not ((r.grantee.tag_name == "user" and r.grantee.id in user_ids)
                                    or (r.grantee.tag_name == "group" and r.grantee.id in group_ids))]
            if user_ids or group_ids:
                self.c.ok(f"{label}: grantees are fetched users/groups", not bad_grantees,
                          f"{len(bad_grantees)} unknown, e.g. {preview(bad_grantees)}" if bad_grantees else "")
            else:
                self.c.skip(f"{label}: grantees are fetched users/groups", "users and groups could not be fetched")
            empty_rules = [r for r in rules if not r.capabilities]
            self.c.ok(f"{label}: every rule has capabilities", not empty_rules,
                      f"{len(empty_rules)} rules without <capability>" if empty_rules else "")

            expected = expected_all.get(kind) or {}
            if sampled is not items:
                self.c.skip(f"{label}: totals", f"sampled {len(sampled)} of {len(items)} (--perm-sample)")
            elif errors:
                self.c.skip(f"{label}: totals", "some calls failed")
            elif not isinstance(expected.get("rules"), int) or not isinstance(expected.get("capabilities"), int):
                self.c.fail(f"{label}: totals", f"manifest counts.permissions.{kind} lacks rules/capabilities")
            else:
                self.c.eq(f"{label}: rule count (<granteeCapabilities>)", expected["rules"], len(rules))
                self.c.eq(f"{label}: capability count (<capability>)", expected["capabilities"], capabilities)

    # ---------------------------------------------------------- error paths

    def check_errors(self) -> None:
        srv = self.server
        assert srv is not None
        name = "404 for unknown workbook id -> ServerResponseError with code 404xxx"
        try:
            srv.workbooks.get_by_id(NIL_UUID)
            self.c.fail(name, "no exception raised")
        except ServerResponseError as exc:
            self.c.ok(name, str(exc.code).startswith("404"),
                      f"code={exc.code!r} summary={exc.summary!r} detail={exc.detail!r}")
        except Exception as exc:  # noqa: BLE001
            self.c.error(name, exc)

        name = "sign in with wrong PAT secret -> FailedSignInError (HTTP 401 + <error code>)"
        try:
            bad = new_server(self.base_url, use_server_version=False)
            bad.version = LATEST_REST_VERSION
            bad.auth.sign_in(self.auth(secret="definitely-not-the-secret"))
            self.c.fail(name, "sign-in succeeded")
        except FailedSignInError as exc:
            self.c.ok(name, bool(exc.code), f"code={exc.code!r} summary={exc.summary!r}")
        except Exception as exc:  # noqa: BLE001
            self.c.error(name, exc)

    def sign_out(self) -> None:
        srv = self.server
        if srv is None:
            return
        site_id, user_id, token = srv._site_id, srv._user_id, srv._auth_token
        # TSC forgets the token whatever the server says; whether the server
        # ended the session is the next check.
        try:
            srv.auth.sign_out()
            self.c.ok("sign out (POST auth/signout answered)", True)
        except Exception as exc:  # noqa: BLE001
            self.c.error("sign out (POST auth/signout answered)", exc)
            return
        name = "token rejected after sign out -> FailedSignInError (401)"
        try:
            stale = new_server(self.base_url, use_server_version=False)
            stale.version = LATEST_REST_VERSION
            stale._set_auth(site_id, user_id, token, self.args.site)
            stale.projects.get(page_options(1))
            self.c.fail(name, "request with the signed-out token succeeded")
        except FailedSignInError as exc:
            self.c.ok(name, True, f"code={exc.code!r}")
        except Exception as exc:  # noqa: BLE001
            self.c.error(name, exc)


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


def run_size(args: argparse.Namespace, size: str, checks: Checks, workdir: str) -> None:
    checks.scope = size
    extra = ["--site", args.site, "--pat-name", args.pat_name, "--pat-secret", args.pat_secret] \
        if args.pass_credentials else []
    started = time.monotonic()
    sim: SimServer | None = None
    try:
        sim = SimServer(args.trm, size, args.seed, workdir, args.startup_timeout, extra)
        checks.info(f"starting: {' '.join(sim.command())}")
        name = "server starts and answers /api/3.27/serverinfo"
        try:
            sim.__enter__()
        except Exception as exc:  # noqa: BLE001
            checks.error(name, exc)
            print(f"     last lines of {sim.log_path}:\n{sim.log_tail()}", flush=True)
            return
        checks.ok(name, True, f"{sim.base_url} after {sim.startup_seconds:.1f}s")
        try:
            try:
                with open(sim.manifest_path) as fh:
                    manifest = json.load(fh)
            except Exception as exc:  # noqa: BLE001
                checks.error(f"read manifest {sim.manifest_path}", exc)
                return
            Conformance(sim, manifest, checks, args).run()
            running = sim.proc is not None and sim.proc.poll() is None
            checks.ok("server still running at the end", running,
                      "" if running else f"exited with {sim.proc.returncode if sim.proc else None}")
            if not running:
                print(sim.log_tail(), flush=True)
        finally:
            sim.stop()
    except Exception as exc:  # noqa: BLE001
        checks.error("server lifecycle", exc)
        if sim is not None:
            print(f"     last lines of {sim.log_path}:\n{sim.log_tail()}", flush=True)
    finally:
        checks.info(f"size {size} took {time.monotonic() - started:.1f}s")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trm", required=True, help="path to the trm binary")
    p.add_argument("--size", action="append", choices=["small", "medium", "large"],
                   help="simulation size; repeat for several (default: small)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--site", default=DEFAULT_SITE, help="site contentUrl (default: %(default)s)")
    p.add_argument("--pat-name", default=DEFAULT_PAT_NAME)
    p.add_argument("--pat-secret", default=DEFAULT_PAT_SECRET)
    p.add_argument("--pass-credentials", action="store_true",
                   help="also pass --site/--pat-name/--pat-secret to `sim serve`")
    p.add_argument("--startup-timeout", type=float, default=120.0, help="seconds (default: %(default)s)")
    p.add_argument("--workers", type=int, default=1,
                   help="parallel TSC threads for permission calls (default: %(default)s)")
    p.add_argument("--perm-sample", type=int, default=0,
                   help="fetch permissions of at most N items per kind (0 = all, the default); "
                        "totals are then not compared with the manifest")
    p.add_argument("--keep-logs", action="store_true", help="keep server logs and manifests")
    p.add_argument("--verbose", action="store_true", help="print tracebacks of failed checks")
    args = p.parse_args(argv)
    args.size = args.size or ["small"]
    return args


def drive(args: argparse.Namespace, prefix: str, runs: Iterable[str], run_one: Callable[..., None]) -> int:
    """Runs `run_one(args, item, checks, workdir)` for each item in a scratch
    directory and prints the totals line; the exit status for `main`.
    Shared by this script and tsc_writes.py."""
    logging.getLogger("TSC").setLevel(logging.CRITICAL)
    checks = Checks(verbose=args.verbose)
    if not (os.path.isfile(args.trm) and os.access(args.trm, os.X_OK)):
        checks.fail("trm binary", f"{args.trm} is not an executable file")
        print(f"{checks.passed} passed, {checks.failed} failed")
        return 1
    checks.info(f"tableauserverclient {TSC.get_versions().get('version')}, python {sys.version.split()[0]}")
    workdir = tempfile.mkdtemp(prefix=prefix)
    try:
        for item in runs:
            run_one(args, item, checks, workdir)
    finally:
        checks.scope = ""
        if args.keep_logs or checks.failed:
            checks.info(f"server logs and manifests kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{checks.passed} passed, {checks.failed} failed", flush=True)
    return 1 if checks.failed else 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    return drive(args, "trm-tsc-conformance-", args.size, run_size)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
