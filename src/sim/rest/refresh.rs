//! Extract refreshes: schedules, refresh tasks and the jobs they ran; and
//! the writes that start refreshes, cancel jobs and move tasks between
//! schedules.
//!
//! Spec: <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_jobs_tasks_and_schedules.htm>
//! and <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_extract_and_encryption.htm>
//! - Scheduled jobs and consecutive-failure counts are functions of the
//!   simulated clock, so moving the clock runs more refreshes.
//! - A refresh started through the API is a job that runs on the clock too:
//!   queued, in progress, then finished after the configured wall-clock
//!   duration or as soon as the clock moves. Tasks planted as failing keep
//!   failing; others succeed.
//! - On Tableau Cloud there is no schedule list: each task carries its own
//!   schedule, changed with `POST tasks/extractRefreshes/{id}`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::body::El;
use super::content::{find_datasource, find_workbook, ItemPath};
use super::error::{codes, ApiError};
use super::query::{self, ListParams, Val};
use super::request::{self, Node};
use super::{find, Ctx, St};
use crate::sim::dataset::{
    AdhocJob, Dataset, Entity, ExtractTask, Frequency, Health, JobPhase, Schedule, ScheduleType, Target, DAY,
};
use crate::sim::manifest::iso;
use crate::sim::{Flavor, SimState};

const WEEKDAYS: &[&str] = &["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];

/// The first run of schedule `s` strictly after `now`.
fn next_run(d: &Dataset, s: u32, now: i64) -> i64 {
    let s = &d.schedules[s as usize];
    let period = s.period_secs();
    let origin = s.start_hour * 3600 + s.start_minute * 60;
    now + (period - (now - origin).rem_euclid(period))
}

fn start_text(s: &Schedule) -> String {
    format!("{:02}:{:02}:00", s.start_hour, s.start_minute)
}

fn frequency_details(d: &Dataset, i: u32, next: i64) -> El {
    let s = &d.schedules[i as usize];
    let start = start_text(s);
    let mut intervals: Vec<El> = match s.frequency {
        Frequency::Hourly => vec![El::new("interval").attr("hours", s.interval_hours)],
        Frequency::Daily => vec![El::new("interval").attr("hours", 24)],
        // Unix day 0 was a Thursday.
        Frequency::Weekly if s.weekdays.is_empty() => {
            vec![El::new("interval").attr("weekDay", WEEKDAYS[(next.div_euclid(DAY) % 7) as usize])]
        }
        Frequency::Weekly => Vec::new(),
        Frequency::Monthly => vec![El::new("interval").attr("monthDay", 1)],
    };
    intervals.extend(s.weekdays.iter().map(|w| El::new("interval").attr("weekDay", w)));
    let mut details = El::new("frequencyDetails").attr("start", &start);
    if s.frequency == Frequency::Hourly {
        details = details.attr("end", &start);
    }
    details.child(El::collection("intervals").children(intervals))
}

fn schedule_el(st: &SimState, d: &Dataset, i: u32) -> El {
    let s = &d.schedules[i as usize];
    let next = next_run(d, i, st.now());
    El::new("schedule")
        .attr("id", &s.id)
        .attr("name", &s.name)
        .attr("state", if s.suspended_at.is_some() { "Suspended" } else { "Active" })
        .attr("priority", s.priority)
        .attr("createdAt", iso(s.created_at))
        .attr("updatedAt", iso(s.suspended_at.unwrap_or(s.updated_at).max(s.updated_at)))
        .attr(
            "type",
            match s.kind {
                ScheduleType::Extract => "Extract",
                ScheduleType::Subscription => "Subscription",
            },
        )
        .attr("frequency", s.frequency.as_str())
        .attr_opt("nextRunAt", s.suspended_at.is_none().then(|| iso(next)))
        .attr("executionOrder", "Parallel")
        .child(frequency_details(d, i, next))
}

/// A task's schedule as Tableau Cloud shows it: no id, name or state.
fn inline_schedule_el(st: &SimState, d: &Dataset, i: u32) -> El {
    let s = &d.schedules[i as usize];
    let next = next_run(d, i, st.now());
    El::new("schedule").attr("frequency", s.frequency.as_str()).attr("nextRunAt", iso(next)).child(frequency_details(d, i, next))
}

fn cloud_has_no_schedules() -> ApiError {
    ApiError::forbidden(
        "Server schedules are not available on Tableau Cloud: each extract refresh task carries its own schedule \
         (frequency and frequency details).",
    )
}

fn listed_schedules(d: &Dataset) -> impl Iterator<Item = u32> + '_ {
    (0..d.schedules.len() as u32).filter(|&i| !d.schedules[i as usize].inline)
}

