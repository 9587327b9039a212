//! Extract refreshes: starting them (a datasource, a workbook or a refresh
//! task), following their jobs to the end, cancelling them, re-running the
//! tasks the latest audit found broken, recording what happened in the
//! warehouse, and moving tasks to another schedule.
//!
//! Every start, cancel and schedule change is a [`Plan`] call made by the
//! engine ([`super::apply`]); the reads (names, tasks, jobs, schedules)
//! go through the REST layer. Following a job is a loop of `GET jobs/{id}`
//! with the poll interval as a parameter, so tests can poll fast.
//!
//! Tableau's facts used here:
//! - `POST datasources/{id}/refresh`, `POST workbooks/{id}/refresh` and
//!   `POST tasks/extractRefreshes/{id}/runNow` answer `{"job": {"id": …}}`;
//!   an incremental refresh sends `{"extractRefresh": {"incremental": true}}`,
//!   which the API takes from version 3.25 (as the official Python client
//!   checks).
//! - A job's `finishCode` is 0 (success), 1 (failure) or 2 (cancelled);
//!   until it finishes there is none. `extractRefreshJob.notes` and
//!   `statusNotes` explain a failure. `PUT jobs/{id}` cancels a job.
//! - Tableau Server moves a task with `PUT schedules/{id}/datasources` (or
//!   `workbooks`), which adds a task on the new schedule, then
//!   `DELETE tasks/extractRefreshes/{old}` (3.6). Tableau Cloud has no
//!   server schedules: a task carries its own, changed with
//!   `POST tasks/extractRefreshes/{id}`, starting on a five-minute
//!   boundary, hourly every 1, 2, 4, 6, 8 or 12 hours, daily every 2, 4,
//!   6, 8, 12 or 24 hours, weekly on named days.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt as _};
use serde_json::{json, Value};

use super::apply::{apply, Options, Report, Status};
use super::plan::{Call, Plan, WriteMethod};
use super::site::{self, Found};
use crate::tableau::rest::list_all;
use crate::tableau::Client;

// ---------------------------------------------------------------------------
// What to refresh

/// One refresh to start.
#[derive(Clone, Debug, PartialEq)]
pub struct Refresh {
    /// `datasource` or `workbook`.
    pub target_type: String,
    pub target_luid: String,
    pub target_name: Option<String>,
    pub project_path: Option<String>,
    /// The refresh task, when known.
    pub task_luid: Option<String>,
    /// Start it through the task (`runNow`) rather than the content.
    pub via_task: bool,
    pub incremental: bool,
}

impl Refresh {
    /// `datasource "Sales" (Finance/Reports)` or `task 1f2e…`.
    pub fn label(&self) -> String {
        let what = match (&self.target_name, &self.project_path) {
            (Some(n), Some(p)) => format!("{} {n:?} ({p})", self.target_type),
            (Some(n), None) => format!("{} {n:?}", self.target_type),
            _ => format!("{} {}", self.target_type, self.target_luid),
        };
        match (&self.task_luid, self.via_task) {
            (Some(t), true) => format!("task {t}: {what}"),
            _ => what,
        }
    }

    /// The call that starts it.
    pub fn call(&self) -> Call {
        let unit = self.task_luid.clone().filter(|_| self.via_task).unwrap_or_else(|| self.target_luid.clone());
        if self.via_task {
            let task = self.task_luid.as_deref().unwrap_or_default();
            return Call::site(
                WriteMethod::Post,
                format!("tasks/extractRefreshes/{task}/runNow"),
                "run refresh task now",
                format!("run {}", self.label()),
            )
            .body(json!({}))
            .unit(unit);
        }
        let body = if self.incremental { json!({"extractRefresh": {"incremental": true}}) } else { json!({}) };
        Call::site(
            WriteMethod::Post,
            format!("{}s/{}/refresh", self.target_type, self.target_luid),
            if self.incremental { "start incremental refresh" } else { "start refresh" },
            format!("refresh {}", self.label()),
        )
        .body(body)
        .unit(unit)
    }
}

/// The plan starting every refresh, one call each, in order.
pub fn plan(refreshes: &[Refresh]) -> Plan {
    let mut plan = Plan::new();
    for r in refreshes {
        plan.push(r.call());
    }
    plan
}

/// Why a refresh cannot be asked for; found before any write.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("{0}")]
    Name(#[from] site::NameError),
    #[error("{kind} {name:?} (project {project}, id {luid}) has no extract: it connects live to its data, so there is nothing to refresh")]
    NoExtract { kind: String, name: String, project: String, luid: String },
    #[error("incremental refreshes need REST API version 3.25 or later; this server speaks {0} (use a newer server, or refresh in full without --incremental)")]
    IncrementalTooOld(String),
    #[error("{0}")]
    Schedule(String),
}

/// `3.25` → (3, 25).
fn version(v: &str) -> (u32, u32) {
    let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
    (major.trim().parse().unwrap_or(0), minor.trim().parse().unwrap_or(0))
}

/// An incremental refresh through the API needs 3.25.
pub fn check_incremental(api_version: &str) -> Result<(), RefreshError> {
    if version(api_version) < (3, 25) {
        return Err(RefreshError::IncrementalTooOld(api_version.to_string()));
    }
    Ok(())
}

