//! `trm report`, `trm report-usage` and `trm run`: what scheduled exports
//! and governance readers get.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use trm::audit::{self, Thresholds};
use trm::cli::{ReportArgs, ReportUsageArgs, RunArgs, WarehouseArgs};
use trm::report::generate::{self, Generated};
use trm::report::{csv, definitions, sql};
use trm::warehouse::{self, read};

/// Findings named by `--fail-on` exist: `trm run` exits 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FindingsFound(pub String);

/// Audits the latest run unless it already has findings, then writes the
/// reports. Blocking work runs off the async runtime.
pub async fn audit_and_report(
    db: &Path,
    parquet: Option<&Path>,
    out: &Path,
    extra: Option<&Path>,
    t: &Thresholds,
) -> anyhow::Result<Generated> {
    let (db, parquet, out, extra, t) =
        (db.to_owned(), parquet.map(Path::to_owned), out.to_owned(), extra.map(Path::to_owned), t.clone());
    tokio::task::spawn_blocking(move || -> anyhow::Result<Generated> {
        if !audited(&db)? {
            let r = audit::run(&db, parquet.as_deref(), None, &t)?;
            crate::inspect::print_audit_summary(&r, &t);
        }
        let g = generate::generate(&generate::Options { db: &db, out_dir: &out, extra_reports: extra.as_deref(), thresholds: &t })?;
        print_generated(&g);
        Ok(g)
    })
    .await?
}

/// Whether the latest succeeded run has its findings.
fn audited(db: &Path) -> anyhow::Result<bool> {
    let conn = read::open(db)?;
    let run = read::resolve_run(&conn, db, None)?;
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM run_tables WHERE run_id = ? AND table_name = 'findings'",
            [&run.run_id],
            |r| r.get(0),
        )
        .with_context(|| format!("cannot read run_tables in {}", db.display()))?;
    Ok(n > 0)
}

fn print_generated(g: &Generated) {
    println!();
    println!("Reports for run {} ({}):", g.run.run_id, g.run.snapshot_date);
    for (slug, path, rows) in &g.csvs {
        println!("  {slug:<28} {rows:>8} rows  {}", path.display());
    }
    println!("  HTML report: {} ({:.1} MB)", g.index.display(), g.html_bytes as f64 / 1e6);
    if let Some(other) = &g.findings_run {
        println!("  note: the findings are from run {other}; run `trm audit` to audit the latest run");
    }
}

pub async fn report(args: ReportArgs) -> anyhow::Result<()> {
    let wa = WarehouseArgs { config: args.config.clone(), db: args.db.clone(), run: None };
    let (file, t, db) = crate::inspect::warehouse_settings(&wa)?;
    let parquet = crate::inspect::parquet_dir(&file, None, false);
    audit_and_report(&db, parquet.as_deref(), &args.out, args.reports.as_deref(), &t).await.map(|_| ())
}

pub async fn report_usage(args: ReportUsageArgs) -> anyhow::Result<()> {
    let wa = WarehouseArgs { config: args.config.clone(), db: args.db.clone(), run: None };
    let (_, t, db) = crate::inspect::warehouse_settings(&wa)?;
    let output: PathBuf = args.output.clone();
    let rows = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let conn = warehouse::read::open(&db)?;
        read::resolve_run(&conn, &db, None)?;
        let def = definitions::load(None)?
            .into_iter()
            .find(|d| d.slug == "usage")
            .context("the built-in usage report is missing")?;
        let table = sql::run(&conn, &def, &generate::variables(&t))?;
        csv::write_report_csv(&output, &table)?;
        Ok(table.rows.len())
    })
    .await??;
    println!("Wrote {} ({rows} rows).", args.output.display());
    Ok(())
}

/// Extract → audit → report; then `--fail-on`.
pub async fn pipeline(args: RunArgs) -> anyhow::Result<()> {
    let (file, settings, options) = crate::run::extract_run(&args.extract).await?;
    let t = file.audit;
    let parquet = options.parquet.then_some(settings.parquet.as_path());
    // Always audit the run just made (a run made with --only may share its
    // predecessor's tables, but its findings are its own).
    let db = settings.db.clone();
    let (p2, t2) = (parquet.map(Path::to_owned), t.clone());
    let r = tokio::task::spawn_blocking(move || audit::run(&db, p2.as_deref(), None, &t2)).await??;
    crate::inspect::print_audit_summary(&r, &t);
    audit_and_report(&settings.db, parquet, &args.out, args.reports.as_deref(), &t).await?;
    let mut hits = Vec::new();
    for f in &args.fail_on {
        let n = r.findings.iter().filter(|x| x.detector == f.detector()).count();
        if n > 0 {
            hits.push(format!("{n} {}", f.detector().replace('_', " ") + if n == 1 { "" } else { "s" }));
        }
    }
    if !hits.is_empty() {
        return Err(FindingsFound(format!("findings named by --fail-on: {}", hits.join(", "))).into());
    }
    Ok(())
}