/// `GET /api/{v}/schedules` (server level, as on Tableau Server).
pub async fn list_schedules(ctx: Ctx, State(st): St, Query(q): Query<ListParams>) -> Response {
    if st.config.flavor == Flavor::Cloud {
        return ctx.error(cloud_has_no_schedules());
    }
    let d = &st.data();
    let page = query::list(listed_schedules(d), &q, &["name", "frequency", "state"], |i, f| {
        let s = &d.schedules[i as usize];
        match f {
            "name" => Val::Str(&s.name),
            "frequency" => Val::Str(s.frequency.as_str()),
            _ => Val::Str(if s.suspended_at.is_some() { "Suspended" } else { "Active" }),
        }
    });
    ctx.reply(page.map(|p| {
        vec![p.pagination, El::collection("schedules").children(p.items.into_iter().map(|i| schedule_el(&st, d, i)))]
    }))
}

fn find_schedule(st: &SimState, d: &Dataset, id: &str) -> Result<u32, ApiError> {
    if st.config.flavor == Flavor::Cloud {
        return Err(cloud_has_no_schedules());
    }
    find(d, id, codes::SCHEDULE, "Schedule", |e| match e {
        Entity::Schedule(i) => Some(i),
        _ => None,
    })
}

/// `GET /api/{v}/schedules/{id}`
pub async fn get_schedule(ctx: Ctx, State(st): St, Path((_, id)): Path<(String, String)>) -> Response {
    let d = &st.data();
    ctx.reply(find_schedule(&st, d, &id).map(|i| vec![schedule_el(&st, d, i)]))
}

fn target_el(d: &Dataset, target: Target, with_name: bool) -> El {
    let (el, id, name) = match target {
        Target::Workbook(w) => ("workbook", &d.workbooks[w as usize].id, &d.workbooks[w as usize].name),
        Target::Datasource(x) => ("datasource", &d.datasources[x as usize].id, &d.datasources[x as usize].name),
    };
    let e = El::new(el).attr("id", id);
    if with_name {
        e.attr("name", name)
    } else {
        e
    }
}

fn task_el(st: &SimState, d: &Dataset, i: u32) -> El {
    let t = &d.tasks[i as usize];
    let schedule = match st.config.flavor {
        Flavor::Server => schedule_el(st, d, t.schedule),
        Flavor::Cloud => inline_schedule_el(st, d, t.schedule),
    };
    El::new("task").child(
        El::new("extractRefresh")
            .attr("id", &t.id)
            .attr("priority", t.priority)
            .attr("consecutiveFailedCount", d.consecutive_failures(i, st.now()))
            .attr("type", "RefreshExtractTask")
            .child(schedule)
            .child(target_el(d, t.target, false)),
    )
}

/// `GET /api/{v}/sites/{site}/tasks/extractRefreshes`
pub async fn list_tasks(ctx: Ctx, State(st): St, Query(q): Query<ListParams>) -> Response {
    let d = &st.data();
    let now = st.now();
    let live = (0..d.tasks.len() as u32).filter(|&i| !d.tasks[i as usize].deleted);
    let page = query::list(live, &q, &["consecutiveFailedCount"], |i, _| {
        Val::Num(d.consecutive_failures(i, now) as i64)
    });
    ctx.reply(page.map(|p| vec![p.pagination, El::collection("tasks").children(p.items.into_iter().map(|i| task_el(&st, d, i)))]))
}

