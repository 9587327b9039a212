//! Steps more than one command takes: resolving settings, extracting with
//! progress bars, auditing then reporting, serving the simulated site, and
//! the summaries they print. Command modules import this one and never one
//! another.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use trm::audit::{self, Severity, Thresholds, DETECTORS};
use trm::cli::{ExtractArgs, FaultArgs, SiteArgs, WarehouseArgs};
use trm::config::{Env, File, Overrides, Settings};
use trm::extract::{self, Options, Outcome};
use trm::report::generate::{self, Generated};
use trm::sim::faults::FaultPlan;
use trm::sim::SimHandle;
use trm::warehouse::read;

use super::progress::Bars;

/// Findings named by `--fail-on` exist: `trm run` exits 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FindingsFound(pub String);

/// An admin command applied some rows but not all (or found invalid rows):
/// it exits 1, where errors before any change exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SomeFailed(pub String);

// ---------------------------------------------------------------------------
// Settings

/// The settings file, its thresholds (checked) and the DuckDB path.
pub fn warehouse_settings(args: &WarehouseArgs) -> anyhow::Result<(File, Thresholds, PathBuf)> {
    let (file, _) = File::locate(args.config.as_deref())?;
    let db = file.db(args.db.as_deref());
    let thresholds = file.audit.clone();
    Ok((file, thresholds, db))
}

/// The Parquet directory to read, unless `--no-parquet`.
pub fn parquet_dir(file: &File, flag: Option<&Path>, off: bool) -> Option<PathBuf> {
    (!off).then(|| file.parquet(flag))
}

/// The settings an admin command's `SiteArgs` resolve to.
pub fn site_settings(args: &SiteArgs) -> anyhow::Result<(File, Settings)> {
    resolve_site(args, None)
}

/// `SiteArgs` (and a Parquet directory flag) over the settings file and the
/// environment.
fn resolve_site(args: &SiteArgs, parquet: Option<PathBuf>) -> anyhow::Result<(File, Settings)> {
    let (file, path) = File::locate(args.config.as_deref())?;
    let flags = Overrides {
        profile: args.profile.clone(),
        server: args.server.clone(),
        site: args.site.clone(),
        api_version: args.api_version.clone(),
        concurrency: args.concurrency,
        max_concurrency: args.max_concurrency,
        db: args.db.clone(),
        parquet,
    };
    let settings = Settings::resolve(&file, &path, &Env::from_process(), &flags)?;
    Ok((file, settings))
}

/// What a connected app's token needs for the admin commands' writes, on
/// top of the reads (Tableau's `tableau:<resource>:<action>` scopes).
const ADMIN_SCOPES: &[&str] = &[
    "tableau:users:create",
    "tableau:users:update",
    "tableau:users:delete",
    "tableau:groups:create",
    "tableau:groups:update",
    "tableau:groups:delete",
    "tableau:projects:update",
    "tableau:permissions:update",
    "tableau:permissions:delete",
    "tableau:tags:create",
    "tableau:tags:delete",
    "tableau:tasks:run",
    "tableau:tasks:update",
    "tableau:tasks:delete",
    "tableau:schedules:update",
    "tableau:jobs:update",
    "tableau:datasources:refresh",
    "tableau:workbooks:refresh",
];

/// Signs in to the site an admin command acts on; a connected app's tokens
/// carry the admin commands' write scopes.
pub async fn connect(settings: &Settings) -> anyhow::Result<trm::tableau::Client> {
    let settings = &settings.clone().with_scopes(ADMIN_SCOPES);
    trm::tableau::Client::connect(settings)
        .await
        .with_context(|| format!("cannot connect to {} (site '{}')", settings.server, settings.site))
}

/// Prints a plan (as JSON with `--json`), then, unless `--dry-run`,
/// applies it with a progress bar on a terminal and prints the report.
/// Returns `None` on a dry run.
pub async fn plan_then_apply(
    client: &trm::tableau::Client,
    plan: &trm::admin::Plan,
    args: &trm::cli::PlanArgs,
    options: trm::admin::Options,
    json: bool,
) -> anyhow::Result<Option<trm::admin::Report>> {
    plan.check().map_err(|e| anyhow::anyhow!("internal error: the plan cannot be applied: {e}"))?;
    if args.dry_run || plan.is_empty() {
        if json {
            println!("{}", serde_json::to_string_pretty(&plan.to_json())?);
        } else {
            print!("{}", plan.render(args.show));
        }
        return Ok(None);
    }
    if !json {
        print!("{}", plan.render(args.show));
    }
    let bar = if std::io::stderr().is_terminal() && !json {
        let bar = indicatif::ProgressBar::new(plan.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} calls {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let progress = |done: usize, _total: usize| {
        if let Some(b) = &bar {
            b.set_position(done as u64);
        }
    };
    let report = trm::admin::apply(client, plan, options, &progress).await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report.to_json(plan))?);
    } else {
        print!("{}", report.render(plan, args.show));
    }
    Ok(Some(report))
}