/// `true`, `"true"` or absent (unknown: let the server decide).
fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The refresh of content found by name; refuses a datasource without an
/// extract (the workbook listing does not say, so the server decides).
pub fn content_refresh(kind: &str, found: &Found, incremental: bool) -> Result<Refresh, RefreshError> {
    if flag(&found.item["hasExtracts"]) == Some(false) {
        return Err(RefreshError::NoExtract {
            kind: kind.into(),
            name: found.name.clone(),
            project: found.project_path.clone(),
            luid: found.luid.clone(),
        });
    }
    Ok(Refresh {
        target_type: kind.into(),
        target_luid: found.luid.clone(),
        target_name: Some(found.name.clone()),
        project_path: Some(found.project_path.clone()),
        task_luid: None,
        via_task: false,
        incremental,
    })
}

/// Finds `name` (in `project`) and checks it can be refreshed.
pub async fn resolve_content(
    client: &Client,
    kind: &str,
    name: &str,
    project: Option<&str>,
    incremental: bool,
) -> anyhow::Result<Refresh> {
    let projects = site::projects(client).await?;
    let found = site::find_content(client, kind, name, project, &projects).await?;
    Ok(content_refresh(kind, &found, incremental)?)
}

/// A refresh task as `GET tasks/extractRefreshes/{id}` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub luid: String,
    pub target_type: String,
    pub target_luid: String,
    /// The server schedule's id (Tableau Server); Tableau Cloud's inline
    /// schedules have none.
    pub schedule_luid: Option<String>,
    /// The `schedule` object as answered.
    pub schedule: Value,
}

/// Reads a task answer (pure).
pub fn parse_task(answer: &Value) -> Result<Task, String> {
    let t = &answer["task"]["extractRefresh"];
    let luid = t["id"].as_str().ok_or("the answer names no task.extractRefresh.id")?.to_string();
    let (target_type, target) = if t["datasource"].is_object() {
        ("datasource", &t["datasource"])
    } else if t["workbook"].is_object() {
        ("workbook", &t["workbook"])
    } else {
        return Err(format!("task {luid} names neither a datasource nor a workbook"));
    };
    Ok(Task {
        luid,
        target_type: target_type.into(),
        target_luid: target["id"].as_str().unwrap_or_default().to_string(),
        schedule_luid: t["schedule"]["id"].as_str().filter(|s| !s.is_empty()).map(str::to_string),
        schedule: t["schedule"].clone(),
    })
}

pub async fn read_task(client: &Client, luid: &str) -> anyhow::Result<Task> {
    let answer = client.get_json(&client.site_path(&format!("tasks/extractRefreshes/{luid}")), &[]).await?;
    parse_task(&answer).map_err(|e| anyhow::anyhow!("task {luid}: {e}"))
}

/// The name of the task's content, best effort (a name helps people; the
/// id is enough to refresh).
async fn content_name(client: &Client, kind: &str, luid: &str) -> Option<String> {
    let answer = client.get_json(&client.site_path(&format!("{kind}s/{luid}")), &[]).await.ok()?;
    answer[kind]["name"].as_str().map(str::to_string)
}

/// The refresh that runs task `luid` now.
pub async fn resolve_task(client: &Client, luid: &str) -> anyhow::Result<Refresh> {
    let task = read_task(client, luid).await?;
    Ok(Refresh {
        target_name: content_name(client, &task.target_type, &task.target_luid).await,
        target_type: task.target_type,
        target_luid: task.target_luid,
        project_path: None,
        task_luid: Some(task.luid),
        via_task: true,
        incremental: false,
    })
}

// ---------------------------------------------------------------------------
// Jobs

/// A job as `GET jobs/{id}` shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Job {
    pub id: String,
    pub progress: Option<u32>,
    /// 0 success, 1 failure, 2 cancelled; none until it ends.
    pub finish_code: Option<i64>,
    /// `extractRefreshJob.notes` and each `statusNotes.statusNote`.
    pub notes: Vec<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
}

impl Job {
    pub fn ended(&self) -> bool {
        self.finish_code.is_some()
    }

    /// What the job is doing, for progress lines.
    pub fn state(&self) -> String {
        match (self.finish_code, self.started_at.is_some(), self.progress) {
            (Some(code), _, _) => Outcome::from_finish_code(code).as_str().to_string(),
            (None, false, _) => "queued".into(),
            (None, true, Some(p)) => format!("in progress, {p}%"),
            (None, true, None) => "in progress".into(),
        }
    }
}

fn number(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Text of a note: a string, or `{"value": …}` when it has attributes too.
fn note_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => {
            let text = o.get("value").or_else(|| o.get("text")).and_then(Value::as_str)?;
            match o.get("type").and_then(Value::as_str) {
                Some(kind) => Some(format!("{kind}: {text}")),
                None => Some(text.to_string()),
            }
        }
        _ => None,
    }
}

