//! Extract refreshes: schedules, refresh tasks and the jobs they ran.
//!
//! Spec: <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_jobs_tasks_and_schedules.htm>
//! Jobs and consecutive-failure counts are functions of the simulated clock,
//! so moving the clock runs more refreshes.

use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::body::El;
use super::content::ItemPath;
use super::error::codes;
use super::query::{self, ListParams, Val};
use super::{find, Ctx, St};
use crate::sim::dataset::{Entity, Frequency, Job, Target, DAY};
use crate::sim::manifest::iso;
use crate::sim::SimState;

const WEEKDAYS: &[&str] = &["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];

/// The first run of schedule `s` strictly after `now`.
fn next_run(st: &SimState, s: u32, now: i64) -> i64 {
    let s = &st.data.schedules[s as usize];
    let period = s.period_secs();
    let origin = s.start_hour * 3600;
    now + (period - (now - origin).rem_euclid(period))
}

fn schedule_el(st: &SimState, i: u32) -> El {
    let s = &st.data.schedules[i as usize];
    let next = next_run(st, i, st.now());
    let start = format!("{:02}:00:00", s.start_hour);
    let interval = match s.frequency {
        Frequency::Hourly => El::new("interval").attr("hours", s.interval_hours),
        Frequency::Daily => El::new("interval").attr("hours", 24),
        // Unix day 0 was a Thursday.
        Frequency::Weekly => El::new("interval").attr("weekDay", WEEKDAYS[(next.div_euclid(DAY) % 7) as usize]),
        Frequency::Monthly => El::new("interval").attr("monthDay", 1),
    };
    let mut details = El::new("frequencyDetails").attr("start", &start);
    if s.frequency == Frequency::Hourly {
        details = details.attr("end", &start);
    }
    El::new("schedule")
        .attr("id", &s.id)
        .attr("name", &s.name)
        .attr("state", if s.suspended_at.is_some() { "Suspended" } else { "Active" })
        .attr("priority", s.priority)
        .attr("createdAt", iso(s.created_at))
        .attr("updatedAt", iso(s.suspended_at.unwrap_or(s.updated_at)))
        .attr(
            "type",
            match s.kind {
                crate::sim::dataset::ScheduleType::Extract => "Extract",
                crate::sim::dataset::ScheduleType::Subscription => "Subscription",
            },
        )
        .attr("frequency", s.frequency.as_str())
        .attr_opt("nextRunAt", s.suspended_at.is_none().then(|| iso(next)))
        .attr("executionOrder", "Parallel")
        .child(details.child(El::collection("intervals").child(interval)))
}

/// `GET /api/{v}/schedules` (server level, as on Tableau Server).
pub async fn list_schedules(ctx: Ctx, State(st): St, Query(q): Query<ListParams>) -> Response {
    let d = &st.data;
    let page = query::list(0..d.schedules.len() as u32, &q, &["name", "frequency", "state"], |i, f| {
        let s = &d.schedules[i as usize];
        match f {
            "name" => Val::Str(&s.name),
            "frequency" => Val::Str(s.frequency.as_str()),
            _ => Val::Str(if s.suspended_at.is_some() { "Suspended" } else { "Active" }),
        }
    });
    ctx.reply(page.map(|p| {
        vec![p.pagination, El::collection("schedules").children(p.items.into_iter().map(|i| schedule_el(&st, i)))]
    }))
}

/// `GET /api/{v}/schedules/{id}`
pub async fn get_schedule(ctx: Ctx, State(st): St, Path((_, id)): Path<(String, String)>) -> Response {
    let found = find(&st, &id, codes::SCHEDULE, "Schedule", |e| match e {
        Entity::Schedule(i) => Some(i),
        _ => None,
    });
    ctx.reply(found.map(|i| vec![schedule_el(&st, i)]))
}

fn target_el(st: &SimState, target: Target, with_name: bool) -> El {
    let d = &st.data;
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

fn task_el(st: &SimState, i: u32) -> El {
    let t = &st.data.tasks[i as usize];
    El::new("task").child(
        El::new("extractRefresh")
            .attr("id", &t.id)
            .attr("priority", t.priority)
            .attr("consecutiveFailedCount", st.data.consecutive_failures(i, st.now()))
            .attr("type", "RefreshExtractTask")
            .child(schedule_el(st, t.schedule))
            .child(target_el(st, t.target, false)),
    )
}

/// `GET /api/{v}/sites/{site}/tasks/extractRefreshes`
pub async fn list_tasks(ctx: Ctx, State(st): St, Query(q): Query<ListParams>) -> Response {
    let d = &st.data;
    let now = st.now();
    let page = query::list(0..d.tasks.len() as u32, &q, &["consecutiveFailedCount"], |i, _| {
        Val::Num(d.consecutive_failures(i, now) as i64)
    });
    ctx.reply(page.map(|p| vec![p.pagination, El::collection("tasks").children(p.items.into_iter().map(|i| task_el(&st, i)))]))
}

/// `GET /api/{v}/sites/{site}/tasks/extractRefreshes/{id}`
pub async fn get_task(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let found = find(&st, &path.id, codes::TASK, "Task", |e| match e {
        Entity::Task(i) => Some(i),
        _ => None,
    });
    ctx.reply(found.map(|i| vec![task_el(&st, i)]))
}

fn status(j: &Job) -> &'static str {
    if j.failed {
        "Failed"
    } else {
        "Success"
    }
}

fn background_job_el(st: &SimState, j: &Job) -> El {
    let target = st.data.tasks[j.task as usize].target;
    let (title, subtitle) = match target {
        Target::Workbook(w) => (&st.data.workbooks[w as usize].name, "Workbook"),
        Target::Datasource(x) => (&st.data.datasources[x as usize].name, "Data Source"),
    };
    El::new("backgroundJob")
        .attr("id", &j.id)
        .attr("status", status(j))
        .attr("createdAt", iso(j.created_at))
        .attr("startedAt", iso(j.started_at))
        .attr("endedAt", iso(j.ended_at))
        .attr("priority", 50)
        .attr("jobType", "refresh_extracts")
        .attr("title", title)
        .attr("subtitle", subtitle)
}

/// `GET /api/{v}/sites/{site}/jobs`
pub async fn list_jobs(ctx: Ctx, State(st): St, Query(q): Query<ListParams>) -> Response {
    let jobs = st.jobs();
    let known = ["status", "jobType", "createdAt", "startedAt", "endedAt", "title", "subtitle"];
    let page = query::list(jobs.iter(), &q, &known, |j, f| match f {
        "status" => Val::Str(status(j)),
        "jobType" => Val::Str("refresh_extracts"),
        "createdAt" => Val::Time(Some(j.created_at)),
        "startedAt" => Val::Time(Some(j.started_at)),
        "endedAt" => Val::Time(Some(j.ended_at)),
        "title" => match st.data.tasks[j.task as usize].target {
            Target::Workbook(w) => Val::Str(&st.data.workbooks[w as usize].name),
            Target::Datasource(x) => Val::Str(&st.data.datasources[x as usize].name),
        },
        _ => Val::Str(match st.data.tasks[j.task as usize].target {
            Target::Workbook(_) => "Workbook",
            Target::Datasource(_) => "Data Source",
        }),
    });
    ctx.reply(page.map(|p| {
        vec![p.pagination, El::collection("backgroundJobs").children(p.items.into_iter().map(|j| background_job_el(&st, j)))]
    }))
}

/// `GET /api/{v}/sites/{site}/jobs/{id}`: one job with its `finishCode`
/// (0 success, 1 failure).
pub async fn get_job(ctx: Ctx, State(st): St, Path(path): Path<ItemPath>) -> Response {
    let jobs = st.jobs();
    let Some(j) = jobs.iter().find(|j| j.id == path.id) else {
        return ctx.error(super::error::ApiError::not_found(codes::JOB, "Job", &path.id));
    };
    let mut detail = El::new("extractRefreshJob").child(target_el(&st, st.data.tasks[j.task as usize].target, true));
    if j.failed {
        detail.push(El::new("notes").text(
            "com.tableausoftware.nativeapi.exceptions.DataSourceException: the connection to the database \
             was refused (credentials expired or the table no longer exists)",
        ));
    }
    ctx.ok(vec![El::new("job")
        .attr("id", &j.id)
        .attr("mode", "Asynchronous")
        .attr("type", "RefreshExtract")
        .attr("progress", 100)
        .attr("createdAt", iso(j.created_at))
        .attr("startedAt", iso(j.started_at))
        .attr("completedAt", iso(j.ended_at))
        .attr("finishCode", if j.failed { 1 } else { 0 })
        .child(detail)])
}
