#!/usr/bin/env python3
"""Promotion conformance: `trm promote-content` copies the dev site's
`HR Dashboards` to the prod site, and the official Tableau Server Client
reads the result from prod.

This script

  1. starts `<trm> sim serve --env dev` and `<trm> sim serve --env prod`;
  2. writes a settings file with the two profiles and a mapping file that
     moves the HR postgres server from dev to prod;
  3. runs `trm promote-content --source dev --target prod --project
     "HR Dashboards" --mapping ... --overwrite --chunk-threshold 20000`:
     exit 0, the lineage check passed; prod's write log (`GET /sim/calls`)
     shows 1 datasource and 3 workbook publishes and a chunked upload
     (`POST /fileUploads`, then `PUT /fileUploads/{id}` per piece);
  4. signs in to both sites with TSC: prod's `HR Dashboards` holds the same
     workbooks and datasource as dev's, with the same tags; TSC downloads
     each promoted workbook from prod and finds, in its `.twb` (inside the
     `.twbx` for the packaged one), the prod database server and no dev
     server, and its published-datasource reference pointing at prod;
  5. runs the same command again: 0 writes on prod.

Raw HTTP is used only for the simulator's own `/sim/...` endpoints. Every
check prints one PASS/FAIL line; the last line is exactly `N passed, M failed`
and the exit status is non-zero if anything failed.

Usage (TSC must be installed, see requirements.txt next to this file):

    python3 -m venv ~/.cache/trm-venv
    ~/.cache/trm-venv/bin/pip install -r tests/conformance/requirements.txt
    ~/.cache/trm-venv/bin/python tests/conformance/tsc_promote.py --trm target/debug/trm
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
import zipfile

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

PROJECT = "HR Dashboards"
DEV_DB = "hr-db.dev.example.com"
PROD_DB = "hr-db.prod.example.com"
PASSWORD_VAR = "TRM_TSC_HR_PASSWORD"


def sim_json(sim: SimServer, method: str, path: str) -> dict:
    req = urllib.request.Request(f"{sim.base_url}{path}", method=method)
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = resp.read()
    return json.loads(body) if body else {}


def calls(sim: SimServer) -> list[dict]:
    return sim_json(sim, "GET", "/sim/calls").get("calls", [])


def document_xml(path: str) -> str:
    """The .twb text of a downloaded .twb or .twbx."""
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            name = next(n for n in z.namelist() if n.endswith(".twb") and "/" not in n)
            return z.read(name).decode("utf-8")
    return data.decode("utf-8")


class Promotion:
    def __init__(self, dev: SimServer, prod: SimServer, checks: Checks, args: argparse.Namespace, workdir: str) -> None:
        self.dev, self.prod, self.c, self.args, self.workdir = dev, prod, checks, args, workdir
        self.config = os.path.join(workdir, "tableau.yaml")
        self.mapping = os.path.join(workdir, "promote.yaml")
        with open(self.config, "w") as fh:
            fh.write(
                "profiles:\n"
                f"  dev:\n    server: {dev.base_url}\n    site: {args.site}\n    token_name: {args.pat_name}\n"
                f"  prod:\n    server: {prod.base_url}\n    site: {args.site}\n    token_name: {args.pat_name}\n"
            )
        with open(self.mapping, "w") as fh:
            fh.write(
                "connections:\n  - class: postgres\n"
                f"    server: {{from: {DEV_DB}, to: {PROD_DB}}}\n"
                f"    credentials: {{password_env: {PASSWORD_VAR}}}\n"
            )
        self.env = dict(os.environ, TABLEAU_TOKEN_SECRET=args.pat_secret, **{PASSWORD_VAR: "tsc-conformance-pw"})

    def promote(self, name: str) -> str | None:
        cmd = [self.args.trm, "promote-content", "--source", "dev", "--target", "prod", "--project", PROJECT,
               "--mapping", self.mapping, "--overwrite", "--chunk-threshold", "20000",
               "--config", self.config, "--db", os.path.join(self.workdir, "trm.duckdb")]
        proc = subprocess.run(cmd, env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            self.c.fail(name, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
            return None
        self.c.ok(name, True)
        return proc.stdout

    def sign_in(self, sim: SimServer) -> TSC.Server:
        srv = new_server(sim.base_url, use_server_version=True)
        srv.auth.sign_in(TSC.PersonalAccessTokenAuth(self.args.pat_name, self.args.pat_secret, site_id=self.args.site))
        return srv

    def items(self, srv: TSC.Server) -> tuple[dict, dict]:
        projects = drain(TSC.Pager(srv.projects, page_options(1000)), 100_000)
        hr = next(p.id for p in projects if p.name == PROJECT and not p.parent_id)
        wbs = {w.name: w for w in drain(TSC.Pager(srv.workbooks, page_options(1000)), 1_000_000) if w.project_id == hr}
        dss = {d.name: d for d in drain(TSC.Pager(srv.datasources, page_options(1000)), 1_000_000) if d.project_id == hr}
        return wbs, dss

    def run(self) -> None:
        sim_json(self.prod, "DELETE", "/sim/calls")
        out = self.promote("trm promote-content")
        if out is None:
            return
        self.c.ok("the lineage check passed", "Lineage check passed" in out, out[-500:])
        log = calls(self.prod)
        publishes = [x for x in log if x["method"] == "POST" and x["path"] in ("/workbooks", "/datasources")]
        self.c.eq("publishes: 1 datasource, 3 workbooks",
                  {"/datasources": 1, "/workbooks": 3},
                  {p: sum(1 for x in publishes if x["path"] == p) for p in ("/datasources", "/workbooks")})
        self.c.ok("every publish answered 201", all(x["status"] == 201 for x in publishes), f"{publishes}")
        opened = [x for x in log if x["method"] == "POST" and x["path"] == "/fileUploads"]
        pieces = [x for x in log if x["method"] == "PUT" and x["path"].startswith("/fileUploads/")]
        self.c.ok("the .twbx went through a chunked upload", len(opened) == 1 and len(pieces) >= 2,
                  f"{len(opened)} upload(s), {len(pieces)} piece(s)")

        dev, prod = self.sign_in(self.dev), self.sign_in(self.prod)
        dev_wbs, dev_dss = self.items(dev)
        prod_wbs, prod_dss = self.items(prod)
        self.c.eq("TSC: the same workbooks", sorted(dev_wbs), sorted(prod_wbs))
        self.c.eq("TSC: the same datasources", sorted(dev_dss), sorted(prod_dss))
        self.c.eq("TSC: the same tags",
                  {n: sorted(w.tags) for n, w in dev_wbs.items()} | {n: sorted(d.tags) for n, d in dev_dss.items()},
                  {n: sorted(w.tags) for n, w in prod_wbs.items()} | {n: sorted(d.tags) for n, d in prod_dss.items()})
        prod_port = self.prod.base_url.rsplit(":", 1)[1]
        for name, wb in sorted(prod_wbs.items()):
            path = prod.workbooks.download(wb.id, filepath=os.path.join(self.workdir, f"wb-{wb.id}"))
            root = ET.fromstring(document_xml(path))
            conns = list(root.iter("connection"))
            servers = {c.get("server") for c in conns if c.get("server")}
            self.c.ok(f"TSC download {name}: no dev server", not any(".dev." in s for s in servers), f"{servers}")
            proxies = [c for c in conns if c.get("class") == "sqlproxy"]
            self.c.ok(f"TSC download {name}: reads the published datasource on prod",
                      bool(proxies) and all(c.get("port") == prod_port and c.get("server") == "127.0.0.1" for c in proxies),
                      f"{[(c.get('server'), c.get('port')) for c in proxies]}")
            if any(c.get("class") == "postgres" for c in conns):
                self.c.ok(f"TSC download {name}: the remapped server is in its .twb", PROD_DB in servers, f"{servers}")
        self.c.ok("TSC: one promoted workbook connects to the prod database itself",
                  any(PROD_DB in document_xml(os.path.join(self.workdir, f))
                      for f in os.listdir(self.workdir) if f.startswith("wb-")), "")
        ds = next(iter(prod_dss.values()))
        prod.datasources.populate_connections(ds)
        self.c.eq("TSC: the promoted datasource's connection is on the prod server",
                  [PROD_DB], sorted({c.server_address for c in ds.connections}))

        sim_json(self.prod, "DELETE", "/sim/calls")
        if self.promote("trm promote-content again") is None:
            return
        self.c.eq("a rerun writes nothing", 0, len(calls(self.prod)))


def run_one(args: argparse.Namespace, _item: str, checks: Checks, workdir: str) -> None:
    started = time.monotonic()
    sims: list[SimServer] = []
    try:
        for env in ("dev", "prod"):
            d = os.path.join(workdir, env)
            os.makedirs(d, exist_ok=True)
            sims.append(SimServer(args.trm, "small", args.seed, d, args.startup_timeout, ["--env", env]))
        with sims[0], sims[1]:
            checks.ok("servers start", True, f"{sims[0].base_url}, {sims[1].base_url}")
            Promotion(sims[0], sims[1], checks, args, workdir).run()
    except Exception as exc:  # noqa: BLE001
        checks.error("promotion conformance", exc)
        for s in sims:
            print(f"     last lines of {s.log_path}:\n{s.log_tail()}", flush=True)
    finally:
        checks.info(f"took {time.monotonic() - started:.1f}s")


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
    return drive(args, "trm-tsc-promote-", ["dev-to-prod"], run_one)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