fn find_task(d: &Dataset, id: &str) -> Result<u32, ApiError> {
    find(d, id, codes::TASK, "Task", |e| match e {
        Entity::Task(i) => Some(i),
        _ => None,
    })
}

/// `GET /api/{v}/sites/{site}/tasks/extractRefreshes/{id}`
pub async fn get_task(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let d = &st.data();
    ctx.reply(find_task(d, &path.id).map(|i| vec![task_el(&st, d, i)]))
}

/// `DELETE /api/{v}/sites/{site}/tasks/extractRefreshes/{id}` (3.6): the
/// task stops running and is no longer listed; its content keeps its
/// extract.
pub async fn delete_task(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let result = (|| {
        let mut d = st.write();
        let t = find_task(&d, &path.id)?;
        let target = d.tasks[t as usize].target;
        d.tasks[t as usize].deleted = true;
        d.unindex_id(&path.id);
        if d.task_of.get(&target) == Some(&t) {
            d.task_of.remove(&target);
        }
        d.task_version += 1;
        Ok(())
    })();
    ctx.no_content(result)
}

/// One job as the jobs endpoints show it, scheduled or started through the API.
struct JobView<'a> {
    id: &'a str,
    target: Target,
    created_at: i64,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    progress: u8,
    /// `Pending`, `InProgress`, `Success`, `Failed`, `Cancelled`.
    status: &'static str,
    finish_code: Option<u8>,
}

fn scheduled_view<'a>(d: &Dataset, j: &'a crate::sim::dataset::Job) -> JobView<'a> {
    JobView {
        id: &j.id,
        target: d.tasks[j.task as usize].target,
        created_at: j.created_at,
        started_at: Some(j.started_at),
        ended_at: Some(j.ended_at),
        progress: 100,
        status: if j.failed { "Failed" } else { "Success" },
        finish_code: Some(j.failed as u8),
    }
}

fn adhoc_view<'a>(st: &SimState, j: &'a AdhocJob) -> JobView<'a> {
    let base = JobView {
        id: &j.id,
        target: j.target,
        created_at: j.created_at,
        started_at: None,
        ended_at: None,
        progress: 0,
        status: "Pending",
        finish_code: None,
    };
    match st.job_phase(j) {
        JobPhase::Queued => base,
        JobPhase::InProgress(p) => JobView { started_at: Some(j.started_at), progress: p, status: "InProgress", ..base },
        JobPhase::Finished => JobView {
            started_at: Some(j.started_at),
            ended_at: Some(j.ended_at),
            progress: 100,
            status: if j.failed { "Failed" } else { "Success" },
            finish_code: Some(j.failed as u8),
            ..base
        },
        JobPhase::Cancelled => JobView { ended_at: Some(j.created_at), status: "Cancelled", finish_code: Some(2), ..base },
    }
}

fn background_job_el(d: &Dataset, j: &JobView) -> El {
    let (title, subtitle) = match j.target {
        Target::Workbook(w) => (&d.workbooks[w as usize].name, "Workbook"),
        Target::Datasource(x) => (&d.datasources[x as usize].name, "Data Source"),
    };
    El::new("backgroundJob")
        .attr("id", j.id)
        .attr("status", j.status)
        .attr("createdAt", iso(j.created_at))
        .attr_opt("startedAt", j.started_at.map(iso))
        .attr_opt("endedAt", j.ended_at.map(iso))
        .attr("priority", 50)
        .attr("jobType", "refresh_extracts")
        .attr("title", title)
        .attr("subtitle", subtitle)
}

