//! The warehouse rows the detectors read besides the lineage graph: usage
//! at the run and at the baseline snapshot, refresh tasks and schedules,
//! extract facts, warnings, owners. Small next to the graph (no per-field
//! rows), loaded with plain queries.

use std::collections::HashMap;
use std::path::Path;

use duckdb::{Connection, Row};

use crate::warehouse::read::{self, table_at, unix_secs, RunRef};
use crate::warehouse::{schema, WarehouseError};

#[derive(Debug, Clone)]
pub struct View {
    pub id: String,
    pub name: String,
    pub workbook_id: String,
    pub owner_id: Option<String>,
    pub sheet_type: Option<String>,
    pub created_at: Option<i64>,
    pub total: i64,
}

#[derive(Debug, Clone)]
pub struct Content {
    pub id: String,
    pub name: String,
    pub project_name: Option<String>,
    pub owner_id: Option<String>,
    pub created_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub schedule_id: Option<String>,
    pub target_type: String,
    pub target_id: String,
    pub consecutive_failed_count: i64,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub state: Option<String>,
    pub interval_hours: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub status: String,
    pub title: Option<String>,
    pub subtitle: Option<String>,
    pub created_at: Option<i64>,
    pub ended_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Warning {
    pub id: String,
    pub asset_id: String,
    pub value: Option<String>,
    pub message: Option<String>,
    pub is_elevated: bool,
}

/// Everything the detectors read, for one run.
#[derive(Debug, Default)]
pub struct Inputs {
    pub run: Option<RunRef>,
    /// The latest snapshot at least `unused_days` older than the run, if any.
    pub baseline: Option<RunRef>,
    pub views: Vec<View>,
    /// View id → lifetime count at the baseline.
    pub baseline_totals: HashMap<String, i64>,
    pub workbooks: HashMap<String, Content>,
    /// Published datasources by REST LUID.
    pub datasources: HashMap<String, Content>,
    pub users: HashMap<String, String>,
    pub tasks: Vec<Task>,
    pub schedules: HashMap<String, Schedule>,
    /// Published datasource REST LUID → last successful extract refresh.
    pub published_refresh: HashMap<String, Option<i64>>,
    /// Workbook LUID → latest extract refresh over its extract datasources.
    pub workbook_refresh: HashMap<String, Option<i64>>,
    pub jobs: Vec<Job>,
    /// Active warnings by the Metadata API id of their asset.
    pub active_warnings: HashMap<String, Vec<Warning>>,
}

impl Inputs {
    pub fn run(&self) -> &RunRef {
        self.run.as_ref().expect("inputs are loaded for a run")
    }

