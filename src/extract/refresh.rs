//! Extract refreshes: schedules, refresh tasks and the jobs they ran.

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

stream!(Schedules, "schedules", ["schedules"]);

impl Schedules {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        // Server-level on Tableau Server; Tableau Cloud has no such list and
        // refuses it (403 or 404 seen). Only such a refusal means "none
        // here": a failure that outlived its retries (429, 5xx, a dropped
        // connection) fails the stream rather than storing no schedules.
        let items = match list_all(&ctx.client, "schedules", "schedules", "schedule", &[]).await {
            Ok(items) => items,
            Err(e) if !matches!(e.status(), Some(400 | 403 | 404 | 405)) => return Err(e.into()),
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

stream!(ExtractTasks, "extract_tasks", ["extract_tasks"]);

impl ExtractTasks {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let path = ctx.client.site_path("tasks/extractRefreshes");
        let items = list_all(&ctx.client, &path, "tasks", "task", &[]).await?;
        ctx.progress(self.name(), items.len() as u64);
        let mut rows = Rows::new("extract_tasks");
        let mut untargeted = Vec::new();
        for item in &items {
            // Other kinds of task (`dataAcceleration`, flow runs) share the
            // list on some versions; only extract refreshes belong here.
            let Some(t) = item.get("extractRefresh") else { continue };
            let id = req(t, "id", "extract refresh task")?;
            let Some((target_type, target)) = ["workbook", "datasource"]
                .into_iter()
                .find_map(|k| t.get(k).and_then(|x| text(x, "id")).map(|id| (k, id)))
            else {
                // Tableau lists tasks whose content was deleted without a
                // target; there is nothing to refresh or audit.
                untargeted.push(id.to_string());
                continue;
            };
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
        if !untargeted.is_empty() {
            ctx.warn(
                self.name(),
                format!("{} extract refresh task(s) name no workbook or datasource and were skipped: {}", untargeted.len(), untargeted.join(", ")),
            );
        }
        ctx.emit(self.name(), rows)
    }
}

stream!(Jobs, "jobs", ["jobs"]);

impl Jobs {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
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
    }
}