/// `GET /api/{v}/sites/{site}/jobs`: the history window, then jobs started
/// through the API.
pub async fn list_jobs(ctx: Ctx, State(st): St, Query(q): Query<ListParams>) -> Response {
    let d = &st.data();
    let scheduled = st.jobs(d);
    let views: Vec<JobView> =
        scheduled.iter().map(|j| scheduled_view(d, j)).chain(d.adhoc_jobs.iter().map(|j| adhoc_view(&st, j))).collect();
    let known = ["status", "jobType", "createdAt", "startedAt", "endedAt", "title", "subtitle"];
    let page = query::list(views.iter(), &q, &known, |j, f| match f {
        "status" => Val::Str(j.status),
        "jobType" => Val::Str("refresh_extracts"),
        "createdAt" => Val::Time(Some(j.created_at)),
        "startedAt" => Val::Time(j.started_at),
        "endedAt" => Val::Time(j.ended_at),
        "title" => match j.target {
            Target::Workbook(w) => Val::Str(&d.workbooks[w as usize].name),
            Target::Datasource(x) => Val::Str(&d.datasources[x as usize].name),
        },
        _ => Val::Str(match j.target {
            Target::Workbook(_) => "Workbook",
            Target::Datasource(_) => "Data Source",
        }),
    });
    ctx.reply(page.map(|p| {
        vec![p.pagination, El::collection("backgroundJobs").children(p.items.into_iter().map(|j| background_job_el(d, j)))]
    }))
}

const FAILURE_NOTES: &str = "com.tableausoftware.nativeapi.exceptions.DataSourceException: the connection to the \
                             database was refused (credentials expired or the table no longer exists)";

fn job_el(d: &Dataset, j: &JobView) -> El {
    let mut detail = El::new("extractRefreshJob").child(target_el(d, j.target, true));
    if j.status == "Failed" {
        detail.push(El::new("notes").text(FAILURE_NOTES));
    }
    El::new("job")
        .attr("id", j.id)
        .attr("mode", "Asynchronous")
        .attr("type", "RefreshExtract")
        .attr("progress", j.progress)
        .attr("createdAt", iso(j.created_at))
        .attr_opt("startedAt", j.started_at.map(iso))
        .attr_opt("completedAt", j.ended_at.filter(|_| j.finish_code.is_some()).map(iso))
        .attr_opt("finishCode", j.finish_code)
        .child(detail)
}

/// `GET /api/{v}/sites/{site}/jobs/{id}`: one job with its `finishCode`
/// (0 success, 1 failure, 2 cancelled) once it has finished.
pub async fn get_job(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let d = &st.data();
    if let Some(j) = d.adhoc_jobs.iter().find(|j| j.id == path.id) {
        return ctx.ok(vec![job_el(d, &adhoc_view(&st, j))]);
    }
    if let Some(el) = super::publish::job_el(d, &path.id) {
        return ctx.ok(vec![el]);
    }
    let scheduled = st.jobs(d);
    match scheduled.iter().find(|j| j.id == path.id) {
        Some(j) => ctx.ok(vec![job_el(d, &scheduled_view(d, j))]),
        None => ctx.error(ApiError::not_found(codes::JOB, "Job", &path.id)),
    }
}

/// `PUT /api/{v}/sites/{site}/jobs/{id}`: cancels a job that has not finished.
pub async fn cancel_job(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let result = (|| {
        let mut d = st.write();
        let Some(at) = d.adhoc_jobs.iter().position(|j| j.id == path.id) else {
            let known = st.jobs(&d).iter().any(|j| j.id == path.id);
            return Err(if known {
                ApiError::conflict("409000", "The job has already finished, so it cannot be cancelled.")
            } else {
                ApiError::not_found(codes::JOB, "Job", &path.id)
            });
        };
        match st.job_phase(&d.adhoc_jobs[at]) {
            JobPhase::Finished | JobPhase::Cancelled => {
                Err(ApiError::conflict("409000", "The job has already finished, so it cannot be cancelled."))
            }
            _ => {
                d.adhoc_jobs[at].cancelled = true;
                st.pending_jobs.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }
        }
    })();
    match result {
        Ok(()) => ctx.ok(Vec::new()),
        Err(e) => ctx.error(e),
    }
}