fn one_or_many(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// Reads a job answer (pure).
pub fn parse_job(answer: &Value) -> Result<Job, String> {
    let j = &answer["job"];
    let id = j["id"].as_str().ok_or("the answer names no job.id")?.to_string();
    let mut notes = Vec::new();
    for (key, detail) in j.as_object().into_iter().flatten() {
        if key.ends_with("Job") && detail.is_object() {
            notes.extend(one_or_many(&detail["notes"]).into_iter().filter_map(note_text));
        }
    }
    notes.extend(one_or_many(&j["statusNotes"]["statusNote"]).into_iter().filter_map(note_text));
    Ok(Job {
        id,
        progress: number(&j["progress"]).map(|p| p.clamp(0, 100) as u32),
        finish_code: number(&j["finishCode"]),
        notes,
        started_at: j["startedAt"].as_str().map(str::to_string),
        completed_at: j["completedAt"].as_str().map(str::to_string),
    })
}

pub async fn read_job(client: &Client, id: &str) -> anyhow::Result<Job> {
    let answer = client.get_json(&client.site_path(&format!("jobs/{id}")), &[]).await?;
    parse_job(&answer).map_err(|e| anyhow::anyhow!("job {id}: {e}"))
}

/// How one refresh turned out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failed,
    Cancelled,
    /// `--timeout` passed first; the job goes on on the server.
    TimedOut,
    /// Waiting was interrupted (Ctrl-C) and the job was left running.
    Interrupted,
    /// Started, not followed (no `--wait`).
    Started,
    /// The start call failed or was never made.
    NotStarted,
}

impl Outcome {
    pub fn from_finish_code(code: i64) -> Outcome {
        match code {
            0 => Outcome::Success,
            2 => Outcome::Cancelled,
            _ => Outcome::Failed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
            Outcome::TimedOut => "timed out",
            Outcome::Interrupted => "interrupted",
            Outcome::Started => "started",
            Outcome::NotStarted => "not started",
        }
    }

    /// Whether the command counts it as a success (exit 0): a success, or
    /// a start that was not asked to be followed.
    pub fn ok(self) -> bool {
        matches!(self, Outcome::Success | Outcome::Started)
    }

    /// The job ended on the server.
    pub fn ended(self) -> bool {
        matches!(self, Outcome::Success | Outcome::Failed | Outcome::Cancelled)
    }
}

/// How to follow a job.
#[derive(Clone, Copy, Debug)]
pub struct Follow {
    /// Time between `GET jobs/{id}`.
    pub poll: Duration,
    /// Stop waiting (without cancelling) after this long.
    pub timeout: Option<Duration>,
}

/// Where following a job stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum Followed {
    Ended(Job),
    TimedOut(Job),
    Interrupted(Job),
}

/// Polls `GET jobs/{id}` until the job ends, `follow.timeout` passes or
/// `interrupted` turns true; `on_poll` sees each answer.
pub async fn follow(
    client: &Client,
    job_id: &str,
    follow: Follow,
    interrupted: &mut tokio::sync::watch::Receiver<bool>,
    on_poll: &(dyn Fn(&Job) + Sync),
) -> anyhow::Result<Followed> {
    let started = Instant::now();
    let mut last = Job { id: job_id.to_string(), ..Job::default() };
    loop {
        if *interrupted.borrow() {
            return Ok(Followed::Interrupted(last));
        }
        let job = read_job(client, job_id).await?;
        on_poll(&job);
        if job.ended() {
            return Ok(Followed::Ended(job));
        }
        last = job;
        let mut wait = follow.poll;
        if let Some(limit) = follow.timeout {
            let left = limit.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Ok(Followed::TimedOut(last));
            }
            wait = wait.min(left);
        }
        // A dropped sender means no interruption can come: just sleep.
        let interrupt = async {
            if interrupted.wait_for(|i| *i).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = interrupt => return Ok(Followed::Interrupted(last)),
        }
    }
}

/// The plan cancelling running jobs: `PUT jobs/{id}` each.
pub fn cancel_plan(jobs: &[(String, String)]) -> Plan {
    let mut plan = Plan::new();
    for (job, label) in jobs {
        plan.push(
            Call::site(WriteMethod::Put, format!("jobs/{job}"), "cancel job", format!("cancel the refresh of {label}"))
                .unit(job.clone()),
        );
    }
    plan
}

// ---------------------------------------------------------------------------
// Starting and following many

/// What became of one refresh.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub refresh: Refresh,
    pub job_id: Option<String>,
    pub outcome: Outcome,
    /// Unix seconds, local clock.
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// From the start call to the end seen, for jobs followed to the end.
    pub duration: Option<Duration>,
    pub finish_code: Option<i64>,
    pub notes: Vec<String>,
    /// Why it did not start, or why following it stopped.
    pub error: Option<String>,
}

