//! `trm refresh-datasource`, `trm refresh`, `trm reschedule` and the
//! refresh library against the in-process simulated site. Expectations
//! come from the site's dataset (task health, the ad-hoc jobs it ran,
//! schedules) and its call log, never from the code under test.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use trm::admin::refresh::{self as r, Follow, Outcome};
use trm::admin::{apply, Options};
use trm::audit::{self, Thresholds};
use trm::extract::{self, Quiet};
use trm::sim::dataset::{Dataset, Entity, Frequency, Health, JobPhase, ScheduleType, Target};
use trm::sim::{self, Flavor, SimConfig, SimHandle};
use trm::tableau::Client;

#[path = "support/site.rs"]
mod site;
use site::{scratch, settings};

async fn start(config: SimConfig) -> SimHandle {
    sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("site starts")
}

fn quick(job_ms: u64) -> SimConfig {
    SimConfig { job_duration: Duration::from_millis(job_ms), ..SimConfig::default() }
}

/// Runs the `trm` binary against the site, with the warehouse in `dir`.
fn trm(handle: &SimHandle, dir: &Path, args: &[&str]) -> Output {
    trm_command(handle, dir, args).output().expect("trm runs")
}

fn trm_command(handle: &SimHandle, dir: &Path, args: &[&str]) -> Command {
    let c = &handle.state.config;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trm"));
    cmd.args(args)
        .args(["--server", &handle.url(), "--site", &c.site_content_url])
        .arg("--db")
        .arg(dir.join("trm.duckdb"))
        .env("TABLEAU_TOKEN_NAME", &c.pat_name)
        .env("TABLEAU_TOKEN_SECRET", &c.pat_secret)
        .env_remove("TABLEAU_SERVER")
        .env_remove("TABLEAU_SITE")
        .current_dir(dir);
    cmd
}

