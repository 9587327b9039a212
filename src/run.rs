//! One function per command mode: resolve flags into configuration, do the
//! work, print what a person needs to see.

use std::time::Duration;

use anyhow::Context as _;
use trm::cli::{BenchArgs, DemoArgs, FaultArgs, ManifestArgs, ServeArgs, SiteArgs};
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

pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let config =
        SimConfig { size: args.size, seed: args.seed, faults: fault_plan(&args.fault_args)?, ..SimConfig::default() };
    let handle = sim::start(config, args.addr).await?;
    print_connection(&handle);
    wait_for_ctrl_c(handle).await
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