/// What a run reports as it goes, for progress bars and log lines.
#[derive(Clone, Debug)]
pub enum Event<'a> {
    Started { index: usize, refresh: &'a Refresh, job_id: &'a str },
    Polled { index: usize, refresh: &'a Refresh, job: &'a Job },
    Finished { index: usize, result: &'a RunResult },
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn job_of(report: &Report, index: usize) -> Result<String, String> {
    let r = &report.results[index];
    match r.status {
        Status::Applied => r
            .answer
            .as_ref()
            .and_then(|a| a["job"]["id"].as_str())
            .map(str::to_string)
            .ok_or_else(|| "the server answered without a job id".to_string()),
        _ => Err(r.error.clone().unwrap_or_else(|| "the call was not made".into())),
    }
}

fn not_started(refresh: &Refresh, error: String) -> RunResult {
    RunResult {
        refresh: refresh.clone(),
        job_id: None,
        outcome: Outcome::NotStarted,
        started_at: None,
        ended_at: None,
        duration: None,
        finish_code: None,
        notes: Vec::new(),
        error: Some(error),
    }
}

/// Starts every refresh of `plan` (built by [`plan`] from `refreshes`).
///
/// Without `wait`, the engine makes all the start calls (a failed start
/// does not keep the others from starting). With `wait`, at most
/// `concurrency` refreshes are in flight: each is started (one call
/// through the engine) and followed to its end before the next starts.
/// Results are in plan order.
pub async fn run(
    client: &Client,
    refreshes: &[Refresh],
    plan: &Plan,
    wait: Option<Follow>,
    concurrency: usize,
    interrupted: tokio::sync::watch::Receiver<bool>,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Vec<RunResult> {
    assert_eq!(refreshes.len(), plan.len(), "one call per refresh");
    let Some(follow_opts) = wait else {
        let started_at = unix_now();
        let report = apply(client, plan, Options::skip_failed_units(client.concurrency()), &|_, _| {}).await;
        return refreshes
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let result = match job_of(&report, i) {
                    Ok(job) => {
                        on_event(Event::Started { index: i, refresh: r, job_id: &job });
                        RunResult {
                            refresh: r.clone(),
                            job_id: Some(job),
                            outcome: Outcome::Started,
                            started_at: Some(started_at),
                            ended_at: None,
                            duration: None,
                            finish_code: None,
                            notes: Vec::new(),
                            error: None,
                        }
                    }
                    Err(e) => not_started(r, e),
                };
                on_event(Event::Finished { index: i, result: &result });
                result
            })
            .collect();
    };

    let one = |i: usize| {
        let refresh = &refreshes[i];
        let call = plan.calls[i].clone();
        let mut interrupted = interrupted.clone();
        async move {
            if *interrupted.borrow() {
                return (i, not_started(refresh, "interrupted before it started".into()));
            }
            let single = Plan { calls: vec![call], notes: Vec::new() };
            let clock = Instant::now();
            let started_at = unix_now();
            let report = apply(client, &single, Options::stop_at_first_error(1), &|_, _| {}).await;
            let job_id = match job_of(&report, 0) {
                Ok(j) => j,
                Err(e) => return (i, not_started(refresh, e)),
            };
            on_event(Event::Started { index: i, refresh, job_id: &job_id });
            let poll = |job: &Job| on_event(Event::Polled { index: i, refresh, job });
            let followed = follow(client, &job_id, follow_opts, &mut interrupted, &poll).await;
            let mut result = RunResult {
                refresh: refresh.clone(),
                job_id: Some(job_id.clone()),
                outcome: Outcome::Interrupted,
                started_at: Some(started_at),
                ended_at: None,
                duration: None,
                finish_code: None,
                notes: Vec::new(),
                error: None,
            };
            match followed {
                Ok(Followed::Ended(job)) => {
                    result.outcome = Outcome::from_finish_code(job.finish_code.unwrap_or(1));
                    result.finish_code = job.finish_code;
                    result.notes = job.notes;
                    result.ended_at = Some(unix_now());
                    result.duration = Some(clock.elapsed());
                }
                Ok(Followed::TimedOut(_)) => {
                    result.outcome = Outcome::TimedOut;
                    result.error = Some(format!(
                        "still running after {} s (--timeout); the job goes on on the server",
                        follow_opts.timeout.unwrap_or_default().as_secs()
                    ));
                }
                Ok(Followed::Interrupted(_)) => result.outcome = Outcome::Interrupted,
                Err(e) => {
                    result.outcome = Outcome::Interrupted;
                    result.error = Some(format!("cannot follow job {job_id}: {e:#}"));
                }
            }
            (i, result)
        }
    };

    let mut results: Vec<Option<RunResult>> = vec![None; refreshes.len()];
    let mut queue = 0..refreshes.len();
    let mut in_flight = FuturesUnordered::new();
    loop {
        while in_flight.len() < concurrency.max(1) {
            let Some(i) = queue.next() else { break };
            in_flight.push(one(i));
        }
        let Some((i, result)) = in_flight.next().await else { break };
        on_event(Event::Finished { index: i, result: &result });
        results[i] = Some(result);
    }
    results.into_iter().map(|r| r.expect("every refresh has a result")).collect()
}

// ---------------------------------------------------------------------------
// The audit's broken extracts

/// A refresh task the audit flagged (`broken_extract`).
#[derive(Clone, Debug, PartialEq)]
pub struct BrokenTask {
    pub task_luid: String,
    pub asset_kind: String,
    pub asset_luid: Option<String>,
    pub asset_name: Option<String>,
    pub project_name: Option<String>,
    pub severity: String,
    pub reason_codes: Vec<String>,
}

/// The flagged tasks and the run whose findings they are.
#[derive(Clone, Debug)]
pub struct Broken {
    pub tasks: Vec<BrokenTask>,
    /// The run the findings describe.
    pub findings_run: Option<String>,
    /// The latest succeeded extraction run.
    pub latest_run: String,
}

/// `low` < `medium` < `high`.
pub fn severity_rank(s: &str) -> Option<u8> {
    match s {
        "low" => Some(0),
        "medium" => Some(1),
        "high" => Some(2),
        _ => None,
    }
}