/// Starts a refresh of `target`; the outcome follows its task's health.
fn start_job(st: &SimState, d: &mut Dataset, target: Target, task: Option<u32>, incremental: bool) -> Result<usize, ApiError> {
    let busy = d.adhoc_jobs.iter().any(|j| j.target == target && !matches!(st.job_phase(j), JobPhase::Finished | JobPhase::Cancelled));
    if busy {
        return Err(ApiError::conflict(
            "409093",
            "An extract refresh of this content is already queued or in progress; wait for it to finish.",
        ));
    }
    let task = task.or_else(|| d.task_of.get(&target).copied());
    let failed = task.is_some_and(|t| matches!(d.tasks[t as usize].health, Health::FailingSince { .. }));
    let n = d.adhoc_jobs.len() as u64;
    let key = crate::sim::dataset::rng::mix(d.seed ^ 0x10b5 ^ n.rotate_left(20));
    let created_at = st.now();
    let started_at = created_at + 5 + (key % 30) as i64;
    d.adhoc_jobs.push(AdhocJob {
        id: crate::sim::dataset::rng::Rng::new(key).uuid(),
        target,
        task,
        incremental,
        created_at,
        started_at,
        ended_at: started_at + 20 + ((key >> 12) % 240) as i64,
        failed,
        created_day: st.day(),
        created_wall: std::time::Instant::now(),
        done: false,
        cancelled: false,
    });
    st.pending_jobs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Ok(d.adhoc_jobs.len() - 1)
}

fn accepted(ctx: Ctx, d: &Dataset, job: usize, with_target: bool) -> Response {
    let j = &d.adhoc_jobs[job];
    let mut el = El::new("job").attr("id", &j.id).attr("mode", "Asynchronous").attr("type", "RefreshExtract").attr("createdAt", iso(j.created_at));
    if with_target {
        el = el.child(El::new("extractRefreshJob").child(target_el(d, j.target, true)));
    }
    let mut resp = ctx.ok(vec![el]);
    *resp.status_mut() = StatusCode::ACCEPTED;
    resp
}

fn no_extract(what: &str, name: &str) -> ApiError {
    ApiError::bad_request(
        "400000",
        "Bad Request",
        format!("The {what} '{name}' has no extract to refresh: it connects live to its data."),
    )
}

fn incremental(ctx: Ctx, headers: &HeaderMap, body: &[u8]) -> Result<bool, ApiError> {
    let req = request::parse(headers, body)?;
    let inc = req.child("extractRefresh").and_then(|e| e.attr("incremental")).is_some_and(|v| v == "true");
    if inc && ctx.api_minor < 25 {
        return Err(ApiError::bad_request("400000", "Bad Request", "Incremental refresh through this call needs REST API version 3.25 or later."));
    }
    Ok(inc)
}

/// `POST /api/{v}/sites/{site}/datasources/{id}/refresh`
pub async fn refresh_datasource(ctx: Ctx, st: St, Path(path): Path<ItemPath>, headers: HeaderMap, body: Bytes) -> Response {
    refresh(ctx, st, &path.id, headers, body, |d, id| {
        let x = find_datasource(d, id)?;
        let ds = &d.datasources[x as usize];
        if !ds.has_extracts {
            return Err(no_extract("datasource", &ds.name));
        }
        Ok(Target::Datasource(x))
    })
}

/// `POST /api/{v}/sites/{site}/workbooks/{id}/refresh` (3.25: `incremental`)
pub async fn refresh_workbook(ctx: Ctx, st: St, Path(path): Path<ItemPath>, headers: HeaderMap, body: Bytes) -> Response {
    refresh(ctx, st, &path.id, headers, body, |d, id| {
        let w = find_workbook(d, id)?;
        let wb = &d.workbooks[w as usize];
        if !wb.has_extracts {
            return Err(no_extract("workbook", &wb.name));
        }
        Ok(Target::Workbook(w))
    })
}

