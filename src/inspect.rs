//! `trm audit` and `trm lineage`: read the warehouse, print what a person
//! needs (a summary, a tree), or JSON with `--json`.

use std::path::{Path, PathBuf};

use trm::audit::{self, Severity, Thresholds, DETECTORS};
use trm::cli::{AuditArgs, LineageArgs, WarehouseArgs};
use trm::config::File;
use trm::lineage::{self, Direction};
use trm::warehouse;

/// The settings file, its thresholds (checked) and the DuckDB path.
pub fn warehouse_settings(args: &WarehouseArgs) -> anyhow::Result<(File, Thresholds, PathBuf)> {
    let (file, _) = File::locate(args.config.as_deref())?;
    let db = file.db(args.db.as_deref());
    let thresholds = file.audit.clone();
    Ok((file, thresholds, db))
}

pub fn parquet_dir(file: &File, flag: Option<&Path>, off: bool) -> Option<PathBuf> {
    (!off).then(|| file.parquet(flag))
}

pub async fn audit(args: AuditArgs, json: bool) -> anyhow::Result<()> {
    let (file, mut t, db) = warehouse_settings(&args.warehouse)?;
    if let Some(days) = args.unused_days {
        t.unused_days = days;
        t.check("--unused-days")?;
    }
    let parquet = parquet_dir(&file, args.parquet.as_deref(), args.no_parquet);
    let run_id = args.warehouse.run.clone();
    let result =
        tokio::task::spawn_blocking(move || audit::run(&db, parquet.as_deref(), run_id.as_deref(), &t).map(|r| (r, t)))
            .await??;
    let (r, t) = result;
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({
            "run_id": r.run.run_id,
            "baseline_run_id": r.baseline.as_ref().map(|b| &b.run_id),
            "findings": r.findings,
        }))?);
        return Ok(());
    }
    print_audit_summary(&r, &t);
    Ok(())
}

pub fn print_audit_summary(r: &audit::AuditRun, t: &Thresholds) {
    println!(
        "Audited run {} ({}): {} assets, {} links. Lineage graph {:.2} s (DuckDB queries {:.2} s, graph build {:.2} s), \
         other inputs {:.2} s, detectors {:.2} s.",
        r.run.run_id,
        r.run.snapshot_date,
        r.nodes,
        r.edges,
        r.graph_secs,
        r.graph_query_secs,
        r.graph_build_secs,
        r.inputs_secs,
        r.detect_secs
    );
    match &r.baseline {
        Some(b) => println!("Usage over the last {} days: snapshot {} against {}.", t.unused_days, r.run.snapshot_date, b.snapshot_date),
        None => println!(
            "Usage: no snapshot is {} days older than this run, so only content never viewed counts as unused.",
            t.unused_days
        ),
    }
    if r.dangling_edges > 0 {
        println!("Note: {} lineage links name assets this run does not hold; they were left out.", r.dangling_edges);
    }
    let counts = audit::summary(&r.findings);
    println!();
    println!("{:<32} {:>6} {:>6} {:>6} {:>6}", "detector", "high", "medium", "low", "total");
    for (name, title) in DETECTORS {
        let n = |s| counts.get(&(*name, s)).copied().unwrap_or(0);
        let (h, m, l) = (n(Severity::High), n(Severity::Medium), n(Severity::Low));
        println!("{:<32} {:>6} {:>6} {:>6} {:>6}", title, h, m, l, h + m + l);
    }
    println!();
    println!("{} findings stored in the `findings` table.", r.findings.len());
}

pub async fn lineage(args: LineageArgs, json: bool) -> anyhow::Result<()> {
    let (_, _, db) = warehouse_settings(&args.warehouse)?;
    let (asset, direction) = match (&args.downstream, &args.upstream) {
        (Some(a), _) => (a.clone(), Direction::Downstream),
        (None, Some(a)) => (a.clone(), Direction::Upstream),
        (None, None) => anyhow::bail!("name an asset with --downstream or --upstream"),
    };
    let run_id = args.warehouse.run.clone();
    let depth = args.depth;
    let out = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let conn = warehouse::read::open(&db)?;
        let run = warehouse::read::resolve_run(&conn, &db, run_id.as_deref())?;
        let (graph, _) = lineage::load(&conn, &db, &run)?;
        let root = graph.find(&asset).map_err(|e| anyhow::anyhow!("{e}"))?;
        let walk = lineage::walk(&graph, root, direction, depth);
        if json {
            return Ok(serde_json::to_string_pretty(&serde_json::json!({
                "run_id": run.run_id,
                "asset": walk.nodes[0],
                "direction": walk.direction,
                "nodes": &walk.nodes[1..],
                "truncated": walk.truncated,
            }))?);
        }
        let mut s = walk.render_tree();
        let counts: Vec<String> = walk.counts().iter().map(|(k, n)| format!("{n} {k}")).collect();
        s += &format!(
            "\n{} of {}: {}\n",
            if direction == Direction::Downstream { "Downstream" } else { "Upstream" },
            graph.describe(root),
            if counts.is_empty() { "nothing".to_string() } else { counts.join(", ") }
        );
        Ok(s)
    })
    .await??;
    print!("{out}");
    Ok(())
}
