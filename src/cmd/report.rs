//! `trm report` and `trm report-usage`: the CSV reports and the HTML audit
//! report, or the usage report alone.

use std::path::PathBuf;

use anyhow::Context as _;
use trm::cli::{ReportArgs, ReportUsageArgs, WarehouseArgs};
use trm::report::generate;
use trm::report::{csv, definitions, sql};
use trm::warehouse::read;

use super::common;

pub async fn report(args: ReportArgs) -> anyhow::Result<()> {
    let wa = WarehouseArgs { config: args.config.clone(), db: args.db.clone(), run: None, lock: args.lock };
    let (file, t, db) = common::warehouse_settings(&wa)?;
    let parquet = common::parquet_dir(&file, None, false);
    common::audit_and_report(&db, parquet.as_deref(), &args.out, args.reports.as_deref(), args.site.as_deref(), &t)
        .await
        .map(|_| ())
}

pub async fn report_usage(args: ReportUsageArgs) -> anyhow::Result<()> {
    let wa = WarehouseArgs { config: args.config.clone(), db: args.db.clone(), run: None, lock: args.lock };
    let (_, t, db) = common::warehouse_settings(&wa)?;
    let output: PathBuf = args.output.clone();
    let rows = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let conn = read::open(&db)?;
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
