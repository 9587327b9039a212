//! `trm audit`: the detectors over a run, stored as its `findings`; a
//! summary by detector and severity, or the findings as JSON with `--json`.

use trm::audit;
use trm::cli::AuditArgs;

use super::common;

pub async fn audit(args: AuditArgs, json: bool) -> anyhow::Result<()> {
    let (file, mut t, db) = common::warehouse_settings(&args.warehouse)?;
    if let Some(days) = args.unused_days {
        t.unused_days = days;
        t.check("--unused-days")?;
    }
    let parquet = common::parquet_dir(&file, args.parquet.as_deref(), args.no_parquet);
    let run_id = args.warehouse.run.clone();
    let result =
        tokio::task::spawn_blocking(move || audit::run(&db, parquet.as_deref(), run_id.as_deref(), &t).map(|r| (r, t)))
            .await??;
    let (r, t) = result;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "run_id": r.run.run_id,
                "baseline_run_id": r.baseline.as_ref().map(|b| &b.run_id),
                "findings": r.findings,
            }))?
        );
        return Ok(());
    }
    common::print_audit_summary(&r, &t);
    Ok(())
}
