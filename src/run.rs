//! One function per command mode: resolve flags into configuration, do the
//! work, print what a person needs to see.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use trm::cli::{BenchArgs, DemoArgs, ExtractArgs, FaultArgs, ManifestArgs, ServeArgs, SiteArgs};
use trm::config::{self, Env, Overrides, Secret, Settings};

use trm::extract::{self, Options, Outcome};
use trm::sim::faults::FaultPlan;
use trm::sim::{self, SimConfig, SimHandle, SimState};

fn sim_config(site: &SiteArgs) -> anyhow::Result<SimConfig> {
    anyhow::ensure!(
        (0..=sim::control::MAX_DAY).contains(&site.day),
        "--day {} is out of range: use 0 to {}",
        site.day,
        sim::control::MAX_DAY
    );
    Ok(SimConfig {
        size: site.size,
        seed: site.seed,
        day: site.day,
        site_content_url: site.site.clone(),
        flavor: site.flavor,
        job_duration: Duration::from_secs_f64(site.job_seconds.max(0.0)),
        ..SimConfig::default()
    })
}

/// The plan from `--faults FILE`, then each `--fault`, then `--fault-seed`.
fn fault_plan(args: &FaultArgs) -> anyhow::Result<FaultPlan> {
    let mut plan = match &args.faults {
        Some(path) => FaultPlan::load(path)?,
        None => FaultPlan::default(),
    };
    for spec in &args.fault {
        plan.add_inline(spec)?;
    }
    if let Some(seed) = args.fault_seed {
        plan.seed = seed;
    }
    Ok(plan)
}

fn print_connection(handle: &SimHandle) {
    let c = &handle.state.config;
    let m = handle.state.manifest();
    println!("Simulated Tableau site ({} size, seed {}, day {}) is up.", c.size, c.seed, m.day);
    println!();
    println!("  Server URL:   {}", handle.url());
    println!("  Site:         {}", c.site_content_url);
    println!("  PAT name:     {}", c.pat_name);
    println!("  PAT secret:   {}", c.pat_secret);
    println!("  REST API:     {}/api/3.27/  (versions 3.0 to 3.27)", handle.url());
    println!("  Manifest:     {}/sim/manifest", handle.url());
    println!("  Clock:        curl -X POST '{}/sim/clock?advance=7'", handle.url());
    if !c.faults.is_empty() {
        println!("  Faults:       {}", c.faults.summary());
    }
    println!();
    println!(
        "  Content: {} projects, {} workbooks, {} views, {} datasources, {} users, {} groups, {} refresh tasks",
        m.counts.projects, m.counts.workbooks, m.counts.views, m.counts.datasources, m.counts.users, m.counts.groups,
        m.counts.extract_refresh_tasks
    );
    println!();
    println!("Try:");
    println!(
        "  curl -s -X POST {}/api/3.27/auth/signin -H 'Content-Type: application/json' -H 'Accept: application/json' \\\n    -d '{{\"credentials\":{{\"personalAccessTokenName\":\"{}\",\"personalAccessTokenSecret\":\"{}\",\"site\":{{\"contentUrl\":\"{}\"}}}}}}'",
        handle.url(), c.pat_name, c.pat_secret, c.site_content_url
    );
    println!();
    println!("Press Ctrl-C to stop.");
}

async fn wait_for_ctrl_c(handle: SimHandle) -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await.context("cannot listen for Ctrl-C")?;
    handle.stop().await;
    Ok(())
}

pub async fn extract(args: ExtractArgs) -> anyhow::Result<()> {
    extract_run(&args).await.map(|_| ())
}

/// Resolves the settings, extracts and prints the summary; returns the
/// settings file and the resolved settings for the steps after it.
pub async fn extract_run(args: &ExtractArgs) -> anyhow::Result<(config::File, Settings, Options)> {
    let (file, path) = config::File::locate(args.config.as_deref())?;
    let flags = Overrides {
        profile: args.profile.clone(),
        server: args.server.clone(),
        site: args.site.clone(),
        api_version: args.api_version.clone(),
        concurrency: args.concurrency,
        db: args.db.clone(),
        parquet: args.parquet.clone(),
    };
    let settings = Settings::resolve(&file, &path, &Env::from_process(), &flags)?;
    let options = Options { only: args.only.clone(), parquet: !args.no_parquet };
    let bars = Arc::new(crate::progress::Bars::new(!std::io::stderr().is_terminal()));
    let outcome = extract::run(&settings, &options, bars).await?;
    print_summary(&settings, &options, &outcome);
    Ok((file, settings, options))
}