/// Starts a refresh of the item `find` names; `find` refuses an item
/// without an extract.
fn refresh(
    ctx: Ctx,
    State(st): St,
    id: &str,
    headers: HeaderMap,
    body: Bytes,
    find: impl Fn(&Dataset, &str) -> Result<Target, ApiError>,
) -> Response {
    let result = (|| {
        let inc = incremental(ctx, &headers, &body)?;
        let mut d = st.write();
        let target = find(&d, id)?;
        let job = start_job(&st, &mut d, target, None, inc)?;
        Ok(accepted(ctx, &d, job, true))
    })();
    result.unwrap_or_else(|e| ctx.error(e))
}

/// `POST /api/{v}/sites/{site}/tasks/extractRefreshes/{id}/runNow`
pub async fn run_now(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let result = (|| {
        let mut d = st.write();
        let t = find_task(&d, &path.id)?;
        let target = d.tasks[t as usize].target;
        let job = start_job(&st, &mut d, target, Some(t), false)?;
        Ok(accepted(ctx, &d, job, false))
    })();
    result.unwrap_or_else(|e| ctx.error(e))
}

/// A schedule's timing from `<schedule frequency><frequencyDetails …>`,
/// checked with Tableau Cloud's rules when `cloud`: starts on five-minute
/// boundaries, hourly every 1, 2, 4, 6, 8 or 12 hours, daily every 2, 4,
/// 6, 8, 12 or 24 hours.
struct Timing {
    frequency: Frequency,
    interval_hours: i64,
    start_hour: i64,
    start_minute: i64,
    weekdays: Vec<String>,
}

fn invalid_schedule(detail: impl Into<String>) -> ApiError {
    ApiError::conflict("409004", detail)
}

fn timing(s: &Node, cloud: bool) -> Result<Timing, ApiError> {
    let frequency = match s.need("frequency")? {
        "Hourly" => Frequency::Hourly,
        "Daily" => Frequency::Daily,
        "Weekly" => Frequency::Weekly,
        "Monthly" => Frequency::Monthly,
        other => return Err(invalid_schedule(format!("'{other}' is not a schedule frequency; use Hourly, Daily, Weekly or Monthly."))),
    };
    let details = s.require(&["frequencyDetails"])?;
    let start = details.need("start")?;
    let parts: Vec<i64> = start.split(':').map(|p| p.parse().unwrap_or(-1)).collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (*h, *m, *s),
        [h, m] => (*h, *m, 0),
        _ => (-1, -1, -1),
    };
    if !(0..24).contains(&h) || !(0..60).contains(&m) || sec != 0 {
        return Err(invalid_schedule(format!("The start time '{start}' is not a time of day (HH:MM:SS).")));
    }
    if cloud && m % 5 != 0 {
        return Err(invalid_schedule(format!("The start time '{start}' must be on a five-minute boundary (:00, :05, …, :55).")));
    }
    let intervals: Vec<&Node> = details.child("intervals").map(|i| i.all("interval").collect()).unwrap_or_default();
    let hours: Option<i64> = intervals.iter().find_map(|i| {
        i.attr("hours").and_then(|h| h.parse().ok()).or_else(|| i.attr("minutes").and_then(|m| m.parse::<i64>().ok()).map(|m| m / 60))
    });
    let weekdays: Vec<String> = intervals.iter().filter_map(|i| i.attr("weekDay")).map(str::to_string).collect();
    if let Some(bad) = weekdays.iter().find(|w| !WEEKDAYS.contains(&w.as_str())) {
        return Err(invalid_schedule(format!("'{bad}' is not a day of the week.")));
    }
    let interval_hours = match frequency {
        Frequency::Hourly => {
            let every = hours.ok_or_else(|| invalid_schedule("An hourly schedule needs an interval in hours."))?;
            if cloud && ![1, 2, 4, 6, 8, 12].contains(&every) {
                return Err(invalid_schedule(format!("An hourly schedule runs every 1, 2, 4, 6, 8 or 12 hours, not every {every}.")));
            }
            if cloud && details.attr("end").is_none() {
                return Err(invalid_schedule("An hourly schedule needs an end time."));
            }
            every.max(1)
        }
        Frequency::Daily => {
            let every = hours.unwrap_or(24);
            if cloud && ![2, 4, 6, 8, 12, 24].contains(&every) {
                return Err(invalid_schedule(format!("A daily schedule runs every 2, 4, 6, 8, 12 or 24 hours, not every {every}.")));
            }
            every
        }
        Frequency::Weekly => {
            if weekdays.is_empty() {
                return Err(invalid_schedule("A weekly schedule needs at least one weekDay interval."));
            }
            168
        }
        Frequency::Monthly => 720,
    };
    Ok(Timing { frequency, interval_hours, start_hour: h, start_minute: m, weekdays })
}

