#!/usr/bin/env python3
"""Refresh conformance: `trm refresh-datasource`, `trm refresh --task` and
`trm reschedule` change a `trm sim serve` site, and the official Tableau
Server Client reads the jobs, tasks and schedules back.

For the Tableau Server flavour and then the Tableau Cloud flavour this script

  1. starts `<trm> sim serve --addr 127.0.0.1:PORT --size small --seed 42
     --manifest PATH --job-seconds 1 [--flavor cloud]`;
  2. reads the site's tasks and datasources with TSC and picks a task whose
     refreshes succeed (`consecutiveFailedCount` 0) and one whose fail;
  3. runs trm against the site (`--json`, `--wait`) and checks, with TSC,
     `jobs.get_by_id` (finish code, completion, notes), `tasks.get_by_id`
     and `schedules.get_by_id` (Server) or the task's inline schedule
     (Cloud), and the simulator's write log (`GET /sim/calls`) for the
     calls trm made: exactly the planned ones, none for a refused schedule.

Every check prints one PASS/FAIL line; the last line is exactly
`N passed, M failed` and the exit status is non-zero if anything failed.

Usage (TSC must be installed, see requirements.txt next to this file):

    ~/.cache/trm-venv/bin/python tests/conformance/tsc_refresh.py --trm target/debug/trm
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from typing import Any

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
)

PAGER_LIMIT = 1_000_000
TRM_TIMEOUT_S = 120


def sim_calls(base_url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{base_url}/sim/calls", timeout=10) as resp:
        body = json.loads(resp.read())
    return body if isinstance(body, list) else body.get("calls", [])


def clear_calls(base_url: str) -> None:
    req = urllib.request.Request(f"{base_url}/sim/calls", method="DELETE")
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def call_lines(base_url: str) -> list[str]:
    return [f"{c['method']} {c['path']}" for c in sim_calls(base_url)]


class RefreshConformance:
    def __init__(self, sim: SimServer, flavor: str, checks: Checks, args: argparse.Namespace) -> None:
        self.sim = sim
        self.flavor = flavor
        self.c = checks
        self.args = args
        self.srv = new_server(sim.base_url, use_server_version=True)

    def trm(self, *argv: str) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env.update({"TABLEAU_TOKEN_NAME": self.args.pat_name, "TABLEAU_TOKEN_SECRET": self.args.pat_secret})
        env.pop("TABLEAU_SERVER", None)
        env.pop("TABLEAU_SITE", None)
        cmd = [self.args.trm, "--json", *argv, "--server", self.sim.base_url, "--site", self.args.site,
               "--db", os.path.join(self.sim.workdir, "absent.duckdb")]
        self.c.info("running: " + " ".join(cmd[1:]))
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TRM_TIMEOUT_S)
        # A personal access token has one session at a time: trm's sign-in
        # ended TSC's, so TSC signs in again.
        self.sign_in()
        return proc

    def sign_in(self) -> None:
        self.srv.auth.sign_in(TSC.PersonalAccessTokenAuth(self.args.pat_name, self.args.pat_secret, self.args.site))

    def refreshes(self, proc: subprocess.CompletedProcess) -> list[dict[str, Any]]:
        try:
            return json.loads(proc.stdout)["refreshes"]
        except (ValueError, KeyError) as exc:
            raise RuntimeError(f"trm printed no refreshes JSON ({exc}): {proc.stdout[-500:]} {proc.stderr[-500:]}")

    def run(self) -> None:
        srv = self.srv
        self.sign_in()
        tasks = drain(TSC.Pager(srv.tasks), PAGER_LIMIT)
        datasources = {d.id: d for d in drain(TSC.Pager(srv.datasources), PAGER_LIMIT)}
        on_ds = [t for t in tasks if t.target is not None and t.target.type == "datasource"]
        names: dict[str, int] = {}
        for d in datasources.values():
            names[d.name] = names.get(d.name, 0) + 1
        ok_task = next((t for t in on_ds if t.consecutive_failed_count == 0
                        and names.get(datasources[t.target.id].name) == 1), None)
        bad_task = next((t for t in on_ds if (t.consecutive_failed_count or 0) >= 1), None)
        if not self.c.ok("TSC lists a healthy and a failing datasource refresh task", ok_task is not None
                         and bad_task is not None, f"{len(on_ds)} datasource tasks"):
            return
        self.refresh_by_name(datasources[ok_task.target.id].name)
        self.refresh_task(bad_task)
        if self.flavor == "server":
            self.reschedule_server(ok_task)
        else:
            self.reschedule_cloud(ok_task)

    def refresh_by_name(self, name: str) -> None:
        clear_calls(self.sim.base_url)
        proc = self.trm("refresh-datasource", "--name", name, "--wait", "--poll", "1s")
        self.c.ok("refresh-datasource --wait exits 0", proc.returncode == 0, f"exit {proc.returncode} {proc.stderr[-300:] if proc.returncode else ''}")
        rows = self.refreshes(proc)
        job_id = rows[0]["job"]
        job = self.srv.jobs.get_by_id(job_id)
        self.c.ok("jobs.get_by_id: the job trm followed succeeded", job.finish_code == 0 and job.completed_at is not None,
                  f"finish_code {job.finish_code}, completed {job.completed_at}")
        self.c.ok("trm reports success", rows[0]["outcome"] == "success", str(rows[0]["outcome"]))
        target = rows[0]["target_luid"]
        self.c.ok("one write: POST /datasources/{id}/refresh",
                  call_lines(self.sim.base_url) == [f"POST /datasources/{target}/refresh"], str(call_lines(self.sim.base_url)))

    def refresh_task(self, task: Any) -> None:
        clear_calls(self.sim.base_url)
        proc = self.trm("refresh", "--task", task.id, "--wait", "--poll", "1s")
        self.c.ok("refresh --task of a failing task exits 1", proc.returncode == 1, f"exit {proc.returncode}")
        rows = self.refreshes(proc)
        job = self.srv.jobs.get_by_id(rows[0]["job"])
        self.c.ok("jobs.get_by_id: finish code 1 (failure)", job.finish_code == 1, f"finish_code {job.finish_code}")
        self.c.ok("trm shows the job's notes as TSC reads them", job.notes and rows[0]["notes"] == list(job.notes),
                  f"trm {rows[0]['notes']} / TSC {job.notes}")
        self.c.ok("one write: POST /tasks/extractRefreshes/{id}/runNow",
                  call_lines(self.sim.base_url) == [f"POST /tasks/extractRefreshes/{task.id}/runNow"],
                  str(call_lines(self.sim.base_url)))
        after = self.srv.tasks.get_by_id(task.id)
        self.c.ok("tasks.get_by_id: the failure is counted", after.consecutive_failed_count == task.consecutive_failed_count + 1,
                  f"{task.consecutive_failed_count} -> {after.consecutive_failed_count}")

    def reschedule_server(self, task: Any) -> None:
        schedules = [s for s in drain(TSC.Pager(self.srv.schedules), PAGER_LIMIT) if s.schedule_type == "Extract"]
        counts: dict[str, int] = {}
        for s in schedules:
            counts[s.name] = counts.get(s.name, 0) + 1
        target = next((s for s in schedules if s.id != task.schedule_id and counts[s.name] == 1), None)
        if not self.c.ok("TSC lists another extract schedule", target is not None):
            return
        clear_calls(self.sim.base_url)
        proc = self.trm("reschedule", "--task", task.id, "--schedule", target.name)
        self.c.ok("reschedule --schedule exits 0", proc.returncode == 0, f"exit {proc.returncode} {proc.stderr[-300:] if proc.returncode else ''}")
        kind = "datasources"
        self.c.ok("writes: add to the schedule, then remove the old task",
                  call_lines(self.sim.base_url) == [f"PUT /schedules/{target.id}/{kind}",
                                                    f"DELETE /tasks/extractRefreshes/{task.id}"],
                  str(call_lines(self.sim.base_url)))
        moved = [t for t in drain(TSC.Pager(self.srv.tasks), PAGER_LIMIT)
                 if t.target is not None and t.target.id == task.target.id]
        self.c.ok("tasks.get: one task refreshes the datasource, on the new schedule",
                  len(moved) == 1 and moved[0].schedule_id == target.id, str(moved))
        try:
            self.srv.tasks.get_by_id(task.id)
            gone = False
        except ServerResponseError as exc:
            gone = str(getattr(exc, "code", "")).startswith("404")
        self.c.ok("tasks.get_by_id of the old task: 404", gone)
        back = self.srv.schedules.get_by_id(target.id)
        self.c.ok("schedules.get_by_id reads the schedule back", back.id == target.id and back.name == target.name)
        if moved:
            got = self.srv.tasks.get_by_id(moved[0].id)
            self.c.ok("tasks.get_by_id of the new task names the schedule", got.schedule_id == target.id, str(got))

    def reschedule_cloud(self, task: Any) -> None:
        clear_calls(self.sim.base_url)
        proc = self.trm("reschedule", "--task", task.id, "--every", "daily 02:03")
        self.c.ok("an off-boundary Cloud schedule is refused with exit 2", proc.returncode == 2, f"exit {proc.returncode}")
        self.c.ok("... before any write", call_lines(self.sim.base_url) == [], str(call_lines(self.sim.base_url)))
        proc = self.trm("reschedule", "--task", task.id, "--every", "weekly mon,thu 03:05")
        self.c.ok("reschedule --every exits 0", proc.returncode == 0, f"exit {proc.returncode} {proc.stderr[-300:] if proc.returncode else ''}")
        self.c.ok("one write: POST /tasks/extractRefreshes/{id}",
                  call_lines(self.sim.base_url) == [f"POST /tasks/extractRefreshes/{task.id}"], str(call_lines(self.sim.base_url)))
        got = self.srv.tasks.get_by_id(task.id)
        s = got.schedule_item
        days = set(getattr(s.interval_item, "interval", ()) or ()) if s is not None else set()
        start = getattr(s.interval_item, "start_time", None) if s is not None else None
        self.c.ok("tasks.get_by_id: weekly on Monday and Thursday at 03:05",
                  s is not None and days == {"Monday", "Thursday"} and start is not None
                  and (start.hour, start.minute) == (3, 5), f"{days} {start}")
        clear_calls(self.sim.base_url)
        proc = self.trm("reschedule", "--task", task.id, "--every", "weekly thu,mon 03:05")
        self.c.ok("the same schedule again: exit 0 and no write", proc.returncode == 0
                  and call_lines(self.sim.base_url) == [], str(call_lines(self.sim.base_url)))


def run_flavor(args: argparse.Namespace, flavor: str, checks: Checks, workdir: str) -> None:
    checks.scope = flavor
    extra = ["--job-seconds", str(args.job_seconds)]
    if flavor == "cloud":
        extra += ["--flavor", "cloud"]
    flavor_dir = os.path.join(workdir, flavor)
    os.makedirs(flavor_dir, exist_ok=True)
    started = time.monotonic()
    sim: SimServer | None = None
    try:
        sim = SimServer(args.trm, args.size, args.seed, flavor_dir, args.startup_timeout, extra)
        with sim:
            checks.ok("server starts", True, sim.base_url)
            RefreshConformance(sim, flavor, checks, args).run()
    except Exception as exc:  # noqa: BLE001
        checks.error("refresh conformance", exc)
        if sim is not None:
            print(f"     last lines of {sim.log_path}:\n{sim.log_tail()}", flush=True)
    finally:
        checks.info(f"{flavor} took {time.monotonic() - started:.1f}s")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trm", required=True, help="path to the trm binary")
    p.add_argument("--size", default="small", choices=["small", "medium"])
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--flavor", action="append", choices=["server", "cloud"],
                   help="site flavour; repeat for both (default: server and cloud)")
    p.add_argument("--job-seconds", type=float, default=1.0)
    p.add_argument("--site", default=DEFAULT_SITE)
    p.add_argument("--pat-name", default=DEFAULT_PAT_NAME)
    p.add_argument("--pat-secret", default=DEFAULT_PAT_SECRET)
    p.add_argument("--startup-timeout", type=float, default=120.0)
    p.add_argument("--keep-logs", action="store_true")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    args.flavor = args.flavor or ["server", "cloud"]
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    return drive(args, "trm-tsc-refresh-", args.flavor, run_flavor)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