    pub fn owner_name(&self, owner_id: Option<&str>) -> Option<String> {
        owner_id.and_then(|o| self.users.get(o).cloned())
    }
}

/// Loads the inputs of `run`; the baseline is chosen with `unused_days`.
pub fn load_inputs(conn: &Connection, db: &Path, run: &RunRef, unused_days: i64) -> Result<Inputs, WarehouseError> {
    let q = Q { conn, db, run };
    let mut inputs = Inputs { run: Some(run.clone()), ..Inputs::default() };

    let with_views: Vec<RunRef> = read::runs(conn, db)?
        .into_iter()
        .filter(|r| (r.as_of, &r.run_id) <= (run.as_of, &run.run_id))
        .collect();
    let wrote_views = q.strings("SELECT run_id FROM run_tables WHERE table_name = 'views'")?;
    let with_views: Vec<RunRef> = with_views.into_iter().filter(|r| wrote_views.contains(&r.run_id)).collect();
    let cutoff = run.as_of - unused_days * 86_400;
    inputs.baseline = with_views.iter().rev().find(|r| r.as_of <= cutoff).cloned();

    inputs.views = q.rows(
        "views",
        "view_luid, name, workbook_luid, owner_luid, sheet_type, created_at, total_view_count",
        |r| {
            Ok(View {
                id: r.get(0)?,
                name: r.get(1)?,
                workbook_id: r.get(2)?,
                owner_id: r.get(3)?,
                sheet_type: r.get(4)?,
                created_at: unix_secs(r, 5)?,
                total: r.get(6)?,
            })
        },
    )?;
    if let Some(b) = &inputs.baseline {
        let sql = format!(
            "SELECT view_luid, total_view_count FROM hist_views WHERE run_id = '{}'",
            b.run_id.replace('\'', "''")
        );
        inputs.baseline_totals = q.query(&sql, |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?.into_iter().collect();
    }
    let content = |r: &Row| {
        Ok(Content {
            id: r.get(0)?,
            name: r.get(1)?,
            project_name: r.get(2)?,
            owner_id: r.get(3)?,
            created_at: unix_secs(r, 4)?,
        })
    };
    let cols = |id: &str| format!("{id}, name, project_name, owner_luid, created_at");
    inputs.workbooks =
        q.rows("workbooks", &cols("workbook_luid"), content)?.into_iter().map(|c| (c.id.clone(), c)).collect();
    inputs.datasources =
        q.rows("datasources", &cols("datasource_luid"), content)?.into_iter().map(|c| (c.id.clone(), c)).collect();
    inputs.users = q
        .rows("users", "user_luid, coalesce(full_name, name)", |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .into_iter()
        .collect();
    inputs.tasks = q.rows("extract_tasks", "task_luid, schedule_luid, target_type, target_luid, consecutive_failed_count", |r| {
        Ok(Task {
            id: r.get(0)?,
            schedule_id: r.get(1)?,
            target_type: r.get(2)?,
            target_id: r.get(3)?,
            consecutive_failed_count: r.get(4)?,
        })
    })?;
    inputs.schedules = q
        .rows("schedules", "schedule_luid, name, state, interval_hours", |r| {
            Ok((r.get::<_, String>(0)?, Schedule { name: r.get(1)?, state: r.get(2)?, interval_hours: r.get(3)? }))
        })?
        .into_iter()
        .collect();
    inputs.published_refresh = q
        .rows("published_datasources", "datasource_luid, extract_last_refresh_time", |r| {
            Ok((r.get::<_, String>(0)?, unix_secs(r, 1)?))
        })?
        .into_iter()
        .collect();
    // A workbook's extract is as fresh as its freshest extract datasource;
    // datasources reached through a published one have no extract of their own.
    for (wb, t) in q.rows(
        "embedded_datasources",
        "workbook_luid, extract_last_refresh_time WHERE coalesce(has_extracts, false)",
        |r| Ok((r.get::<_, String>(0)?, unix_secs(r, 1)?)),
    )? {
        let slot = inputs.workbook_refresh.entry(wb).or_insert(None);
        *slot = (*slot).max(t);
    }
    inputs.jobs = q.rows(
        "jobs",
        "status, title, subtitle, created_at, ended_at",
        |r| {
            Ok(Job {
                status: r.get(0)?,
                title: r.get(1)?,
                subtitle: r.get(2)?,
                created_at: unix_secs(r, 3)?,
                ended_at: unix_secs(r, 4)?,
            })
        },
    )?;
    for w in q.rows(
        "data_quality_warnings",
        "warning_metadata_id, asset_metadata_id, value, message, is_elevated WHERE is_active AND asset_metadata_id IS NOT NULL",
        |r| {
            Ok(Warning {
                id: r.get(0)?,
                asset_id: r.get(1)?,
                value: r.get(2)?,
                message: r.get(3)?,
                is_elevated: r.get(4)?,
            })
        },
    )? {
        inputs.active_warnings.entry(w.asset_id.clone()).or_default().push(w);
    }
    Ok(inputs)
}

struct Q<'a> {
    conn: &'a Connection,
    db: &'a Path,
    run: &'a RunRef,
}

impl Q<'_> {
    /// `SELECT {select} FROM <table at the run> t`, where `select` may end
    /// with a `WHERE` clause.
    fn rows<T>(&self, table: &str, select: &str, f: impl FnMut(&Row) -> duckdb::Result<T>) -> Result<Vec<T>, WarehouseError> {
        let (cols, filter) = match select.split_once(" WHERE ") {
            Some((c, w)) => (c, format!(" WHERE {w}")),
            None => (select, String::new()),
        };
        let t = schema::table(table).expect("a schema table");
        self.query(&format!("SELECT {cols} FROM {} t{filter}", table_at(t, self.run)), f)
    }

    fn query<T>(&self, sql: &str, f: impl FnMut(&Row) -> duckdb::Result<T>) -> Result<Vec<T>, WarehouseError> {
        let err = |source| WarehouseError::Duck { path: self.db.to_owned(), what: format!("cannot run `{sql}`"), source };
        let mut stmt = self.conn.prepare(sql).map_err(err)?;
        let rows = stmt.query_map([], f).map_err(err)?;
        rows.collect::<Result<Vec<T>, _>>().map_err(err)
    }

    fn strings(&self, sql: &str) -> Result<std::collections::HashSet<String>, WarehouseError> {
        Ok(self.query(sql, |r| r.get::<_, String>(0))?.into_iter().collect())
    }
}
