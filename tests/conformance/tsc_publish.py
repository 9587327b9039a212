#!/usr/bin/env python3
"""Publishing conformance: the official Tableau Server Client publishes to and
downloads from `trm sim serve --env dev`, and reads the results back.

The script

  1. starts `<trm> sim serve --addr 127.0.0.1:PORT --size small --seed 42
     --env dev --manifest PATH`;
  2. signs in with a personal access token (`use_server_version=True`);
  3. downloads every HR workbook and the HR Core datasource with TSC
     (`workbooks.download`, `datasources.download`, `include_extract=False`
     too) and checks each file: `.twbx`/`.tdsx` exactly when the item holds an
     extract, the XML's worksheets are the item's views;
  4. publishes a real reference workbook (`SampleWB.twbx` from
     `../shared/reference/documents/server-client-python`) and a reference
     datasource (`World_Indicators.tdsx`) in one request each, then the
     downloaded `Headcount Overview.twb` under a new name through chunked
     upload, forced by lowering TSC's single-request limit
     (`workbooks_endpoint.FILESIZE_LIMIT`) and its chunk size
     (`fileuploads_endpoint.BYTES_PER_MB`), so the file goes up in several
     `PUT fileUploads/{id}` chunks;
  5. reads the published items back with TSC (items, views, connections),
     downloads them and compares the bytes with what was published;
  6. updates a connection (`workbooks.update_connection`), reads it back and
     finds the new server in the downloaded document;
  7. publishes with `Overwrite` (same id, views replaced), with `as_job=True`
     (a `PublishWorkbook` job TSC waits for) and a malformed file (TSC raises
     with Tableau's 400011; nothing is created);
  8. compares the simulator's write log (`GET /sim/calls`) with the calls
     TSC made: the number of `PUT fileUploads` chunks, statuses included.

Raw HTTP is used only for the simulator's own `/sim/...` endpoints. Every
check prints one PASS/FAIL line; the last line is exactly `N passed, M failed`
and the exit status is non-zero if anything failed.

Usage (TSC must be installed, see requirements.txt next to this file):

    ~/.cache/trm-venv/bin/python tests/conformance/tsc_publish.py --trm target/debug/trm
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import tempfile
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
    ServerResponseError,
    SimServer,
    drain,
    drive,
    new_server,
    page_options,
)
from tableauserverclient.server.endpoint import fileuploads_endpoint, workbooks_endpoint  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# Bytes per chunk when a chunked upload is forced: TSC sends
# config.CHUNK_SIZE_MB * fileuploads_endpoint.BYTES_PER_MB bytes per PUT.
CHUNK_BYTES = 1000


def sim_json(sim: SimServer, method: str, path: str) -> dict:
    req = urllib.request.Request(f"{sim.base_url}{path}", method=method)
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = resp.read()
    return json.loads(body) if body else {}


def calls(sim: SimServer) -> list[dict]:
    return sim_json(sim, "GET", "/sim/calls").get("calls", [])


def clear_calls(sim: SimServer) -> None:
    sim_json(sim, "DELETE", "/sim/calls")


def document_xml(data: bytes) -> tuple[ET.Element, list[str]]:
    """The document element of a downloaded file and the package's entries."""
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
            doc = min((n for n in names if n.endswith((".twb", ".tds"))), key=lambda n: n.count("/"))
            return ET.fromstring(z.read(doc)), names
    return ET.fromstring(data), []


def worksheet_names(root: ET.Element) -> list[str]:
    return [w.get("name") for w in root.iter("worksheet")]


def servers(root: ET.Element) -> set[str]:
    return {c.get("server") for c in root.iter("connection") if c.get("server")}


