#!/usr/bin/env python3
"""Tag conformance: `trm tag` tags what the audit flagged, and the official
Tableau Server Client reads the tags back.

For each size this script

  1. starts `<trm> sim serve --size SIZE --manifest PATH` (day 0);
  2. extracts with `trm extract`, moves the site's clock 90 days
     (`POST /sim/clock?advance=90`), extracts again and runs `trm audit`,
     so the audit's unused dashboards are the manifest's planted ones;
  3. runs `trm tag add --findings unused_dashboard --tag TAG --batch-size B`
     and checks the simulator's write log (`GET /sim/calls`): exactly
     ceil(n / B) calls, each `PUT /tags:batchCreate`, all answered 200;
  4. signs in with TSC and reads every view back (`server.views`, paged):
     the views carrying TAG are exactly the planted unused dashboards;
  5. runs the same `trm tag add` again: 0 write calls;
  6. runs `trm tag remove ...`: ceil(n / B) `PUT /tags:batchDelete`, and TSC
     then finds the tag on no view.

Raw HTTP is used only for the simulator's own `/sim/...` endpoints. Every
check prints one PASS/FAIL line; the last line is exactly `N passed, M failed`
and the exit status is non-zero if anything failed.

Usage (TSC must be installed, see requirements.txt next to this file):

    python3 -m venv ~/.cache/trm-venv
    ~/.cache/trm-venv/bin/pip install -r tests/conformance/requirements.txt
    ~/.cache/trm-venv/bin/python tests/conformance/tsc_tags.py --trm target/debug/trm
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tsc_conformance import (  # noqa: E402
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

TAG = "tsc-unused-review"


def sim_json(sim: SimServer, method: str, path: str) -> dict:
    req = urllib.request.Request(f"{sim.base_url}{path}", method=method)
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = resp.read()
    return json.loads(body) if body else {}


def calls(sim: SimServer) -> list[dict]:
    return sim_json(sim, "GET", "/sim/calls").get("calls", [])


def clear_calls(sim: SimServer) -> None:
    sim_json(sim, "DELETE", "/sim/calls")


class TagConformance:
    def __init__(self, sim: SimServer, size: str, checks: Checks, args: argparse.Namespace, workdir: str) -> None:
        self.sim = sim
        self.size = size
        self.c = checks
        self.args = args
        self.db = os.path.join(workdir, f"trm-{size}.duckdb")
        self.env = dict(os.environ, TABLEAU_TOKEN_NAME=args.pat_name, TABLEAU_TOKEN_SECRET=args.pat_secret)

    def trm(self, name: str, *argv: str) -> str | None:
        cmd = [self.args.trm, *argv]
        proc = subprocess.run(cmd, env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            self.c.fail(name, f"exit {proc.returncode}: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
            return None
        self.c.ok(name, True)
        return proc.stdout

    def site_args(self) -> list[str]:
        return ["--server", self.sim.base_url, "--site", self.args.site, "--db", self.db]

    def extract(self, name: str) -> bool:
        return self.trm(name, "extract", "--server", self.sim.base_url, "--site", self.args.site,
                        "--db", self.db, "--no-parquet") is not None

    def sign_in(self) -> TSC.Server:
        srv = new_server(self.sim.base_url, use_server_version=True)
        srv.auth.sign_in(TSC.PersonalAccessTokenAuth(self.args.pat_name, self.args.pat_secret, site_id=self.args.site))
        return srv

    def tagged_views(self, srv: TSC.Server) -> set[str]:
        opts = page_options(1000)
        views = drain(TSC.Pager(srv.views, opts), 10_000_000)
        return {v.id for v in views if TAG in (v.tags or set())}

    def run(self) -> None:
        if not self.extract("trm extract (day 0)"):
            return
        sim_json(self.sim, "POST", "/sim/clock?advance=90")
        if not self.extract("trm extract (day 90)"):
            return
        if self.trm("trm audit", "audit", "--db", self.db, "--no-parquet") is None:
            return
        # The manifest file was written at day 0; the site's own is current.
        manifest = sim_json(self.sim, "GET", "/sim/manifest")
        planted = {u["id"] for u in manifest["planted"]["unused_dashboards"]}
        n = len(planted)
        batch = self.args.batch_size
        self.c.ok("the site plants unused dashboards", n > 0, f"{n}")

        tag_args = ["--findings", "unused_dashboard", "--tag", TAG, "--batch-size", str(batch), *self.site_args()]
        clear_calls(self.sim)
        if self.trm("trm tag add --findings unused_dashboard", "tag", "add", *tag_args) is None:
            return
        log = calls(self.sim)
        self.c.eq(f"calls: ceil({n} / {batch})", math.ceil(n / batch), len(log))
        self.c.ok("every call is PUT /tags:batchCreate answered 200",
                  all(x["method"] == "PUT" and x["path"] == "/tags:batchCreate" and x["status"] == 200 for x in log),
                  f"{log[:3]}")

        srv = self.sign_in()
        self.c.eq("TSC: the views tagged are the planted unused dashboards", planted, self.tagged_views(srv))
        some = sorted(planted)[0]
        self.c.ok("TSC: views.get_by_id shows the tag", TAG in srv.views.get_by_id(some).tags, some)

        clear_calls(self.sim)
        if self.trm("trm tag add again", "tag", "add", *tag_args) is None:
            return
        self.c.eq("a rerun makes 0 calls", 0, len(calls(self.sim)))

        clear_calls(self.sim)
        if self.trm("trm tag remove --findings unused_dashboard", "tag", "remove", *tag_args) is None:
            return
        log = calls(self.sim)
        self.c.eq(f"remove calls: ceil({n} / {batch})", math.ceil(n / batch), len(log))
        self.c.ok("every call is PUT /tags:batchDelete",
                  all(x["method"] == "PUT" and x["path"] == "/tags:batchDelete" for x in log), f"{log[:3]}")
        # A personal access token holds one session: trm's sign-ins ended TSC's.
        srv = self.sign_in()
        self.c.eq("TSC: no view has the tag any more", set(), self.tagged_views(srv))
        srv.auth.sign_out()


def run_size(args: argparse.Namespace, size: str, checks: Checks, workdir: str) -> None:
    checks.scope = size
    started = time.monotonic()
    sim: SimServer | None = None
    try:
        sim = SimServer(args.trm, size, args.seed, workdir, args.startup_timeout, [])
        checks.info(f"starting: {' '.join(sim.command())}")
        with sim:
            checks.ok("server starts", True, f"{sim.base_url} after {sim.startup_seconds:.1f}s")
            TagConformance(sim, size, checks, args, workdir).run()
    except Exception as exc:  # noqa: BLE001
        checks.error("tag conformance", exc)
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
    p.add_argument("--batch-size", type=int, default=2, help="trm tag --batch-size (default: %(default)s)")
    p.add_argument("--site", default=DEFAULT_SITE)
    p.add_argument("--pat-name", default=DEFAULT_PAT_NAME)
    p.add_argument("--pat-secret", default=DEFAULT_PAT_SECRET)
    p.add_argument("--startup-timeout", type=float, default=120.0)
    p.add_argument("--keep-logs", action="store_true", help="keep server logs and manifests")
    p.add_argument("--verbose", action="store_true", help="print tracebacks of failed checks")
    args = p.parse_args(argv)
    args.size = args.size or ["small"]
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    return drive(args, "trm-tsc-tags-", args.size, run_size)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