fn print_summary(settings: &Settings, options: &Options, outcome: &Outcome) {
    println!();
    println!("Run {} of {} (site '{}') finished in {:.1} s.", outcome.run_id, settings.server, settings.site, outcome.elapsed.as_secs_f64());
    println!();
    println!("  {:<32} {:>10}", "table", "rows");
    for (table, rows) in &outcome.rows {
        println!("  {table:<32} {rows:>10}");
    }
    let s = &outcome.stats;
    println!();
    println!(
        "  requests {}, retries {}, throttled (429) {}, re-sign-ins {}",
        s.requests, s.retries, s.throttled, s.reauthentications
    );
    for w in &outcome.warnings {
        println!("  warning: {w}");
    }
    println!();
    println!("  DuckDB:  {}", settings.db.display());
    if options.parquet {
        println!("  Parquet: {}", settings.parquet.display());
    }
}

/// The whole pipeline against the built-in simulated site.
pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let config =
        SimConfig { size: args.size, seed: args.seed, faults: fault_plan(&args.fault_args)?, ..SimConfig::default() };
    let handle = sim::start(config, args.addr).await?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let c = &handle.state.config;
    let settings = Settings {
        profile: "demo".into(),
        server: handle.url(),
        site: c.site_content_url.clone(),
        api_version: None,
        token_name: c.pat_name.clone(),
        token_secret: Secret::new(c.pat_secret.clone()),
        concurrency: config::DEFAULT_CONCURRENCY,
        timeout: Duration::from_secs(config::DEFAULT_TIMEOUT_SECS),
        db: args.out.join("trm.duckdb"),
        parquet: args.out.join("parquet"),
    };
    println!("Extracting the simulated {} site (seed {}) into {} …", c.size, c.seed, args.out.display());
    let options = Options { only: Vec::new(), parquet: true };
    let bars = Arc::new(crate::progress::Bars::new(!std::io::stderr().is_terminal()));
    let outcome = extract::run(&settings, &options, bars).await?;
    print_summary(&settings, &options, &outcome);
    let report_dir = args.out.join("report");
    let generated = crate::publish::audit_and_report(
        &settings.db,
        Some(&settings.parquet),
        &report_dir,
        None,
        &config::Thresholds::default(),
    )
    .await?;
    print_next_steps(&settings.db, &settings.parquet);
    println!();
    println!("Open the audit report: {}", generated.index.display());
    if args.serve {
        print_connection(&handle);
        wait_for_ctrl_c(handle).await
    } else {
        handle.stop().await;
        Ok(())
    }
}

fn print_next_steps(db: &Path, parquet: &Path) {
    println!();
    println!("Query it:");
    println!("  duckdb {}", db.display());
    println!("    SELECT name, sheet_type, total_view_count FROM views ORDER BY total_view_count DESC LIMIT 10;");
    println!("    SELECT run_id, status, as_of, rows_per_table FROM runs;");
    println!("  duckdb -c \"SELECT count(*) FROM read_parquet('{}/fields/*/*/*.parquet', hive_partitioning=true)\"", parquet.display());
}

pub async fn sim_serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = SimConfig {
        pat_name: args.pat_name.clone(),
        pat_secret: args.pat_secret.clone(),
        session_ttl: Duration::from_secs(args.session_ttl),
        max_concurrent_per_session: args.max_concurrent.max(1),
        faults: fault_plan(&args.fault_args)?,
        ..sim_config(&args.site)?
    };
    anyhow::ensure!(
        args.addr.ip().is_loopback(),
        "--addr {} is not a loopback address: the simulated site only listens on 127.0.0.1 or ::1",
        args.addr
    );
    let state = tokio::task::spawn_blocking(move || SimState::new(config)).await?;
    if let Some(path) = &args.manifest {
        write_json(path, &state.manifest())?;
    }
    let handle = sim::serve(state, args.addr).await?;
    print_connection(&handle);
    wait_for_ctrl_c(handle).await
}

fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write the manifest to {}", path.display()))
}

pub async fn sim_manifest(args: ManifestArgs) -> anyhow::Result<()> {
    let config = sim_config(&args.site)?;
    let state = tokio::task::spawn_blocking(move || SimState::new(config)).await?;
    match &args.out {
        Some(path) => write_json(path, &state.manifest()),
        None => {
            println!("{}", serde_json::to_string_pretty(&state.manifest())?);
            Ok(())
        }
    }
}

pub async fn sim_bench(args: BenchArgs) -> anyhow::Result<()> {
    let report = sim::bench::run(args.size, args.seed, args.requests).await?;
    println!("{report}");
    Ok(())
}