/// The `broken_extract` findings with a task, of at least `min_severity`,
/// from the latest audited run of the warehouse at `db`, one per task.
pub fn broken_tasks(db: &Path, min_severity: Option<&str>) -> anyhow::Result<Broken> {
    use crate::warehouse::read;
    use duckdb::OptionalExt as _;
    let min = match min_severity {
        Some(s) => Some(severity_rank(s).ok_or_else(|| anyhow::anyhow!("--severity {s:?}: use low, medium or high"))?),
        None => None,
    };
    let conn = read::open(db)?;
    let latest = read::resolve_run(&conn, db, None)?;
    let mut stmt = conn.prepare(
        "SELECT task_luid, asset_kind, asset_luid, asset_name, project_name, severity, coalesce(reason_codes, '') \
         FROM findings WHERE detector = 'broken_extract' AND task_luid IS NOT NULL ORDER BY task_luid",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(BrokenTask {
            task_luid: r.get(0)?,
            asset_kind: r.get(1)?,
            asset_luid: r.get(2)?,
            asset_name: r.get(3)?,
            project_name: r.get(4)?,
            severity: r.get(5)?,
            reason_codes: r
                .get::<_, String>(6)?
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        })
    })?;
    let mut by_task: BTreeMap<String, BrokenTask> = BTreeMap::new();
    for row in rows {
        let task = row?;
        if min.is_some_and(|m| severity_rank(&task.severity).unwrap_or(0) < m) {
            continue;
        }
        by_task.entry(task.task_luid.clone()).or_insert(task);
    }
    // The run the `findings` view shows: the latest audited one.
    let findings_run = conn
        .query_row(
            "SELECT r.run_id FROM runs r JOIN run_tables t USING (run_id) \
             WHERE r.status = 'succeeded' AND t.table_name = 'findings' \
             ORDER BY r.as_of DESC, r.run_id DESC LIMIT 1",
            [],
            |r| r.get::<_, String>(0),
        )
        .optional()?;
    Ok(Broken { tasks: by_task.into_values().collect(), findings_run, latest_run: latest.run_id })
}