fn apply_timing(s: &mut Schedule, t: Timing, now: i64) {
    s.frequency = t.frequency;
    s.interval_hours = t.interval_hours;
    s.start_hour = t.start_hour;
    s.start_minute = t.start_minute;
    s.weekdays = t.weekdays;
    s.updated_at = now;
}

/// Moves a task's runs to its schedule's new start time on the same day,
/// keeping its history in place.
fn reanchor(d: &mut Dataset, task: u32) {
    let t = &d.tasks[task as usize];
    let s = &d.schedules[t.schedule as usize];
    let midnight = t.anchor - t.anchor.rem_euclid(DAY);
    d.tasks[task as usize].anchor = midnight + s.start_hour * 3600 + s.start_minute * 60;
}

/// `PUT /api/{v}/schedules/{id}` (Tableau Server): name, priority, state,
/// frequency and its details.
pub async fn update_schedule(ctx: Ctx, State(st): St, Path((_, id)): Path<(String, String)>, headers: HeaderMap, body: Bytes) -> Response {
    let result = (|| {
        let req = request::parse(&headers, &body)?;
        let node = req.require(&["schedule"])?;
        let timing = if node.attr("frequency").is_some() { Some(timing(node, false)?) } else { None };
        let priority = node
            .attr("priority")
            .map(|p| p.parse::<u32>().ok().filter(|p| (1..=100).contains(p)).ok_or_else(|| invalid_schedule(format!("Priority '{p}' is not between 1 and 100."))))
            .transpose()?;
        let mut d = st.write();
        let i = find_schedule(&st, &d, &id)?;
        let now = st.now();
        let s = &mut d.schedules[i as usize];
        if let Some(name) = node.attr("name") {
            s.name = name.to_string();
        }
        if let Some(p) = priority {
            s.priority = p;
        }
        match node.attr("state") {
            Some("Suspended") if s.suspended_at.is_none() => s.suspended_at = Some(now),
            Some("Active") => s.suspended_at = None,
            Some("Suspended") | None => {}
            Some(other) => return Err(invalid_schedule(format!("'{other}' is not a schedule state; use Active or Suspended."))),
        }
        if let Some(t) = timing {
            apply_timing(s, t, now);
            let tasks: Vec<u32> = (0..d.tasks.len() as u32).filter(|&t| d.tasks[t as usize].schedule == i).collect();
            for t in tasks {
                reanchor(&mut d, t);
            }
        }
        d.schedules[i as usize].updated_at = now;
        d.task_version += 1;
        Ok(vec![schedule_el(&st, &d, i)])
    })();
    ctx.reply(result)
}

