//! `trm demo`: the whole pipeline against the built-in simulated site, over
//! several simulated months, so the report shows what TRM is for: a usage
//! trend with more than one point, deltas between snapshots, and content
//! unused within the window rather than merely never viewed.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use trm::cli::DemoArgs;
use trm::config::{self, Secret, Settings};
use trm::extract::Options;
use trm::sim::{self, SimConfig};
use trm::warehouse::read;

use super::common;

/// The simulated days the demo extracts on: four snapshots across the
/// default 90-day usage window, so the last run has a baseline exactly one
/// window older.
pub const SNAPSHOT_DAYS: [i64; 4] = [0, 30, 60, 90];

/// The profile name the demo's runs carry; a warehouse holding only such
/// runs is the demo's own and may be replaced.
const PROFILE: &str = "demo";

pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let config = SimConfig {
        size: args.size,
        seed: args.seed,
        day: SNAPSHOT_DAYS[0],
        faults: common::fault_plan(&args.fault_args)?,
        ..SimConfig::default()
    };
    let handle = sim::start(config, args.addr).await?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let c = &handle.state.config;
    let settings = Settings {
        profile: PROFILE.into(),
        server: handle.url(),
        site: c.site_content_url.clone(),
        api_version: None,
        token_name: c.pat_name.clone(),
        token_secret: Secret::new(c.pat_secret.clone()),
        auth: trm::config::Auth::Pat,
        concurrency: config::DEFAULT_CONCURRENCY,
        max_concurrency: None,
        timeout: Duration::from_secs(config::DEFAULT_TIMEOUT_SECS),
        db: args.out.join("trm.duckdb"),
        parquet: args.out.join("parquet"),
    };
    start_afresh(&settings.db, &settings.parquet)?;
    println!(
        "Extracting the simulated {} site (seed {}) into {} on days {} …",
        c.size,
        c.seed,
        args.out.display(),
        SNAPSHOT_DAYS.map(|d| d.to_string()).join(", ")
    );
    let options = Options { only: Vec::new(), parquet: true };
    let mut last = None;
    for day in SNAPSHOT_DAYS {
        // The site's clock moves, so view counts grow, content falls out of
        // use and refresh jobs run as they would over those days.
        handle.state.set_day(day);
        let outcome = common::extract(&settings, &options).await?;
        let rows: u64 = outcome.rows.values().sum();
        println!(
            "  day {day:>3} ({}): run {}, {rows} rows, {:.1} s",
            trm::time::date(handle.state.now()),
            outcome.run_id,
            outcome.elapsed.as_secs_f64()
        );
        last = Some(outcome);
    }
    let last = last.expect("SNAPSHOT_DAYS is not empty");
    common::print_extract_summary(&settings, &options, &last);
    println!();
    let report_dir = args.out.join("report");
    let generated = common::audit_and_report(
        &settings.db,
        Some(&settings.parquet),
        &report_dir,
        None,
        None,
        &config::Thresholds::default(),
    )
    .await?;
    print_next_steps(&settings.db, &settings.parquet);
    println!();
    println!("Open the audit report: {}", generated.index.display());
    if args.serve {
        common::print_connection(&handle);
        common::wait_for_ctrl_c(handle).await
    } else {
        handle.stop().await;
        Ok(())
    }
}

/// Removes an earlier demo's warehouse, so the snapshots are this demo's
/// alone (a second set on the same days would double the trend's points).
/// Refuses to touch a warehouse holding runs of any other profile.
fn start_afresh(db: &Path, parquet: &Path) -> anyhow::Result<()> {
    if !db.exists() {
        return Ok(());
    }
    let others: i64 = {
        let conn = read::open(db)?;
        conn.query_row("SELECT count(*) FROM runs WHERE profile IS DISTINCT FROM ?", [PROFILE], |r| r.get(0))
            .with_context(|| format!("cannot read the runs of {}", db.display()))?
    };
    anyhow::ensure!(
        others == 0,
        "{} holds {others} run(s) that are not the demo's; pass --out with another directory",
        db.display()
    );
    let mut wal = db.as_os_str().to_owned();
    wal.push(".wal");
    for file in [db, Path::new(&wal)] {
        if file.exists() {
            std::fs::remove_file(file).with_context(|| format!("cannot remove {}", file.display()))?;
        }
    }
    if parquet.exists() {
        std::fs::remove_dir_all(parquet).with_context(|| format!("cannot remove {}", parquet.display()))?;
    }
    Ok(())
}

fn print_next_steps(db: &Path, parquet: &Path) {
    println!();
    println!("Query it (read-only; close the session before the next extract, which waits for it):");
    println!("  duckdb -readonly {}", db.display());
    println!("    SELECT name, sheet_type, total_view_count FROM views ORDER BY total_view_count DESC LIMIT 10;");
    println!("    SELECT run_id, snapshot_date, status, rows_per_table FROM runs ORDER BY as_of;");
    println!(
        "  duckdb -c \"SELECT count(*) FROM read_parquet('{}/fields/*/*/*.parquet', hive_partitioning=true)\"",
        parquet.display()
    );
}
