//! `trm sim serve | manifest | bench`: the simulated Tableau site on its own.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use trm::cli::{BenchArgs, ManifestArgs, ServeArgs, SimSiteArgs};
use trm::sim::{self, SimConfig, SimState};

use super::common;

fn sim_config(site: &SimSiteArgs) -> anyhow::Result<SimConfig> {
    anyhow::ensure!(
        (0..=sim::control::MAX_DAY).contains(&site.day),
        "--day {} is out of range: use 0 to {}",
        site.day,
        sim::control::MAX_DAY
    );
    let job_duration = Duration::try_from_secs_f64(site.job_seconds)
        .map_err(|_| anyhow::anyhow!("--job-seconds {} is not a duration: use a number of seconds, 0 or more", site.job_seconds))?;
    Ok(SimConfig {
        size: site.size,
        seed: site.seed,
        day: site.day,
        site_content_url: site.sites.first().unwrap_or(&site.site).clone(),
        sites: if site.sites.len() > 1 { site.sites.clone() } else { Vec::new() },
        flavor: site.flavor,
        job_duration,
        env: site.env,
        ..SimConfig::default()
    })
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = SimConfig {
        pat_name: args.pat_name.clone(),
        pat_secret: args.pat_secret.clone(),
        session_ttl: Duration::from_secs(args.session_ttl),
        max_concurrent_per_session: args.max_concurrent.max(1),
        faults: common::fault_plan(&args.fault_args)?,
        latency_model: match &args.latency {
            Some(spec) => sim::latency::LatencyModel::parse(spec).map_err(|e| anyhow::anyhow!("--latency '{spec}': {e}"))?,
            None => Default::default(),
        },
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
    common::print_connection(&handle);
    common::wait_for_ctrl_c(handle).await
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write the manifest to {}", path.display()))
}

pub async fn manifest(args: ManifestArgs) -> anyhow::Result<()> {
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

pub async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let report = sim::bench::run(args.size, args.seed, args.requests).await?;
    println!("{report}");
    Ok(())
}
