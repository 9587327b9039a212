//! Effective access: for every user, item (project, workbook, view,
//! datasource, flow) and capability, whether the user may use it and the
//! evaluation step that decided ([`eval`]), computed from one run of the
//! warehouse and stored as derived tables of that run.
//!
//! - `caps.rs`: content types, capabilities, site-role maximums.
//! - `model.rs`: the run's users, groups, projects, items and rules.
//! - `eval.rs`: Tableau's evaluation order for one subject, item and
//!   capability.
//! - `classes.rs`: access classes and profiles, so the users × items
//!   product is never materialized.
//! - `query.rs`: one user's or one item's answers, for `trm access`.
//!
//! Stored tables (derived, per run; see `warehouse::schema`):
//! `access_classes`, `access_user_classes`, `access_items`,
//! `access_decisions`, `access_exceptions`; the `effective_access` view
//! expands them to one row per user × item × capability.

pub mod caps;
pub mod classes;
pub mod eval;
pub mod model;
pub mod query;

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use arrow::record_batch::RecordBatch;

pub use classes::{compute, Access};
pub use eval::{Decision, Reason};
pub use model::Site;

use crate::warehouse::{self, read, Rows, RunRef, V};

/// Rows per Arrow batch, so no builder grows without bound.
const BATCH: usize = 200_000;

/// What one computation did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub run_id: String,
    pub users: usize,
    pub items: usize,
    pub classes: usize,
    pub profiles: usize,
    pub decisions: u64,
    pub exceptions: usize,
    /// Rules naming a grantee the run does not list.
    pub ignored_rules: usize,
    pub load_secs: f64,
    pub compute_secs: f64,
    pub write_secs: f64,
}

/// Loads the run (the latest succeeded one when `run_id` is `None`).
pub fn load(db: &Path, run_id: Option<&str>) -> anyhow::Result<(RunRef, Site)> {
    let conn = read::open(db)?;
    let run = read::resolve_run(&conn, db, run_id)?;
    let site = model::load(&conn, db, &run)
        .with_context(|| format!("cannot read run {} for access", run.run_id))?;
    Ok((run, site))
}

/// Computes effective access for a run and stores it (DuckDB, and Parquet
/// when `parquet` is given), replacing an earlier computation for the run.
pub fn run(db: &Path, parquet: Option<&Path>, run_id: Option<&str>) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let (run, site) = load(db, run_id)?;
    let load_secs = started.elapsed().as_secs_f64();
    let t = Instant::now();
    let access = compute(&site);
    let compute_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let decisions = write(db, parquet, &run, &site, &access)
        .with_context(|| format!("cannot store the effective access of run {}", run.run_id))?;
    Ok(Summary {
        run_id: run.run_id,
        users: site.users.len(),
        items: site.items.len(),
        classes: access.classes.len(),
        profiles: access.profiles(),
        decisions,
        exceptions: access.exceptions.len(),
        ignored_rules: site.ignored_rules,
        load_secs,
        compute_secs,
        write_secs: t.elapsed().as_secs_f64(),
    })
}

/// Batches of one table, started anew every [`BATCH`] rows.
struct Batches {
    table: &'static str,
    rows: Rows,
    done: Vec<RecordBatch>,
}

impl Batches {
    fn new(table: &'static str) -> Batches {
        Batches {
            table,
            rows: Rows::new(table),
            done: Vec::new(),
        }
    }

    fn push(&mut self, row: &[V<'_>]) -> anyhow::Result<()> {
        self.rows.push(row)?;
        if self.rows.len() >= BATCH {
            let full = std::mem::replace(&mut self.rows, Rows::new(self.table));
            self.done.push(full.finish());
        }
        Ok(())
    }

    fn finish(mut self) -> (&'static str, Vec<RecordBatch>) {
        if !self.rows.is_empty() {
            self.done.push(self.rows.finish());
        }
        (self.table, self.done)
    }
}

fn decision_cells<'a>(site: &'a Site, d: &Decision) -> [V<'a>; 4] {
    [
        V::Bool(d.allowed()),
        d.reason.as_str().into(),
        d.via_group
            .map(|g| site.groups[g as usize].luid.as_str())
            .into(),
        d.via_project
            .map(|p| site.project_item(p).luid.as_str())
            .into(),
    ]
}

/// Stores the access tables of `run`; returns the class decisions written.
pub fn write(
    db: &Path,
    parquet: Option<&Path>,
    run: &RunRef,
    site: &Site,
    access: &Access,
) -> anyhow::Result<u64> {
    let mut classes = Batches::new("access_classes");
    for (i, c) in access.classes.iter().enumerate() {
        let mut luids: Vec<&str> = c
            .groups
            .iter()
            .map(|&g| site.groups[g as usize].luid.as_str())
            .collect();
        luids.sort_unstable();
        let luids = luids.join(",");
        classes.push(&[
            V::Int(i as i64),
            c.role.as_str().into(),
            c.role.license().into(),
            Some(luids.as_str()).filter(|s| !s.is_empty()).into(),
            V::Int(c.users as i64),
        ])?;
    }
    let mut user_classes = Batches::new("access_user_classes");
    for (u, &c) in access.user_class.iter().enumerate() {
        user_classes.push(&[site.users[u].luid.as_str().into(), V::Int(c as i64)])?;
    }
    let mut items = Batches::new("access_items");
    for (i, it) in site.items.iter().enumerate() {
        items.push(&[
            it.kind.as_str().into(),
            it.luid.as_str().into(),
            it.name.as_str().into(),
            it.project
                .map(|p| site.project_item(p).luid.as_str())
                .into(),
            V::Int(access.item_profile[i] as i64),
            access.item_controller[i]
                .map(|p| site.project_item(p).luid.as_str())
                .into(),
        ])?;
    }
    let mut decisions = Batches::new("access_decisions");
    let mut n = 0u64;
    for c in 0..access.classes.len() {
        for (p, &item) in access.profile_item.iter().enumerate() {
            let kind = site.items[item as usize].kind;
            for (d, &cap) in access
                .class_decisions(c as u32, p as u32)
                .iter()
                .zip(kind.caps())
            {
                let [a, b, g, pr] = decision_cells(site, d);
                decisions.push(&[
                    V::Int(c as i64),
                    V::Int(p as i64),
                    caps::name(cap).into(),
                    a,
                    b,
                    g,
                    pr,
                ])?;
                n += 1;
            }
        }
    }
    let mut exceptions = Batches::new("access_exceptions");
    for (u, i, cap, d) in &access.exceptions {
        let it = &site.items[*i as usize];
        let [a, b, g, pr] = decision_cells(site, d);
        exceptions.push(&[
            site.users[*u as usize].luid.as_str().into(),
            it.kind.as_str().into(),
            it.luid.as_str().into(),
            caps::name(*cap).into(),
            a,
            b,
            g,
            pr,
        ])?;
    }
    let tables = vec![
        classes.finish(),
        user_classes.finish(),
        items.finish(),
        decisions.finish(),
        exceptions.finish(),
    ];
    warehouse::write_derived_tables(db, parquet, run, tables)?;
    Ok(n)
}