class PublishConformance:
    def __init__(self, sim: SimServer, checks: Checks, args: argparse.Namespace, workdir: str) -> None:
        self.sim = sim
        self.c = checks
        self.args = args
        self.workdir = workdir
        self.srv: TSC.Server | None = None

    def sign_in(self) -> TSC.Server:
        srv = new_server(self.sim.base_url, use_server_version=True)
        srv.auth.sign_in(TSC.PersonalAccessTokenAuth(self.args.pat_name, self.args.pat_secret, site_id=self.args.site))
        return srv

    def download(self, kind: str, item_id: str, include_extract: bool = True) -> bytes:
        endpoint = self.srv.workbooks if kind == "workbook" else self.srv.datasources
        path = endpoint.download(item_id, filepath=self.workdir, include_extract=include_extract)
        with open(path, "rb") as fh:
            data = fh.read()
        self.last_download = os.path.basename(path)
        return data

    def run(self) -> None:
        self.srv = self.sign_in()
        projects = drain(TSC.Pager(self.srv.projects, page_options(1000)), 100_000)
        by_name = {p.name: p for p in projects}
        self.c.ok("dev has HR Dashboards", "HR Dashboards" in by_name)
        hr = by_name["HR Dashboards"]
        workbooks = [w for w in drain(TSC.Pager(self.srv.workbooks, page_options(1000)), 100_000) if w.project_id == hr.id]
        datasources = [d for d in drain(TSC.Pager(self.srv.datasources, page_options(1000)), 100_000) if d.project_id == hr.id]
        self.c.eq("HR workbooks", ["Attrition Analysis", "Compensation Review", "Headcount Overview"], sorted(w.name for w in workbooks))
        self.c.eq("HR datasources", ["HR Core"], [d.name for d in datasources])
        self.check_downloads(workbooks, datasources)
        self.check_reference_publish(hr)
        self.check_chunked(hr, next(w for w in workbooks if w.name == "Headcount Overview"))
        self.check_connection_update()
        self.check_overwrite_job_and_errors(hr)
        self.srv.auth.sign_out()

    def check_downloads(self, workbooks, datasources) -> None:
        for wb in workbooks:
            self.srv.workbooks.populate_views(wb)
            data = self.download("workbook", wb.id)
            root, entries = document_xml(data)
            packaged = self.last_download.endswith(".twbx")
            has_hyper = any(n.endswith(".hyper") for n in entries)
            self.c.eq(f"{wb.name}: packaged iff it holds an extract", packaged, has_hyper)
            self.c.eq(f"{wb.name}: worksheets are the worksheet views", sorted(v.name for v in wb.views if v.sheet_type == "worksheet"), sorted(worksheet_names(root)))
            if packaged:
                lean = self.download("workbook", wb.id, include_extract=False)
                _, lean_entries = document_xml(lean)
                self.c.ok(f"{wb.name}: include_extract=False leaves the extract out", not any(n.endswith(".hyper") for n in lean_entries), str(lean_entries))
            proxies = [c for c in root.iter("connection") if c.get("class") == "sqlproxy"]
            self.c.ok(f"{wb.name}: reads HR Core through sqlproxy", any(c.get("dbname") == datasources[0].content_url for c in proxies))
        ds = datasources[0]
        data = self.download("datasource", ds.id)
        root, _ = document_xml(data)
        self.c.eq("HR Core: document root", "datasource", root.tag)
        self.c.eq("HR Core: database server", {"hr-db.dev.example.com"}, servers(root))

    def check_reference_publish(self, hr) -> None:
        ref = os.path.join(self.args.shared, "reference", "documents", "server-client-python")
        if not os.path.isdir(ref):
            self.c.fail("reference documents", f"{ref} not found (use --shared)")
            return
        clear_calls(self.sim)
        wb_path = os.path.join(ref, "SampleWB.twbx")
        item = TSC.WorkbookItem(hr.id, name="Sample Reference", show_tabs=True)
        item.description = "published by TSC"
        published = self.srv.workbooks.publish(item, wb_path, TSC.Server.PublishMode.CreateNew, skip_connection_check=True)
        with open(wb_path, "rb") as fh:
            original = fh.read()
        root, _ = document_xml(original)
        self.c.eq("reference twbx: views are its sheets and dashboards",
                  sorted(worksheet_names(root) + [d.get("name") for d in root.iter("dashboard")]),
                  sorted(v.name for v in published.views))
        back = self.srv.workbooks.get_by_id(published.id)
        self.c.eq("reference twbx: name, project, showTabs", ("Sample Reference", hr.id, True), (back.name, back.project_id, back.show_tabs))
        self.srv.workbooks.populate_connections(back)
        self.c.ok("reference twbx: connections listed", len(back.connections) >= 1, f"{[(c.connection_type, c.server_address) for c in back.connections]}")
        self.c.ok("reference twbx: downloads byte for byte", self.download("workbook", published.id) == original)
        ds_path = os.path.join(ref, "World_Indicators.tdsx")
        creds = TSC.ConnectionCredentials("reader", "secret", embed=True)
        ds = self.srv.datasources.publish(TSC.DatasourceItem(hr.id, name="World Indicators"), ds_path, TSC.Server.PublishMode.CreateNew, connection_credentials=creds)
        self.srv.datasources.populate_connections(ds)
        self.c.ok("reference tdsx: published with an extract", bool(ds.has_extracts) or ds.datasource_type == "hyper", f"type {ds.datasource_type}")
        self.c.ok("reference tdsx: credentials kept, password not served", all(c.username == "reader" for c in ds.connections) and ds.connections, f"{[(c.username, c.embed_password) for c in ds.connections]}")
        log = calls(self.sim)
        self.c.eq("reference publishes: one POST each, 201", [("POST", "/workbooks", 201), ("POST", "/datasources", 201)],
                  [(c["method"], c["path"], c["status"]) for c in log])

    def check_chunked(self, hr, source) -> None:
        data = self.download("workbook", source.id)
        path = os.path.join(self.workdir, "Headcount Copy.twb")
        with open(path, "wb") as fh:
            fh.write(data)
        saved = (workbooks_endpoint.FILESIZE_LIMIT, fileuploads_endpoint.BYTES_PER_MB)
        mb = TSC.config.config.CHUNK_SIZE_MB if hasattr(TSC, "config") else 50
        try:
            workbooks_endpoint.FILESIZE_LIMIT = 1
            fileuploads_endpoint.BYTES_PER_MB = max(1, CHUNK_BYTES // mb)
            chunk = mb * fileuploads_endpoint.BYTES_PER_MB
            clear_calls(self.sim)
            item = TSC.WorkbookItem(hr.id, name="Headcount Copy")
            published = self.srv.workbooks.publish(item, path, TSC.Server.PublishMode.CreateNew)
        finally:
            workbooks_endpoint.FILESIZE_LIMIT, fileuploads_endpoint.BYTES_PER_MB = saved
        want_chunks = math.ceil(len(data) / chunk)
        log = [(c["method"], c["path"].split("/")[1], c["status"]) for c in calls(self.sim)]
        self.c.ok("chunked: the file needs several chunks", want_chunks >= 3, f"{len(data)} bytes, {chunk} per chunk")
        self.c.eq("chunked: POST fileUploads, a PUT per chunk, then POST workbooks",
                  [("POST", "fileUploads", 201)] + [("PUT", "fileUploads", 200)] * want_chunks + [("POST", "workbooks", 201)], log)
        self.c.ok("chunked: downloads byte for byte", self.download("workbook", published.id) == data)
        self.srv.workbooks.populate_views(published)
        self.c.eq("chunked: views", sorted(v.name for v in source.views), sorted(v.name for v in published.views))
        self.chunked_id = published.id

    def check_connection_update(self) -> None:
        wb = self.srv.workbooks.get_by_id(self.chunked_id)
        self.srv.workbooks.populate_connections(wb)
        proxy = [c for c in wb.connections if c.connection_type == "sqlproxy"]
        self.c.ok("connections: the sqlproxy connection names HR Core", bool(proxy) and proxy[0].datasource_name == "HR Core",
                  f"{[(c.connection_type, c.datasource_name) for c in wb.connections]}")
        ds = [d for d in drain(TSC.Pager(self.srv.datasources, page_options(1000)), 100_000) if d.name == "HR Core"][0]
        self.srv.datasources.populate_connections(ds)
        conn = ds.connections[0]
        conn.server_address = "hr-db.prod.example.com"
        conn.server_port = "5433"
        conn.username = "hr_reader_prod"
        conn.password = "not-logged"
        conn.embed_password = True
        updated = self.srv.datasources.update_connection(ds, conn)
        self.c.eq("update_connection: answer", ("hr-db.prod.example.com", "5433", "hr_reader_prod"), (updated.server_address, updated.server_port, updated.username))
        self.srv.datasources.populate_connections(ds)
        self.c.eq("update_connection: read back", ("hr-db.prod.example.com", "5433"), (ds.connections[0].server_address, ds.connections[0].server_port))
        root, _ = document_xml(self.download("datasource", ds.id))
        self.c.eq("update_connection: the document names the new server", {"hr-db.prod.example.com"}, servers(root))

    def check_overwrite_job_and_errors(self, hr) -> None:
        data = self.download("workbook", self.chunked_id)
        root, _ = document_xml(data)
        first = root.find("worksheets/worksheet")
        root.find("worksheets").remove(first)
        for zone in root.iter("zone"):
            if zone.get("name") == first.get("name"):
                zone.attrib.pop("name")
        path = os.path.join(self.workdir, "Headcount Copy v2.twb")
        ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
        item = TSC.WorkbookItem(hr.id, name="Headcount Copy")
        over = self.srv.workbooks.publish(item, path, TSC.Server.PublishMode.Overwrite)
        self.srv.workbooks.populate_views(over)
        self.c.eq("overwrite: same workbook", self.chunked_id, over.id)
        self.c.ok("overwrite: the removed sheet is gone", first.get("name") not in {v.name for v in over.views}, f"{[v.name for v in over.views]}")
        job = self.srv.workbooks.publish(TSC.WorkbookItem(hr.id, name="Headcount As Job"), path, TSC.Server.PublishMode.CreateNew, as_job=True)
        self.c.eq("as_job: a PublishWorkbook job", "PublishWorkbook", job.type)
        done = self.srv.jobs.wait_for_job(job.id, timeout=30)
        self.c.eq("as_job: the job finishes", "0", str(done.finish_code))
        names = {w.name for w in drain(TSC.Pager(self.srv.workbooks, page_options(1000)), 100_000)}
        self.c.ok("as_job: the workbook exists", "Headcount As Job" in names)
        bad = os.path.join(self.workdir, "Broken.twb")
        with open(bad, "wb") as fh:
            fh.write(b"<?xml version='1.0'?><workbook><datasources><datasource")
        before = len(names)
        try:
            self.srv.workbooks.publish(TSC.WorkbookItem(hr.id, name="Broken"), bad, TSC.Server.PublishMode.CreateNew)
            self.c.fail("malformed: TSC raises", "publish succeeded")
        except ServerResponseError as e:
            self.c.eq("malformed: Tableau's 400011", "400011", str(e.code))
        after = len({w.name for w in drain(TSC.Pager(self.srv.workbooks, page_options(1000)), 100_000)})
        self.c.eq("malformed: nothing created", before, after)


def run_env(args: argparse.Namespace, env: str, checks: Checks, workdir: str) -> None:
    checks.scope = env
    started = time.monotonic()
    sim: SimServer | None = None
    try:
        sim = SimServer(args.trm, "small", args.seed, workdir, args.startup_timeout, ["--env", env])
        checks.info(f"starting: {' '.join(sim.command())}")
        with sim:
            checks.ok("server starts", True, f"{sim.base_url} after {sim.startup_seconds:.1f}s")
            PublishConformance(sim, checks, args, tempfile.mkdtemp(dir=workdir)).run()
    except Exception as exc:  # noqa: BLE001
        checks.error("publish conformance", exc)
        if sim is not None:
            print(f"     last lines of {sim.log_path}:\n{sim.log_tail()}", flush=True)
    finally:
        checks.info(f"{env} took {time.monotonic() - started:.1f}s")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trm", required=True, help="path to the trm binary")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--shared", default=os.environ.get("TRM_SHARED") or os.path.join(HERE, "..", "..", "..", "shared"),
                   help="the shared reference directory (default: $TRM_SHARED or ../shared)")
    p.add_argument("--site", default=DEFAULT_SITE)
    p.add_argument("--pat-name", default=DEFAULT_PAT_NAME)
    p.add_argument("--pat-secret", default=DEFAULT_PAT_SECRET)
    p.add_argument("--startup-timeout", type=float, default=120.0)
    p.add_argument("--keep-logs", action="store_true", help="keep server logs")
    p.add_argument("--verbose", action="store_true", help="print tracebacks of failed checks")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    return drive(args, "trm-tsc-publish-", ["dev"], run_env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
