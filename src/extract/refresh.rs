//! Extract refreshes: schedules, refresh tasks and the jobs they ran.

use futures::future::BoxFuture;
use serde_json::Value;

use super::json::{int, req, text, time};
use super::{Ctx, Stream};
use crate::tableau::rest::list_all;
use crate::warehouse::{Rows, V};

/// Hours between runs: Tableau's hourly interval, else the frequency's span.
fn interval_hours(s: &Value) -> Option<i64> {
    let hourly = s
        .get("frequencyDetails")
        .and_then(|f| f.get("intervals"))
        .and_then(|i| i.get("interval"))
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find_map(|i| int(i, "hours")));
    match text(s, "frequency")? {
        "Hourly" => hourly.or(Some(1)),
        "Daily" => Some(24),
        "Weekly" => Some(168),
        "Monthly" => Some(720),
        _ => hourly,
    }
}

pub struct Schedules;

impl Stream for Schedules {
    fn name(&self) -> &'static str {
        "schedules"
    }
    fn tables(&self) -> &'static [&'static str] {
        &["schedules"]
    }
    fn run<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            // Server-level on Tableau Server; Tableau Cloud has no such list.
            let items = match list_all(&ctx.client, "schedules", "schedules", "schedule", &[]).await {
                Ok(items) => items,
                Err(e) => {
                    ctx.warn(self.name(), format!("schedules are not listed by this server ({e}); continuing without them"));
                    Vec::new()
                }
            };
            let mut rows = Rows::new("schedules");
            for s in &items {
                rows.push(&schedule_row(s)?)?;
            }
            ctx.emit(self.name(), rows)
        })
    }
}

fn schedule_row(s: &Value) -> anyhow::Result<Vec<V<'_>>> {
    Ok(vec![
        req(s, "id", "schedule")?.into(),
        req(s, "name", "schedule")?.into(),
        text(s, "state").into(),
        text(s, "type").into(),
        text(s, "frequency").into(),
        int(s, "priority").into(),
        interval_hours(s).into(),
        time(s, "createdAt"),
        time(s, "updatedAt"),
        time(s, "nextRunAt"),
    ])
}

pub struct ExtractTasks;

impl Stream for ExtractTasks {
    fn name(&self) -> &'static str {
        "extract_tasks"
    }
    fn tables(&self) -> &'static [&'static str] {
        &["extract_tasks"]
    }
    fn run<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let path = ctx.client.site_path("tasks/extractRefreshes");
            let items = list_all(&ctx.client, &path, "tasks", "task", &[]).await?;
            ctx.progress(self.name(), items.len() as u64);
            let mut rows = Rows::new("extract_tasks");
            for item in &items {
                let t = item.get("extractRefresh").unwrap_or(item);
                let id = req(t, "id", "extract refresh task")?;
                let (target_type, target) = ["workbook", "datasource"]
                    .into_iter()
                    .find_map(|k| t.get(k).and_then(|x| text(x, "id")).map(|id| (k, id)))
                    .ok_or_else(|| anyhow::anyhow!("extract refresh task {id} names no workbook or datasource"))?;
                rows.push(&[
                    id.into(),
                    t.get("schedule").and_then(|s| text(s, "id")).into(),
                    target_type.into(),
                    target.into(),
                    int(t, "priority").into(),
                    V::Int(int(t, "consecutiveFailedCount").unwrap_or(0)),
                    text(t, "type").into(),
                ])?;
            }
            ctx.emit(self.name(), rows)
        })
    }
}

pub struct Jobs;

impl Stream for Jobs {
    fn name(&self) -> &'static str {
        "jobs"
    }
    fn tables(&self) -> &'static [&'static str] {
        &["jobs"]
    }
    fn run<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let path = ctx.client.site_path("jobs");
            let items = list_all(&ctx.client, &path, "backgroundJobs", "backgroundJob", &[]).await?;
            ctx.progress(self.name(), items.len() as u64);
            let mut rows = Rows::new("jobs");
            for j in &items {
                rows.push(&[
                    req(j, "id", "job")?.into(),
                    req(j, "status", "job")?.into(),
                    text(j, "jobType").into(),
                    text(j, "title").into(),
                    text(j, "subtitle").into(),
                    int(j, "priority").into(),
                    time(j, "createdAt"),
                    time(j, "startedAt"),
                    time(j, "endedAt"),
                ])?;
            }
            ctx.emit(self.name(), rows)
        })
    }
}