// ---------------------------------------------------------------------------
// Extracting

/// Resolves the settings, extracts and prints the summary; returns the
/// settings file and the resolved settings for the steps after it.
pub async fn extract_from_flags(args: &ExtractArgs) -> anyhow::Result<(File, Settings, Options, Outcome)> {
    let (file, settings) = resolve_site(&args.site, args.parquet.clone())?;
    let options = Options { only: args.only.clone(), parquet: !args.no_parquet };
    let named = file.profiles.get(&settings.profile).map(|p| p.sites.clone()).unwrap_or_default();
    let sites = if args.all_sites {
        Some(extract::Sites::All)
    } else {
        (!named.is_empty()).then_some(extract::Sites::Named(named))
    };
    let outcome = match &sites {
        None => extract(&settings, &options).await?,
        Some(sites) => {
            let bars = Arc::new(Bars::new(!std::io::stderr().is_terminal()));
            extract::run_sites(&settings, sites, &options, bars).await?
        }
    };
    print_extract_summary(&settings, &options, &outcome);
    Ok((file, settings, options, outcome))
}

/// One extraction, with progress bars on a terminal.
pub async fn extract(settings: &Settings, options: &Options) -> anyhow::Result<Outcome> {
    let bars = Arc::new(Bars::new(!std::io::stderr().is_terminal()));
    extract::run(settings, options, bars).await
}

/// Rows per table, request counts, warnings and where the warehouse is.
pub fn print_extract_summary(settings: &Settings, options: &Options, outcome: &Outcome) {
    println!();
    println!(
        "Run {} of {} (site '{}') finished in {:.1} s.",
        outcome.run_id,
        settings.server,
        settings.site,
        outcome.elapsed.as_secs_f64()
    );
    println!();
    println!("  {:<32} {:>10}", "table", "rows");
    for (table, rows) in &outcome.rows {
        println!("  {table:<32} {rows:>10}");
    }
    if outcome.sites.len() > 1 {
        println!();
        for site in &outcome.sites {
            match &site.error {
                None => println!("  site {:<27} succeeded", format!("'{}'", site.content_url)),
                Some(e) => println!("  site {:<27} FAILED: {e}", format!("'{}'", site.content_url)),
            }
        }
    }
    let s = &outcome.stats;
    println!();
    println!(
        "  requests {}, retries {}, throttled (429) {}, re-sign-ins {}",
        s.requests, s.retries, s.throttled, s.reauthentications
    );
    let c = &outcome.concurrency;
    println!(
        "  concurrency: started at {}, ceiling {}, ranged {}..{}, {:.1} in flight on average",
        c.start, c.ceiling, c.min, c.max, c.mean_in_flight
    );
    if let Some(slowest) = outcome.streams.iter().max_by_key(|r| r.critical) {
        println!(
            "  longest stream: {} ({:.1} s, {} requests, {:.1} s with requests in flight)",
            slowest.stream,
            slowest.elapsed.as_secs_f64(),
            slowest.requests,
            slowest.busy.as_secs_f64()
        );
    }
    for w in &outcome.warnings {
        println!("  warning: {w}");
    }
    println!();
    println!("  DuckDB:  {}", settings.db.display());
    if options.parquet {
        println!("  Parquet: {}", settings.parquet.display());
    }
}

// ---------------------------------------------------------------------------
// Auditing and reporting

/// Audits the latest run, off the async runtime, and prints the summary.
pub async fn audit_latest(db: &Path, parquet: Option<&Path>, t: &Thresholds) -> anyhow::Result<audit::AuditRun> {
    let (db, parquet, t2) = (db.to_owned(), parquet.map(Path::to_owned), t.clone());
    let r = tokio::task::spawn_blocking(move || audit::run(&db, parquet.as_deref(), None, &t2)).await??;
    print_audit_summary(&r, t);
    Ok(r)
}