/// `PUT /api/{v}/sites/{site}/schedules/{id}/{workbooks|datasources}`
/// (Tableau Server): a refresh task for the item on this schedule.
pub async fn add_to_schedule(
    ctx: Ctx,
    State(st): St,
    Path((_, _, id, kind)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| {
        let req = request::parse(&headers, &body)?;
        let refresh = req.require(&["task", "extractRefresh"])?;
        let mut d = st.write();
        let s = find_schedule(&st, &d, &id)?;
        if d.schedules[s as usize].kind != ScheduleType::Extract {
            return Err(ApiError::bad_request("400000", "Bad Request", "Only extract schedules take refresh tasks."));
        }
        let target = match kind.as_str() {
            "workbooks" => Target::Workbook(find_workbook(&d, refresh.require(&["workbook"])?.need("id")?)?),
            "datasources" => Target::Datasource(find_datasource(&d, refresh.require(&["datasource"])?.need("id")?)?),
            other => return Err(ApiError::unknown_resource(&format!("/schedules/{id}/{other}"))),
        };
        let has_extract = match target {
            Target::Workbook(w) => d.workbooks[w as usize].has_extracts,
            Target::Datasource(x) => d.datasources[x as usize].has_extracts,
        };
        if !has_extract {
            return Err(ApiError::bad_request("400000", "Bad Request", "The item has no extract, so it cannot be on an extract schedule."));
        }
        if let Some(&t) = d.task_of.get(&target) {
            if d.tasks[t as usize].schedule == s {
                return Err(ApiError::conflict("409000", "The item is already on this schedule."));
            }
        }
        let now = st.now();
        let task_id = super::content::new_item_id(&d, "task");
        let t = d.tasks.len() as u32;
        let (priority, start) = {
            let sched = &d.schedules[s as usize];
            (sched.priority, sched.start_hour * 3600 + sched.start_minute * 60)
        };
        let midnight = now - now.rem_euclid(DAY);
        d.tasks.push(ExtractTask {
            id: task_id.clone(),
            schedule: s,
            target,
            priority,
            anchor: midnight + start + DAY,
            health: Health::Healthy,
            deleted: false,
        });
        d.index_id(&task_id, Entity::Task(t));
        d.task_of.insert(target, t);
        d.task_version += 1;
        let item = target_el(&d, target, false);
        Ok(vec![El::new("task").child(El::new("extractRefresh").child(El::new("schedule").attr("id", &d.schedules[s as usize].id)).child(item))])
    })();
    ctx.reply(result)
}

/// `POST /api/{v}/sites/{site}/tasks/extractRefreshes/{id}` (Tableau
/// Cloud): changes the task's own schedule.
pub async fn update_task(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>, headers: HeaderMap, body: Bytes) -> Response {
    let result = (|| {
        if st.config.flavor != Flavor::Cloud {
            return Err(ApiError::method_not_allowed("POST", "/tasks/extractRefreshes/{id} (Tableau Cloud only; on Tableau Server, move the task with PUT schedules/{id}/workbooks|datasources)"));
        }
        let req = request::parse(&headers, &body)?;
        // The schedule sits beside `<extractRefresh>` (as the REST reference
        // and the official clients send it) or inside it.
        let node = match req.child("schedule") {
            Some(s) => s,
            None => req.require(&["extractRefresh", "schedule"])?,
        };
        let timing = timing(node, true)?;
        let mut d = st.write();
        let t = find_task(&d, &path.id)?;
        let now = st.now();
        let old = d.tasks[t as usize].schedule as usize;
        if !d.schedules[old].inline {
            // The task leaves the shared schedule for one of its own.
            let own = Schedule {
                id: super::content::new_item_id(&d, "inline schedule"),
                name: String::new(),
                inline: true,
                weekdays: Vec::new(),
                ..d.schedules[old].clone()
            };
            d.schedules.push(own);
            d.tasks[t as usize].schedule = d.schedules.len() as u32 - 1;
        }
        let s = d.tasks[t as usize].schedule as usize;
        apply_timing(&mut d.schedules[s], timing, now);
        reanchor(&mut d, t);
        d.task_version += 1;
        Ok(vec![task_el(&st, &d, t)])
    })();
    ctx.reply(result)
}