/// The refreshes re-running the flagged tasks, through each task.
pub fn broken_refreshes(tasks: &[BrokenTask]) -> Vec<Refresh> {
    tasks
        .iter()
        .map(|t| Refresh {
            target_type: t.asset_kind.clone(),
            target_luid: t.asset_luid.clone().unwrap_or_default(),
            target_name: t.asset_name.clone(),
            project_path: t.project_name.clone(),
            task_luid: Some(t.task_luid.clone()),
            via_task: true,
            incremental: false,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Recording

/// Who started the refreshes, and where.
#[derive(Clone, Debug, Default)]
pub struct Who {
    pub user_luid: Option<String>,
    pub user_name: Option<String>,
    pub server: Option<String>,
    pub site: Option<String>,
}

/// The signed-in user's LUID and name (the name best effort).
pub async fn who(client: &Client, site: &str) -> Who {
    let luid = client.user_id();
    let name = if luid.is_empty() {
        None
    } else {
        client
            .get_json(&client.site_path(&format!("users/{luid}")), &[])
            .await
            .ok()
            .and_then(|a| a["user"]["name"].as_str().map(str::to_string))
    };
    Who {
        user_luid: (!luid.is_empty()).then_some(luid),
        user_name: name,
        server: Some(client.server().to_string()),
        site: Some(site.to_string()),
    }
}

/// Appends the refreshes that ended to the warehouse's `refresh_runs`, in
/// one transaction. Returns the rows written.
pub fn record(db: &Path, who: &Who, results: &[RunResult]) -> anyhow::Result<u64> {
    use crate::warehouse::{append_log, Rows, V};
    let mut rows = Rows::new("refresh_runs");
    for r in results.iter().filter(|r| r.outcome.ended()) {
        let (Some(job), Some(started), Some(ended)) = (&r.job_id, r.started_at, r.ended_at) else { continue };
        let notes = r.notes.join("\n");
        rows.push(&[
            V::Text(job),
            who.user_luid.as_deref().into(),
            who.user_name.as_deref().into(),
            V::Text(&r.refresh.target_type),
            V::Text(&r.refresh.target_luid),
            r.refresh.target_name.as_deref().into(),
            r.refresh.task_luid.as_deref().into(),
            V::Time(started),
            V::Time(ended),
            V::Text(r.outcome.as_str()),
            r.finish_code.map_or(V::Null, V::Int),
            if notes.is_empty() { V::Null } else { V::Text(&notes) },
            who.server.as_deref().into(),
            who.site.as_deref().into(),
        ])?;
    }
    if rows.is_empty() {
        return Ok(0);
    }
    Ok(append_log(db, "refresh_runs", rows.finish())?)
}

// ---------------------------------------------------------------------------
// Rescheduling

/// A Tableau Cloud schedule from `--every`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Every {
    /// `Hourly`, `Daily` or `Weekly`.
    pub frequency: &'static str,
    /// Hours between runs (hourly, daily).
    pub hours: Option<u32>,
    pub start: (u32, u32),
    /// `Monday`, … (weekly).
    pub weekdays: Vec<&'static str>,
}

const DAYS: &[(&str, &str)] = &[
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

fn parse_time(text: &str) -> Result<(u32, u32), String> {
    let (h, m) = text.split_once(':').ok_or_else(|| format!("{text:?} is not a time of day (HH:MM)"))?;
    let (h, m): (u32, u32) = match (h.parse(), m.parse()) {
        (Ok(h), Ok(m)) if h < 24 && m < 60 => (h, m),
        _ => return Err(format!("{text:?} is not a time of day (HH:MM, 00:00 to 23:55)")),
    };
    if m % 5 != 0 {
        return Err(format!("{text:?}: Tableau Cloud schedules start on five-minute boundaries (:00, :05, …, :55)"));
    }
    Ok((h, m))
}

fn parse_hours(text: &str, allowed: &[u32], what: &str) -> Result<u32, String> {
    let n: u32 = text
        .strip_suffix('h')
        .unwrap_or(text)
        .parse()
        .map_err(|_| format!("{text:?} is not a number of hours such as 4h"))?;
    if !allowed.contains(&n) {
        let list: Vec<String> = allowed.iter().map(|h| h.to_string()).collect();
        return Err(format!("Tableau Cloud runs {what} schedules every {} hours, not every {n}", list.join(", ")));
    }
    Ok(n)
}

/// Parses `--every`, checking Tableau Cloud's rules:
/// - `hourly Nh [HH:MM]`: every 1, 2, 4, 6, 8 or 12 hours from HH:MM (00:00);
/// - `daily HH:MM [Nh]`: once a day at HH:MM, or every 2, 4, 6, 8 or 12 hours from it;
/// - `weekly DAY[,DAY…] HH:MM`: on the named days (mon … sun) at HH:MM.
pub fn parse_every(text: &str) -> Result<Every, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let usage = "use 'hourly 4h [HH:MM]', 'daily 02:00 [Nh]' or 'weekly mon,thu 03:00'";
    let bad = |why: String| format!("--every {text:?}: {why}");
    match words.as_slice() {
        ["hourly", every, rest @ ..] if rest.len() <= 1 => Ok(Every {
            frequency: "Hourly",
            hours: Some(parse_hours(every, &[1, 2, 4, 6, 8, 12], "hourly").map_err(bad)?),
            start: rest.first().map(|t| parse_time(t)).transpose().map_err(bad)?.unwrap_or((0, 0)),
            weekdays: Vec::new(),
        }),
        ["daily", at, rest @ ..] if rest.len() <= 1 => Ok(Every {
            frequency: "Daily",
            hours: Some(
                rest.first()
                    .map(|h| parse_hours(h, &[2, 4, 6, 8, 12, 24], "daily"))
                    .transpose()
                    .map_err(bad)?
                    .unwrap_or(24),
            ),
            start: parse_time(at).map_err(bad)?,
            weekdays: Vec::new(),
        }),
        ["weekly", days, at] => {
            let mut weekdays = Vec::new();
            for d in days.split(',').map(|d| d.trim().to_ascii_lowercase()) {
                let full = DAYS
                    .iter()
                    .find(|(short, long)| d == *short || d == long.to_ascii_lowercase())
                    .map(|(_, long)| *long)
                    .ok_or_else(|| bad(format!("{d:?} is not a day (mon, tue, wed, thu, fri, sat, sun)")))?;
                if !weekdays.contains(&full) {
                    weekdays.push(full);
                }
            }
            Ok(Every { frequency: "Weekly", hours: None, start: parse_time(at).map_err(bad)?, weekdays })
        }
        _ => Err(bad(usage.to_string())),
    }
}

impl Every {
    fn start_text(&self) -> String {
        format!("{:02}:{:02}:00", self.start.0, self.start.1)
    }

    /// The `schedule` object Tableau Cloud takes.
    pub fn schedule(&self) -> Value {
        let start = self.start_text();
        let mut details = json!({"start": start.clone()});
        let intervals: Vec<Value> = match self.frequency {
            "Weekly" => self.weekdays.iter().map(|d| json!({"weekDay": d})).collect(),
            _ => vec![json!({"hours": self.hours.unwrap_or(24).to_string()})],
        };
        if self.frequency == "Hourly" {
            // Around the clock: the window ends where it starts.
            details["end"] = Value::from(start);
        }
        details["intervals"] = json!({"interval": intervals});
        json!({"frequency": self.frequency, "frequencyDetails": details})
    }

    /// Whether a task's current `schedule` already is this one.
    pub fn matches(&self, schedule: &Value) -> bool {
        let details = &schedule["frequencyDetails"];
        if schedule["frequency"].as_str() != Some(self.frequency) {
            return false;
        }
        let start = details["start"].as_str().unwrap_or_default();
        if start.get(..5) != Some(&self.start_text()[..5]) {
            return false;
        }
        let intervals = one_or_many(&details["intervals"]["interval"]);
        match self.frequency {
            "Weekly" => {
                let mut have: Vec<&str> = intervals.iter().filter_map(|i| i["weekDay"].as_str()).collect();
                let mut want = self.weekdays.clone();
                have.sort_unstable();
                want.sort_unstable();
                have == want
            }
            _ => {
                let hours = intervals.iter().find_map(|i| number(&i["hours"]));
                hours == self.hours.map(i64::from)
            }
        }
    }

    pub fn describe(&self) -> String {
        match self.frequency {
            "Hourly" => format!("every {} hour(s) from {}", self.hours.unwrap_or(1), &self.start_text()[..5]),
            "Daily" if self.hours == Some(24) => format!("daily at {}", &self.start_text()[..5]),
            "Daily" => format!("daily every {} hours from {}", self.hours.unwrap_or(24), &self.start_text()[..5]),
            _ => format!("weekly on {} at {}", self.weekdays.join(", "), &self.start_text()[..5]),
        }
    }
}

/// Which product the site is, as far as rescheduling goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Tasks sit on server schedules (the task's schedule has an id).
    Server,
    /// Each task carries its own schedule (no id).
    Cloud,
}

pub fn flavor_of(task: &Task) -> Flavor {
    if task.schedule_luid.is_some() {
        Flavor::Server
    } else {
        Flavor::Cloud
    }
}

/// Where to move a task.
#[derive(Clone, Debug)]
pub enum NewSchedule {
    /// A Tableau Server schedule, by name.
    Named(String),
    /// A Tableau Cloud schedule of the task's own.
    Every(Every),
}

/// The plan moving `task` (Tableau Server: `schedules` is the server's
/// schedule list, each `{"id", "name", "type"}`). Refuses, before any
/// call, what the site's flavour does not support.
pub fn reschedule_plan(task: &Task, to: &NewSchedule, schedules: &[Value]) -> Result<Plan, RefreshError> {
    let mut plan = Plan::new();
    let unit = task.luid.clone();
    match (flavor_of(task), to) {
        (Flavor::Cloud, NewSchedule::Named(name)) => Err(RefreshError::Schedule(format!(
            "this is Tableau Cloud: it has no server schedules, so task {} cannot move to schedule {name:?}; give it a schedule of its own with --every",
            task.luid
        ))),
        (Flavor::Server, NewSchedule::Every(_)) => Err(RefreshError::Schedule(format!(
            "this is Tableau Server: tasks run on server schedules, so move task {} with --schedule NAME (see the schedules table)",
            task.luid
        ))),
        (Flavor::Server, NewSchedule::Named(name)) => {
            let named: Vec<&Value> = schedules.iter().filter(|s| s["name"].as_str() == Some(name.as_str())).collect();
            let extract: Vec<&Value> = named.iter().copied().filter(|s| s["type"].as_str().is_none_or(|t| t == "Extract")).collect();
            let target = match (named.len(), extract.as_slice()) {
                (0, _) => {
                    let mut known: Vec<&str> = schedules
                        .iter()
                        .filter(|s| s["type"].as_str().is_none_or(|t| t == "Extract"))
                        .filter_map(|s| s["name"].as_str())
                        .collect();
                    known.sort_unstable();
                    return Err(RefreshError::Schedule(format!(
                        "no server schedule is named {name:?}; extract schedules: {}",
                        known.join(", ")
                    )));
                }
                (_, []) => {
                    return Err(RefreshError::Schedule(format!(
                        "schedule {name:?} is not an extract schedule, so it cannot run refresh tasks"
                    )))
                }
                (_, [one]) => *one,
                (_, _) => {
                    return Err(RefreshError::Schedule(format!("{} extract schedules are named {name:?}", extract.len())))
                }
            };
            let sid = target["id"].as_str().unwrap_or_default();
            if task.schedule_luid.as_deref() == Some(sid) {
                plan.note(Some(unit), format!("already on schedule {name:?}"));
                return Ok(plan);
            }
            let kind = &task.target_type;
            let mut target_ref = serde_json::Map::new();
            target_ref.insert(kind.clone(), json!({"id": task.target_luid}));
            plan.push(
                Call::site(
                    WriteMethod::Put,
                    format!("schedules/{sid}/{kind}s"),
                    "add to schedule",
                    format!("add the {kind} {} to schedule {name:?}", task.target_luid),
                )
                .body(json!({"task": {"extractRefresh": target_ref}}))
                .unit(unit.clone()),
            );
            plan.push(
                Call::site(
                    WriteMethod::Delete,
                    format!("tasks/extractRefreshes/{}", task.luid),
                    "remove old task",
                    format!("remove task {} from its old schedule", task.luid),
                )
                .unit(unit)
                .step(2),
            );
            Ok(plan)
        }
        (Flavor::Cloud, NewSchedule::Every(every)) => {
            if every.matches(&task.schedule) {
                plan.note(Some(unit), format!("already runs {}", every.describe()));
                return Ok(plan);
            }
            plan.push(
                Call::site(
                    WriteMethod::Post,
                    format!("tasks/extractRefreshes/{}", task.luid),
                    "change task schedule",
                    format!("run task {} {}", task.luid, every.describe()),
                )
                .body(json!({"extractRefresh": {}, "schedule": every.schedule()}))
                .unit(unit),
            );
            Ok(plan)
        }
    }
}

/// The task now refreshing `target_luid` on schedule `schedule_luid`: on
/// Tableau Server a move makes a new task, and the answer does not name it.
pub async fn task_on_schedule(
    client: &Client,
    target_luid: &str,
    schedule_luid: &str,
) -> anyhow::Result<Option<String>> {
    let tasks = list_all(client, &client.site_path("tasks/extractRefreshes"), "tasks", "task", &[]).await?;
    Ok(tasks
        .iter()
        .filter_map(|t| parse_task(&json!({"task": t})).ok())
        .find(|t| t.target_luid == target_luid && t.schedule_luid.as_deref() == Some(schedule_luid))
        .map(|t| t.luid))
}

/// The server's schedules (Tableau Server), for [`reschedule_plan`].
pub async fn server_schedules(client: &Client) -> anyhow::Result<Vec<Value>> {
    Ok(list_all(client, "schedules", "schedules", "schedule", &[]).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_read_finish_codes_and_notes() {
        let running = json!({"job": {"id": "j1", "progress": "40", "startedAt": "2026-01-01T00:00:00Z",
            "extractRefreshJob": {"datasource": {"id": "d", "name": "Sales"}}}});
        let j = parse_job(&running).unwrap();
        assert!(!j.ended());
        assert_eq!(j.state(), "in progress, 40%");
        let failed = json!({"job": {"id": "j1", "finishCode": "1", "progress": "100",
            "extractRefreshJob": {"datasource": {"id": "d"}, "notes": "login failed"},
            "statusNotes": {"statusNote": [{"type": "Count", "value": "5"}]}}});
        let j = parse_job(&failed).unwrap();
        assert_eq!(j.finish_code, Some(1));
        assert_eq!(j.notes, vec!["login failed".to_string(), "Count: 5".to_string()]);
        assert_eq!(Outcome::from_finish_code(2), Outcome::Cancelled);
        assert!(parse_job(&json!({"job": {}})).is_err());
    }

    #[test]
    fn starts_are_content_refreshes_or_task_runs() {
        let mut r = Refresh {
            target_type: "datasource".into(),
            target_luid: "d1".into(),
            target_name: Some("Sales".into()),
            project_path: Some("Finance".into()),
            task_luid: None,
            via_task: false,
            incremental: true,
        };
        let c = r.call();
        assert_eq!(c.line(), "POST datasources/d1/refresh");
        assert_eq!(c.body, Some(json!({"extractRefresh": {"incremental": true}})));
        r.incremental = false;
        assert_eq!(r.call().body, Some(json!({})));
        r.task_luid = Some("t1".into());
        r.via_task = true;
        assert_eq!(r.call().line(), "POST tasks/extractRefreshes/t1/runNow");
        assert!(check_incremental("3.24").unwrap_err().to_string().contains("3.25"));
        assert!(check_incremental("3.27").is_ok());
    }

    #[test]
    fn live_datasources_are_refused() {
        let found = Found {
            luid: "d1".into(),
            name: "Live".into(),
            project_path: "Finance".into(),
            item: json!({"hasExtracts": "false"}),
        };
        let e = content_refresh("datasource", &found, false).unwrap_err().to_string();
        assert!(e.contains("has no extract") && e.contains("Finance") && e.contains("d1"), "{e}");
        let found = Found { item: json!({"hasExtracts": true}), ..found };
        assert!(content_refresh("datasource", &found, false).is_ok());
    }

    #[test]
    fn every_follows_cloud_rules() {
        let e = parse_every("daily 02:00").unwrap();
        assert_eq!((e.frequency, e.hours, e.start), ("Daily", Some(24), (2, 0)));
        let e = parse_every("hourly 4h").unwrap();
        assert_eq!((e.frequency, e.hours, e.start), ("Hourly", Some(4), (0, 0)));
        let e = parse_every("weekly mon,thu 03:00").unwrap();
        assert_eq!(e.weekdays, vec!["Monday", "Thursday"]);
        assert!(parse_every("daily 02:03").unwrap_err().contains("five-minute"));
        assert!(parse_every("hourly 3h").unwrap_err().contains("1, 2, 4, 6, 8, 12"));
        assert!(parse_every("daily 02:00 5h").unwrap_err().contains("2, 4, 6, 8, 12, 24"));
        assert!(parse_every("weekly xyz 03:00").unwrap_err().contains("not a day"));
        assert!(parse_every("monthly").unwrap_err().contains("use"));
        assert!(parse_every("daily 25:00").is_err());
    }

    #[test]
    fn reschedule_plans_by_flavour_and_is_empty_when_already_there() {
        let server_task = Task {
            luid: "t1".into(),
            target_type: "datasource".into(),
            target_luid: "d1".into(),
            schedule_luid: Some("s-old".into()),
            schedule: json!({"id": "s-old"}),
        };
        let schedules = vec![
            json!({"id": "s-old", "name": "Nightly", "type": "Extract"}),
            json!({"id": "s-new", "name": "Early", "type": "Extract"}),
            json!({"id": "s-sub", "name": "Mail", "type": "Subscription"}),
        ];
        let plan = reschedule_plan(&server_task, &NewSchedule::Named("Early".into()), &schedules).unwrap();
        let lines: Vec<String> = plan.calls.iter().map(|c| c.line()).collect();
        assert_eq!(lines, vec!["PUT schedules/s-new/datasources", "DELETE tasks/extractRefreshes/t1"]);
        assert!(plan.check().is_ok());
        assert!(reschedule_plan(&server_task, &NewSchedule::Named("Nightly".into()), &schedules).unwrap().is_empty());
        let e = reschedule_plan(&server_task, &NewSchedule::Named("Mail".into()), &schedules).unwrap_err().to_string();
        assert!(e.contains("not an extract schedule"), "{e}");
        let e = reschedule_plan(&server_task, &NewSchedule::Named("Nope".into()), &schedules).unwrap_err().to_string();
        assert!(e.contains("Early, Nightly"), "{e}");
        let every = parse_every("daily 02:00").unwrap();
        assert!(reschedule_plan(&server_task, &NewSchedule::Every(every.clone()), &schedules).is_err());

        let cloud_task = Task {
            schedule_luid: None,
            schedule: json!({"frequency": "Daily", "frequencyDetails": {"start": "02:00:00",
                "intervals": {"interval": [{"hours": "24"}]}}}),
            ..server_task
        };
        assert!(reschedule_plan(&cloud_task, &NewSchedule::Every(every), &[]).unwrap().is_empty());
        let weekly = parse_every("weekly mon,thu 03:00").unwrap();
        let plan = reschedule_plan(&cloud_task, &NewSchedule::Every(weekly), &[]).unwrap();
        assert_eq!(plan.calls[0].line(), "POST tasks/extractRefreshes/t1");
        let body = plan.calls[0].body.clone().unwrap();
        assert_eq!(body["schedule"]["frequencyDetails"]["intervals"]["interval"][1]["weekDay"], "Thursday");
        assert!(reschedule_plan(&cloud_task, &NewSchedule::Named("Early".into()), &[]).is_err());
    }
}