/// Audits the latest run unless it already has findings, then writes the
/// reports. Blocking work runs off the async runtime.
pub async fn audit_and_report(
    db: &Path,
    parquet: Option<&Path>,
    out: &Path,
    extra: Option<&Path>,
    site: Option<&str>,
    t: &Thresholds,
) -> anyhow::Result<Generated> {
    let (db, parquet, out, extra, t) =
        (db.to_owned(), parquet.map(Path::to_owned), out.to_owned(), extra.map(Path::to_owned), t.clone());
    let site = site.map(str::to_owned);
    tokio::task::spawn_blocking(move || -> anyhow::Result<Generated> {
        if !audited(&db)? {
            let r = audit::run(&db, parquet.as_deref(), None, &t)?;
            print_audit_summary(&r, &t);
        }
        let g = generate::generate(&generate::Options {
            db: &db,
            out_dir: &out,
            extra_reports: extra.as_deref(),
            thresholds: &t,
            site: site.as_deref(),
        })?;
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
        Some(b) => println!(
            "Usage over the last {} days: snapshot {} against {}.",
            t.unused_days, r.run.snapshot_date, b.snapshot_date
        ),
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
    if r.sites.len() > 1 {
        println!();
        for (luid, content_url) in &r.sites {
            let mine: Vec<&audit::Finding> = r.findings.iter().filter(|f| f.site_luid.as_deref() == Some(luid.as_str())).collect();
            let high = mine.iter().filter(|f| f.severity == Severity::High).count();
            println!("  site {content_url:<24} {:>6} findings, {high} high severity", mine.len());
        }
    }
    println!();
    println!("{} findings stored in the `findings` table.", r.findings.len());
}

fn print_generated(g: &Generated) {
    println!();
    println!("Reports for run {} ({}):", g.run.run_id, g.run.snapshot_date);
    for (slug, path, rows) in &g.csvs {
        println!("  {slug:<28} {rows:>8} rows  {}", path.display());
    }
    println!("  HTML report: {} ({:.1} MB)", g.index.display(), g.html_bytes as f64 / 1e6);
    for (site, dir) in &g.site_pages {
        println!("  site {site}: {}", dir.join("index.html").display());
    }
    if let Some(other) = &g.findings_run {
        println!("  note: the findings are from run {other}; run `trm audit` to audit the latest run");
    }
}

// ---------------------------------------------------------------------------
// The simulated site

/// The plan from `--faults FILE`, then each `--fault`, then `--fault-seed`.
pub fn fault_plan(args: &FaultArgs) -> anyhow::Result<FaultPlan> {
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

/// How to reach a running simulated site, and what it holds.
pub fn print_connection(handle: &SimHandle) {
    let c = &handle.state.config;
    let m = handle.state.manifest();
    println!("Simulated Tableau site ({} size, seed {}, day {}) is up.", c.size, c.seed, m.day);
    println!();
    println!("  Server URL:   {}", handle.url());
    let sites = handle.state.sites();
    if sites.len() > 1 {
        for s in &sites {
            let d = s.data();
            println!("  Site:         {} (LUID {})", s.config.site_content_url, d.site.id);
        }
        println!("  Sites:        {}/sim/sites; manifests at /sim/manifest?site=<contentUrl>", handle.url());
    } else {
        println!("  Site:         {}", c.site_content_url);
    }
    println!("  PAT name:     {}", c.pat_name);
    println!("  PAT secret:   {}", c.pat_secret);
    println!("  Password:     {} / {}", c.username, c.password);
    println!(
        "  Connected app: client id {}, secret id {}, secret {} (as TABLEAU_JWT_SECRET)",
        c.connected_app.client_id, c.connected_app.secret_id, c.connected_app.secret
    );
    println!("  REST API:     {}/api/3.27/  (versions 3.0 to 3.27)", handle.url());
    println!("  Manifest:     {}/sim/manifest", handle.url());
    println!("  Clock:        curl -X POST '{}/sim/clock?advance=7'", handle.url());
    if !c.faults.is_empty() {
        println!("  Faults:       {}", c.faults.summary());
    }
    println!();
    println!(
        "  Content: {} projects, {} workbooks, {} views, {} datasources, {} users, {} groups, {} refresh tasks",
        m.counts.projects,
        m.counts.workbooks,
        m.counts.views,
        m.counts.datasources,
        m.counts.users,
        m.counts.groups,
        m.counts.extract_refresh_tasks
    );
    println!();
    println!("Try:");
    println!(
        "  curl -s -X POST {}/api/3.27/auth/signin -H 'Content-Type: application/json' -H 'Accept: application/json' \\\n    -d '{{\"credentials\":{{\"personalAccessTokenName\":\"{}\",\"personalAccessTokenSecret\":\"{}\",\"site\":{{\"contentUrl\":\"{}\"}}}}}}'",
        handle.url(),
        c.pat_name,
        c.pat_secret,
        c.site_content_url
    );
    println!();
    println!("Press Ctrl-C to stop.");
}

/// Serves until Ctrl-C, then stops the site.
pub async fn wait_for_ctrl_c(handle: SimHandle) -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await.context("cannot listen for Ctrl-C")?;
    handle.stop().await;
    Ok(())
}