fn text(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Write calls the site received, as `METHOD /path`.
fn calls(handle: &SimHandle) -> Vec<String> {
    handle.state.calls.snapshot().iter().map(|c| format!("{} {}", c.method, c.path)).collect()
}

/// A datasource with an extract and a task of this health, whose name no
/// other datasource has (so `--name` alone finds it).
fn datasource_with(d: &Dataset, healthy: bool) -> u32 {
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for x in &d.datasources {
        *names.entry(x.name.as_str()).or_default() += 1;
    }
    (0..d.datasources.len() as u32)
        .find(|&x| {
            let ds = &d.datasources[x as usize];
            let Some(&t) = d.task_of.get(&Target::Datasource(x)) else { return false };
            let h = d.tasks[t as usize].health;
            ds.has_extracts
                && names[ds.name.as_str()] == 1
                && (h == Health::Healthy) == healthy
                && (healthy || matches!(h, Health::FailingSince { .. }))
        })
        .unwrap_or_else(|| {
            panic!("the small site has a {} datasource extract", if healthy { "healthy" } else { "failing" })
        })
}

async fn client(handle: &SimHandle, dir: &Path) -> Client {
    Client::connect(&settings(handle, dir)).await.expect("signs in")
}

fn fast(timeout: Option<Duration>) -> Follow {
    Follow { poll: Duration::from_millis(50), timeout }
}

async fn run_one(client: &Client, refresh: r::Refresh, follow: Option<Follow>) -> r::RunResult {
    let refreshes = vec![refresh];
    let plan = r::plan(&refreshes);
    let (_tx, rx) = tokio::sync::watch::channel(false);
    r::run(client, &refreshes, &plan, follow, 1, rx, &|_| {}).await.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_datasource_refreshes_and_a_failing_one_fails_with_its_notes() {
    let handle = start(quick(300)).await;
    let dir = scratch("refresh-outcomes");
    let c = client(&handle, &dir).await;
    let (good, bad) = {
        let d = handle.state.data();
        (datasource_with(&d, true), datasource_with(&d, false))
    };
    let (good_name, good_id, bad_name) = {
        let d = handle.state.data();
        (
            d.datasources[good as usize].name.clone(),
            d.datasources[good as usize].id.clone(),
            d.datasources[bad as usize].name.clone(),
        )
    };

    let refresh = r::resolve_content(&c, "datasource", &good_name, None, false).await.unwrap();
    assert_eq!(refresh.target_luid, good_id);
    let ok = run_one(&c, refresh, Some(fast(Some(Duration::from_secs(30))))).await;
    let failed =
        run_one(&c, r::resolve_content(&c, "datasource", &bad_name, None, false).await.unwrap(), Some(fast(None)))
            .await;

    let d = handle.state.data();
    let job_of = |x: u32| {
        let jobs: Vec<_> = d.adhoc_jobs.iter().filter(|j| j.target == Target::Datasource(x)).collect();
        assert_eq!(jobs.len(), 1, "one refresh of datasource {x}");
        jobs[0].clone()
    };
    let (gj, bj) = (job_of(good), job_of(bad));
    assert!(gj.done && !gj.failed && !bj.cancelled && bj.done && bj.failed);
    assert_eq!((ok.outcome, ok.finish_code, ok.job_id.as_deref()), (Outcome::Success, Some(0), Some(gj.id.as_str())));
    assert!(ok.notes.is_empty(), "{:?}", ok.notes);
    assert_eq!(
        (failed.outcome, failed.finish_code, failed.job_id.as_deref()),
        (Outcome::Failed, Some(1), Some(bj.id.as_str()))
    );
    // The notes are the job's, as the site answers them.
    let answer = c.get_json(&c.site_path(&format!("jobs/{}", bj.id)), &[]).await.unwrap();
    let site_notes = answer["job"]["extractRefreshJob"]["notes"].as_str().expect("a failed job has notes").to_string();
    assert_eq!(failed.notes, vec![site_notes]);
    drop(d);
    let bad_id = handle.state.data().datasources[bad as usize].id.clone();
    assert_eq!(
        calls(&handle),
        vec![format!("POST /datasources/{good_id}/refresh"), format!("POST /datasources/{bad_id}/refresh")]
    );

    // Recorded: who, what, the jobs and their outcomes; nothing else moves.
    let db = dir.join("trm.duckdb");
    let who = r::who(&c, "analytics").await;
    assert_eq!(r::record(&db, &who, &[ok.clone(), failed.clone()]).unwrap(), 2);
    let conn = duckdb::Connection::open(&db).unwrap();
    let rows: Vec<(String, String, String, Option<String>, Option<String>, Option<i64>)> = conn
        .prepare("SELECT job_luid, target_luid, outcome, user_luid, user_name, finish_code FROM refresh_runs ORDER BY outcome DESC")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let d = handle.state.data();
    let user = match d.lookup(&c.user_id()) {
        Some(Entity::User(u)) => d.users[u as usize].name.clone(),
        other => panic!("the signed-in user is a user of the site, not {other:?}"),
    };
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0],
        (gj.id.clone(), good_id.clone(), "success".into(), Some(c.user_id()), Some(user.clone()), Some(0))
    );
    assert_eq!(rows[1].0, bj.id);
    assert_eq!(rows[1].2, "failed");
    let runs: i64 = conn.query_row("SELECT count(*) FROM runs", [], |r| r.get(0)).unwrap();
    assert_eq!(runs, 0, "recording a refresh makes no extraction run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_reports_outcomes_notes_and_exit_codes() {
    let handle = start(quick(300)).await;
    let dir = scratch("refresh-cli");
    let (good, bad, live) = {
        let d = handle.state.data();
        let live = (0..d.datasources.len()).find(|&x| !d.datasources[x].has_extracts).expect("a live datasource");
        let name = |x: usize| d.datasources[x].name.clone();
        (
            name(datasource_with(&d, true) as usize),
            name(datasource_with(&d, false) as usize),
            (name(live), d.datasources[live].id.clone()),
        )
    };

    // --dry-run: the call, and none made.
    let o = trm(&handle, &dir, &["refresh-datasource", "--name", &good, "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("/refresh]"), "{}", text(&o));
    assert!(calls(&handle).is_empty());

    // A datasource without an extract: refused before any call.
    let o = trm(&handle, &dir, &["refresh-datasource", "--name", &live.0]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("has no extract") && err.contains(&live.1), "{err}");
    assert!(calls(&handle).is_empty());

    let o = trm(&handle, &dir, &["refresh-datasource", "--name", &good, "--wait", "--poll", "1s"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("success"), "{}", text(&o));

    let o = trm(&handle, &dir, &["refresh-datasource", "--name", &bad, "--wait", "--poll", "1s"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let job = handle.state.data().adhoc_jobs.last().unwrap().id.clone();
    let c = client(&handle, &dir).await;
    let answer = c.get_json(&c.site_path(&format!("jobs/{job}")), &[]).await.unwrap();
    let notes = answer["job"]["extractRefreshJob"]["notes"].as_str().unwrap().to_string();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("failed") && out.contains(&job) && out.contains(&notes), "{}", text(&o));
    assert_eq!(calls(&handle).len(), 2, "{:?}", calls(&handle));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_shorter_than_the_job_exits_1_and_leaves_it_running() {
    let handle = start(quick(60_000)).await;
    let dir = scratch("refresh-timeout");
    let name = {
        let d = handle.state.data();
        d.datasources[datasource_with(&d, true) as usize].name.clone()
    };
    let began = Instant::now();
    let o = trm(&handle, &dir, &["refresh-datasource", "--name", &name, "--wait", "--timeout", "2s", "--poll", "1s"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(began.elapsed() < Duration::from_secs(30), "it stopped waiting at the timeout");
    assert!(String::from_utf8_lossy(&o.stdout).contains("timed out"), "{}", text(&o));
    let d = handle.state.data();
    assert_eq!(d.adhoc_jobs.len(), 1);
    let phase = handle.state.job_phase(&d.adhoc_jobs[0]);
    assert!(matches!(phase, JobPhase::Queued | JobPhase::InProgress(_)), "still running on the site: {phase:?}");
    assert_eq!(calls(&handle).len(), 1, "no cancel: {:?}", calls(&handle));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_wait_cancels_the_job_on_the_site() {
    let handle = start(quick(60_000)).await;
    let dir = scratch("refresh-cancel");
    let c = client(&handle, &dir).await;
    let name = {
        let d = handle.state.data();
        d.datasources[datasource_with(&d, true) as usize].name.clone()
    };
    let refreshes = vec![r::resolve_content(&c, "datasource", &name, None, false).await.unwrap()];
    let plan = r::plan(&refreshes);
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let _ = tx.send(true);
    });
    let results = r::run(&c, &refreshes, &plan, Some(fast(None)), 1, rx, &|_| {}).await;
    assert_eq!(results[0].outcome, Outcome::Interrupted);
    let job = results[0].job_id.clone().unwrap();
    assert!(!handle.state.data().adhoc_jobs[0].cancelled);
    let cancel = r::cancel_plan(&[(job.clone(), "x".into())]);
    let report = apply(&c, &cancel, Options::stop_at_first_error(1), &|_, _| {}).await;
    assert!(report.is_complete());
    let d = handle.state.data();
    assert!(d.adhoc_jobs[0].cancelled && d.adhoc_jobs[0].id == job);
    assert_eq!(handle.state.job_phase(&d.adhoc_jobs[0]), JobPhase::Cancelled);
    drop(d);
    assert_eq!(calls(&handle)[1], format!("PUT /jobs/{job}"));

    // The command: Ctrl-C (SIGINT) with --cancel-on-interrupt cancels the
    // job without asking; without the flag and without a terminal, the job
    // is left running.
    for (n, flag) in [(2usize, true), (3, false)] {
        if n == 3 {
            // The site refuses a refresh of content already refreshing: the
            // third can start only because the second was cancelled.
            assert!(handle.state.data().adhoc_jobs[1].cancelled);
        }
        handle.state.calls.clear();
        let mut args = vec!["refresh-datasource", "--name", &name, "--wait", "--poll", "1s"];
        if flag {
            args.push("--cancel-on-interrupt");
        }
        let child = trm_command(&handle, &dir, &args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while handle.state.data().adhoc_jobs.len() < n {
            assert!(Instant::now() < deadline, "the command started no job");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        assert!(sent.success());
        let o = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let d = handle.state.data();
        let job = &d.adhoc_jobs[n - 1];
        let mut expected = vec![format!("POST /datasources/{}/refresh", refreshes[0].target_luid)];
        if flag {
            assert!(job.cancelled, "{}", text(&o));
            expected.push(format!("PUT /jobs/{}", job.id));
        } else {
            assert!(matches!(handle.state.job_phase(job), JobPhase::Queued | JobPhase::InProgress(_)), "{}", text(&o));
            assert!(String::from_utf8_lossy(&o.stderr).contains("Left 1 job(s) running"), "{}", text(&o));
            assert!(String::from_utf8_lossy(&o.stdout).contains("interrupted"), "{}", text(&o));
        }
        assert_eq!(calls(&handle), expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_needs_3_25() {
    let handle = start(quick(200)).await;
    let dir = scratch("refresh-incremental");
    let name = {
        let d = handle.state.data();
        d.datasources[datasource_with(&d, true) as usize].name.clone()
    };
    let o = trm(&handle, &dir, &["refresh-datasource", "--name", &name, "--incremental", "--api-version", "3.24"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("3.25"), "{}", text(&o));
    assert!(calls(&handle).is_empty());
    let o = trm(&handle, &dir, &["refresh-datasource", "--name", &name, "--incremental", "--wait", "--poll", "1s"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let d = handle.state.data();
    assert!(d.adhoc_jobs.len() == 1 && d.adhoc_jobs[0].incremental);
}

async fn extract_and_audit(handle: &SimHandle, dir: &Path) -> Vec<audit::Finding> {
    let s = settings(handle, dir);
    extract::run(&s, &extract::Options { only: Vec::new(), parquet: false }, Arc::new(Quiet)).await.expect("extract");
    let db = dir.join("trm.duckdb");
    tokio::task::spawn_blocking(move || audit::run(&db, None, None, &Thresholds::default()).expect("audit").findings)
        .await
        .unwrap()
}

/// task → reason codes of its broken_extract finding.
fn broken(findings: &[audit::Finding]) -> BTreeMap<String, BTreeSet<String>> {
    findings
        .iter()
        .filter(|f| f.detector == "broken_extract")
        .map(|f| {
            let reasons =
                f.evidence["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect();
            (f.evidence["task_id"].as_str().unwrap().to_string(), reasons)
        })
        .collect()
}

fn warehouse_runs(db: &PathBuf) -> (i64, String) {
    let conn = duckdb::Connection::open(db).unwrap();
    let n = conn.query_row("SELECT count(*) FROM runs", [], |r| r.get(0)).unwrap();
    let latest =
        conn.query_row("SELECT run_id FROM runs ORDER BY as_of DESC, run_id DESC LIMIT 1", [], |r| r.get(0)).unwrap();
    (n, latest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_broken_reruns_exactly_the_flagged_tasks_and_the_next_audit_clears_the_successes() {
    let job = Duration::from_millis(1500);
    let handle = start(SimConfig { job_duration: job, ..SimConfig::default() }).await;
    let dir = scratch("refresh-broken");
    let db = dir.join("trm.duckdb");
    // Plant a task whose last run failed once: flagged, and a refresh now succeeds.
    let planted = {
        let mut d = handle.state.write();
        let now = handle.state.now();
        let t = (0..d.tasks.len() as u32)
            .find(|&t| {
                d.tasks[t as usize].health == Health::Healthy
                    && d.last_run_at(t, now).is_some()
                    && matches!(d.tasks[t as usize].target, Target::Datasource(_))
            })
            .expect("a healthy datasource task that has run");
        let last = d.last_run_at(t, now).unwrap();
        d.tasks[t as usize].health = Health::TransientFailure { run: last };
        d.task_version += 1;
        d.tasks[t as usize].id.clone()
    };
    let findings = extract_and_audit(&handle, &dir).await;
    let before = broken(&findings);
    let high: BTreeSet<&str> = findings
        .iter()
        .filter(|f| f.detector == "broken_extract" && f.severity == audit::Severity::High)
        .map(|f| f.evidence["task_id"].as_str().unwrap())
        .collect();
    assert!(before[&planted].contains("last_refresh_failed"), "{before:?}");
    {
        // Every task the site has failing is among the flagged.
        let d = handle.state.data();
        let now = handle.state.now();
        for t in 0..d.tasks.len() as u32 {
            if d.consecutive_failures(t, now) > 0 {
                assert!(
                    before.contains_key(&d.tasks[t as usize].id),
                    "task {} fails but is not flagged",
                    d.tasks[t as usize].id
                );
            }
        }
    }
    assert!(before.len() >= 3, "enough flagged tasks to see the cap: {before:?}");
    let runs_before = warehouse_runs(&db);
    handle.state.calls.clear();

    // --severity high, planned only: the high findings' tasks, no call.
    let o = trm(&handle, &dir, &["refresh", "--broken", "--severity", "high", "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o));
    let plan = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(plan.contains(&format!("Plan: {} REST call(s).", high.len())), "{high:?}\n{plan}");
    assert!(high.iter().all(|t| plan.contains(&format!("tasks/extractRefreshes/{t}/runNow"))), "{plan}");
    assert!(calls(&handle).is_empty());

    let o = trm(&handle, &dir, &["refresh", "--broken", "--concurrency", "2", "--wait", "--poll", "1s"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains("cleared"), "{}", text(&o));

    // Exactly the flagged tasks, each once.
    let started: Vec<String> = calls(&handle);
    let expected: BTreeSet<String> =
        before.keys().map(|t| format!("POST /tasks/extractRefreshes/{t}/runNow")).collect();
    assert_eq!(started.len(), before.len(), "{started:?}");
    assert_eq!(started.iter().cloned().collect::<BTreeSet<_>>(), expected);

    // At most 2 jobs in flight: at each job's start, count the jobs running.
    let d = handle.state.data();
    let jobs: Vec<_> = d.adhoc_jobs.iter().collect();
    assert_eq!(jobs.len(), before.len());
    let mut most = 0;
    for j in &jobs {
        let running =
            jobs.iter().filter(|k| k.created_wall <= j.created_wall && j.created_wall < k.created_wall + job).count();
        most = most.max(running);
    }
    assert_eq!(most, 2, "two jobs in flight at most, and the cap is used");
    let by_task: BTreeMap<String, bool> =
        jobs.iter().map(|j| (d.tasks[j.task.expect("runNow names the task") as usize].id.clone(), j.failed)).collect();
    assert!(!by_task[&planted], "the planted task's refresh succeeds");
    let any_failed = by_task.values().any(|f| *f);
    assert_eq!(o.status.code(), Some(if any_failed { 1 } else { 0 }), "{}", text(&o));
    drop(d);

    // Recorded, without touching the runs.
    assert_eq!(warehouse_runs(&db), runs_before);
    let conn = duckdb::Connection::open(&db).unwrap();
    let recorded: Vec<(String, String)> = conn
        .prepare("SELECT task_luid, outcome FROM refresh_runs ORDER BY task_luid")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let expected: Vec<(String, String)> =
        by_task.iter().map(|(t, failed)| (t.clone(), if *failed { "failed" } else { "success" }.to_string())).collect();
    assert_eq!(recorded, expected);
    drop(conn);

    // The next extract and audit: the successes lose their failure
    // reasons, the failures keep them.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = broken(&extract_and_audit(&handle, &dir).await);
    let failure = ["last_refresh_failed", "consecutive_failures", "stale"];
    for (task, failed) in &by_task {
        let reasons = after.get(task).cloned().unwrap_or_default();
        if *failed {
            assert!(
                reasons.contains("last_refresh_failed") || reasons.contains("consecutive_failures"),
                "task {task} still fails, so it stays flagged: {reasons:?}"
            );
        } else {
            assert!(failure.iter().all(|f| !reasons.contains(*f)), "task {task} succeeded: {reasons:?}");
        }
    }
    assert!(!after.contains_key(&planted), "the planted task is no longer flagged: {:?}", after.get(&planted));
}

fn extract_schedules(d: &Dataset) -> Vec<u32> {
    (0..d.schedules.len() as u32)
        .filter(|&s| {
            let x = &d.schedules[s as usize];
            x.kind == ScheduleType::Extract && !x.inline && d.schedules.iter().filter(|o| o.name == x.name).count() == 1
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reschedule_moves_a_task_to_a_server_schedule() {
    let handle = start(quick(200)).await;
    let dir = scratch("reschedule-server");
    let (task, target, to_name, to_id) = {
        let d = handle.state.data();
        let scheds = extract_schedules(&d);
        let t = (0..d.tasks.len()).find(|&t| matches!(d.tasks[t].target, Target::Datasource(_))).unwrap();
        let to = *scheds.iter().find(|&&s| s != d.tasks[t].schedule).expect("another extract schedule");
        (
            d.tasks[t].id.clone(),
            d.tasks[t].target,
            d.schedules[to as usize].name.clone(),
            d.schedules[to as usize].id.clone(),
        )
    };
    // Tableau Server takes no inline schedule: refused before any write.
    let o = trm(&handle, &dir, &["reschedule", "--task", &task, "--every", "daily 02:00"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--schedule"), "{}", text(&o));
    assert!(calls(&handle).is_empty());

    let o = trm(&handle, &dir, &["reschedule", "--task", &task, "--schedule", &to_name, "--dry-run"]);
    assert!(o.status.success() && calls(&handle).is_empty(), "{}", text(&o));

    let o = trm(&handle, &dir, &["reschedule", "--task", &task, "--schedule", &to_name]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let kind = match target {
        Target::Datasource(_) => "datasources",
        Target::Workbook(_) => "workbooks",
    };
    assert_eq!(
        calls(&handle),
        vec![format!("PUT /schedules/{to_id}/{kind}"), format!("DELETE /tasks/extractRefreshes/{task}")]
    );
    let new_task = {
        let d = handle.state.data();
        let old = d.tasks.iter().find(|t| t.id == task).unwrap();
        assert!(old.deleted);
        let live: Vec<_> = d.tasks.iter().filter(|t| t.target == target && !t.deleted).collect();
        assert_eq!(live.len(), 1, "one task refreshes the content");
        assert_eq!(d.schedules[live[0].schedule as usize].id, to_id);
        live[0].id.clone()
    };
    assert!(String::from_utf8_lossy(&o.stdout).contains(&new_task), "{}", text(&o));

    // Already there: 0 calls.
    handle.state.calls.clear();
    let o = trm(&handle, &dir, &["reschedule", "--task", &new_task, "--schedule", &to_name]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 REST calls"), "{}", text(&o));
    assert!(calls(&handle).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reschedule_gives_a_cloud_task_its_own_schedule_and_refuses_invalid_ones_before_any_call() {
    let handle = start(SimConfig { flavor: Flavor::Cloud, ..quick(200) }).await;
    let dir = scratch("reschedule-cloud");
    let (task, some_schedule) = {
        let d = handle.state.data();
        (d.tasks[0].id.clone(), d.schedules[0].name.clone())
    };
    for (every, why) in [
        ("daily 02:03", "five-minute"),
        ("hourly 3h", "1, 2, 4, 6, 8, 12"),
        ("daily 02:00 5h", "2, 4, 6, 8, 12, 24"),
        ("weekly funday 03:00", "not a day"),
        ("fortnightly", "use"),
    ] {
        let o = trm(&handle, &dir, &["reschedule", "--task", &task, "--every", every]);
        assert_eq!(o.status.code(), Some(2), "{every}: {}", text(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains(why), "{every}: {}", text(&o));
    }
    let o = trm(&handle, &dir, &["reschedule", "--task", &task, "--schedule", &some_schedule]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Tableau Cloud"), "{}", text(&o));
    assert!(calls(&handle).is_empty(), "{:?}", calls(&handle));

    let o = trm(&handle, &dir, &["reschedule", "--task", &task, "--every", "weekly mon,thu 03:05"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(calls(&handle), vec![format!("POST /tasks/extractRefreshes/{task}")]);
    {
        let d = handle.state.data();
        let s = &d.schedules[d.tasks[0].schedule as usize];
        assert!(s.inline);
        assert_eq!((s.frequency, s.start_hour, s.start_minute), (Frequency::Weekly, 3, 5));
        assert_eq!(s.weekdays, vec!["Monday".to_string(), "Thursday".to_string()]);
    }
    handle.state.calls.clear();
    let o = trm(&handle, &dir, &["reschedule", "--task", &task, "--every", "weekly thu,mon 03:05"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(calls(&handle).is_empty(), "already so: {:?}", calls(&handle));

    let o = trm(&handle, &dir, &["reschedule", "--task", &task, "--every", "hourly 4h 00:30"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let d = handle.state.data();
    let s = &d.schedules[d.tasks[0].schedule as usize];
    assert_eq!((s.frequency, s.interval_hours, s.start_hour, s.start_minute), (Frequency::Hourly, 4, 0, 30));
}
