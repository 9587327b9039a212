//! Command-line flags, as parsed by clap. Turning them into work is
//! `main.rs`'s job; this module only describes them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::sim::dataset::Size;

#[derive(Debug, Parser)]
#[command(name = "trm", version, about = "Tableau Resource Manager: audit warehouse, lineage and governance reports")]
pub struct Cli {
    /// Write logs to stderr as JSON lines, for schedulers; `audit` and
    /// `lineage` also print their results as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Extract a Tableau site into the warehouse (DuckDB, and Parquet).
    Extract(ExtractArgs),
    /// Find unused content, broken extracts and missing fields in the
    /// warehouse; store them as the run's `findings`.
    Audit(AuditArgs),
    /// What depends on an asset (--downstream) or what it is built from (--upstream).
    Lineage(LineageArgs),
    /// Write every report as CSV, and the HTML audit report (index.html).
    Report(ReportArgs),
    /// Write the usage report (views by workbook and view) as one CSV file.
    ReportUsage(ReportUsageArgs),
    /// Extract, audit and report in one go, for cron or Airflow; exits 1
    /// when findings named by --fail-on exist.
    Run(RunArgs),
    /// Effective permissions: what a user may do (--user), who may use an
    /// item (--asset), each with the reason; computed from the warehouse.
    Access(AccessArgs),
    /// Run the whole pipeline against the built-in simulated site, into ./trm-demo/.
    Demo(DemoArgs),
    /// The simulated Tableau site (REST API on loopback).
    #[command(subcommand)]
    Sim(SimCommand),
}

impl Command {
    /// `--lock-timeout`, for the commands that open the warehouse.
    pub fn lock_timeout(&self) -> Option<Duration> {
        let lock = match self {
            Command::Extract(a) => &a.lock,
            Command::Audit(a) => &a.warehouse.lock,
            Command::Lineage(a) => &a.warehouse.lock,
            Command::Access(a) => &a.warehouse.lock,
            Command::Report(a) => &a.lock,
            Command::ReportUsage(a) => &a.lock,
            Command::Run(a) => &a.extract.lock,
            Command::Demo(_) | Command::Sim(_) => return None,
        };
        Some(lock.lock_timeout)
    }
}

/// Which site an admin command acts on: the same settings file, profiles
/// and overrides as `trm extract`.
#[derive(Debug, Default, Clone, Args)]
pub struct SiteArgs {
    /// Settings file with named profiles (default ./tableau.yaml, if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Profile in the settings file (default: its `default_profile`).
    #[arg(long)]
    pub profile: Option<String>,
    /// Server URL (overrides TABLEAU_SERVER and the profile).
    #[arg(long)]
    pub server: Option<String>,
    /// Site content URL (overrides TABLEAU_SITE and the profile).
    #[arg(long)]
    pub site: Option<String>,
    /// REST API version, e.g. 3.27 (default: the server's, from serverinfo).
    #[arg(long)]
    pub api_version: Option<String>,
    /// Requests in flight at once (default 4).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// DuckDB file, for commands that read the warehouse (default ./trm.duckdb).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
}

/// Reviewing a change before it is made.
#[derive(Debug, Default, Clone, Copy, Args)]
pub struct PlanArgs {
    /// Print the plan (counts, the first rows of each action and the exact
    /// number of REST calls) and make no change.
    #[arg(long)]
    pub dry_run: bool,
    /// Rows shown per action in the plan.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub show: usize,
}

/// Waiting for a warehouse file that another process holds open.
#[derive(Debug, Clone, Copy, Args)]
pub struct LockArgs {
    /// How long to wait while another process (such as an open `duckdb`
    /// session) holds the DuckDB file, e.g. 30s, 5m, 1h; 0 fails at once.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

impl Default for LockArgs {
    fn default() -> Self {
        LockArgs { lock_timeout: crate::warehouse::DEFAULT_LOCK_TIMEOUT }
    }
}

/// `90`, `90s`, `5m` or `1h`: a whole number with an optional unit
/// (seconds by default).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("'{text}' is not a duration such as 30s, 5m or 1h"))?;
    let secs = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("'{text}' has an unknown unit: use s, m or h")),
    };
    n.checked_mul(secs).map(Duration::from_secs).ok_or_else(|| format!("'{text}' is too long"))
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// Settings file with named profiles (default ./tableau.yaml, if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Profile in the settings file (default: its `default_profile`).
    #[arg(long)]
    pub profile: Option<String>,
    /// Server URL (overrides TABLEAU_SERVER and the profile).
    #[arg(long)]
    pub server: Option<String>,
    /// Site content URL (overrides TABLEAU_SITE and the profile).
    #[arg(long)]
    pub site: Option<String>,
    /// REST API version, e.g. 3.27 (default: the server's, from serverinfo).
    #[arg(long)]
    pub api_version: Option<String>,
    /// DuckDB file (default ./trm.duckdb).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Parquet directory (default ./trm-parquet).
    #[arg(long, value_name = "DIR")]
    pub parquet: Option<PathBuf>,
    /// Write DuckDB only.
    #[arg(long)]
    pub no_parquet: bool,
    /// Comma-separated streams to run (default: all), e.g. workbooks,views.
    #[arg(long, value_delimiter = ',', value_name = "STREAMS")]
    pub only: Vec<String>,
    /// Requests in flight at once (default 4).
    #[arg(long)]
    pub concurrency: Option<usize>,
    #[command(flatten)]
    pub lock: LockArgs,
}

/// Where the warehouse is and which run to read.
#[derive(Debug, Default, Args)]
pub struct WarehouseArgs {
    /// Settings file (default ./tableau.yaml, if present): its `warehouse`
    /// and `audit` sections apply.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// DuckDB file (default ./trm.duckdb).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Run to read (default: the latest succeeded run); see the `runs` table.
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<String>,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// Parquet directory (default ./trm-parquet).
    #[arg(long, value_name = "DIR")]
    pub parquet: Option<PathBuf>,
    /// Write DuckDB only.
    #[arg(long)]
    pub no_parquet: bool,
    /// Days without views after which content is unused (overrides audit.unused_days).
    #[arg(long, value_name = "DAYS")]
    pub unused_days: Option<i64>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("question").args(["user", "asset"])))]
pub struct AccessArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// Parquet directory (default ./trm-parquet), where computed access is stored too.
    #[arg(long, value_name = "DIR")]
    pub parquet: Option<PathBuf>,
    /// Store computed access in DuckDB only.
    #[arg(long)]
    pub no_parquet: bool,
    /// What this user may do: a user name, full name or LUID.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Who may use this item: TYPE:NAME (project, workbook, view,
    /// datasource, flow), e.g. workbook:"Sales Overview", or a LUID.
    #[arg(long, value_name = "ASSET")]
    pub asset: Option<String>,
    /// Only this capability (Tableau's name: Read, Write, ExportData, …);
    /// with --asset the default is Read.
    #[arg(long, value_name = "CAPABILITY")]
    pub capability: Option<String>,
    /// List denials too, with their reasons.
    #[arg(long)]
    pub denied: bool,
    /// Compute (again) and store effective access for the run, then print
    /// a summary; without --user or --asset this is what happens when the
    /// latest run has none stored yet.
    #[arg(long)]
    pub compute: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("direction").required(true).args(["downstream", "upstream"])))]
pub struct LineageArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// Everything that depends on ASSET: an id, or kind:name such as
    /// table:orders or dashboard:"Exec Overview".
    #[arg(long, value_name = "ASSET")]
    pub downstream: Option<String>,
    /// Everything ASSET is built from.
    #[arg(long, value_name = "ASSET")]
    pub upstream: Option<String>,
    /// Stop this many steps from the asset.
    #[arg(long, value_name = "N")]
    pub depth: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Settings file (default ./tableau.yaml, if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// DuckDB file (default ./trm.duckdb).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Directory for the CSV files and index.html.
    #[arg(long, value_name = "DIR", default_value = "trm-report")]
    pub out: PathBuf,
    /// More report definitions (*.sql); one named like a built-in report replaces it.
    #[arg(long, value_name = "DIR")]
    pub reports: Option<PathBuf>,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct ReportUsageArgs {
    /// Settings file (default ./tableau.yaml, if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// DuckDB file (default ./trm.duckdb).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// The CSV file to write.
    #[arg(long, short, value_name = "FILE", default_value = "usage_report.csv")]
    pub output: PathBuf,
    #[command(flatten)]
    pub lock: LockArgs,
}

/// Findings that make `trm run` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    BrokenExtracts,
    MissingFields,
    UnusedDashboards,
    UnusedDatasources,
}

impl FailOn {
    /// The detector whose findings this names.
    pub fn detector(self) -> &'static str {
        match self {
            FailOn::BrokenExtracts => "broken_extract",
            FailOn::MissingFields => "missing_field",
            FailOn::UnusedDashboards => "unused_dashboard",
            FailOn::UnusedDatasources => "unused_datasource",
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub extract: ExtractArgs,
    /// Directory for the CSV files and index.html.
    #[arg(long, value_name = "DIR", default_value = "trm-report")]
    pub out: PathBuf,
    /// More report definitions (*.sql).
    #[arg(long, value_name = "DIR")]
    pub reports: Option<PathBuf>,
    /// Exit 1 when any of these findings exist (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "FINDINGS")]
    pub fail_on: Vec<FailOn>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the warehouse and Parquet files.
    #[arg(long, value_name = "DIR", default_value = "trm-demo")]
    pub out: PathBuf,
    /// Keep the simulated site running after the demo, to explore it.
    #[arg(long)]
    pub serve: bool,
    /// Address to listen on (loopback only); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    #[arg(long, default_value = "small")]
    pub size: Size,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[command(flatten)]
    pub fault_args: FaultArgs,
}

/// Seeded, reproducible faults to inject on both APIs; the YAML format is
/// described in `trm::sim::faults`.
#[derive(Debug, Default, Args)]
pub struct FaultArgs {
    /// YAML plan of faults to inject: 429s, 5xx, slow responses, dropped
    /// connections, truncated bodies, session expiry, GraphQL node limits.
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
    /// One more fault, as a YAML mapping (repeatable), e.g.
    /// --fault 'kind: status, status: 503, every: 10'
    #[arg(long = "fault", value_name = "YAML")]
    pub fault: Vec<String>,
    /// Seed for `rate` faults; overrides the plan file's `seed`.
    #[arg(long, value_name = "N")]
    pub fault_seed: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve a simulated site until interrupted.
    Serve(ServeArgs),
    /// Write a site's ground-truth manifest without serving it.
    Manifest(ManifestArgs),
    /// Measure generation time, peak memory and page latency.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct SimSiteArgs {
    /// small (~20 workbooks), medium (~1,000) or large (10,000).
    #[arg(long, default_value = "small")]
    pub size: Size,
    /// Seed for the generated content; the same seed gives the same site.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Simulated day to start on (usage and refresh jobs advance with it).
    #[arg(long, default_value_t = 0)]
    pub day: i64,
    /// Site content URL to sign in to.
    #[arg(long, default_value = "analytics")]
    pub site: String,
    /// `server` (Tableau Server) or `cloud` (Tableau Cloud: no schedule
    /// list, schedules inline on tasks, email user names).
    #[arg(long, default_value = "server")]
    pub flavor: crate::sim::Flavor,
    /// Seconds a refresh job started through the API takes to finish
    /// (moving the simulated clock finishes them at once).
    #[arg(long, default_value_t = 2.0)]
    pub job_seconds: f64,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback only); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub site: SimSiteArgs,
    /// Write the ground-truth manifest (JSON) here before serving.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Personal access token name the site accepts.
    #[arg(long, default_value = "trm-sim")]
    pub pat_name: String,
    /// Personal access token secret the site accepts.
    #[arg(long, env = "TRM_SIM_PAT_SECRET", default_value = "trm-sim-secret", hide_env_values = true)]
    pub pat_secret: String,
    /// Session lifetime after sign-in, in seconds.
    #[arg(long, default_value_t = 240 * 60)]
    pub session_ttl: u64,
    /// Requests one session may have in flight before getting 429.
    #[arg(long, default_value_t = 10)]
    pub max_concurrent: usize,
    #[command(flatten)]
    pub fault_args: FaultArgs,
}

#[derive(Debug, Args)]
pub struct ManifestArgs {
    #[command(flatten)]
    pub site: SimSiteArgs,
    /// Output file; standard output if omitted.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(long, default_value = "large")]
    pub size: Size,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Timed requests per measurement.
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_minutes_or_hours() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn the_lock_timeout_defaults_to_five_minutes_and_reaches_every_warehouse_command() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["trm"], args].concat()).unwrap().command.lock_timeout();
        assert_eq!(parse(&["extract"]), Some(Duration::from_secs(300)));
        assert_eq!(parse(&["run", "--lock-timeout", "10s"]), Some(Duration::from_secs(10)));
        assert_eq!(parse(&["audit", "--lock-timeout", "2m"]), Some(Duration::from_secs(120)));
        assert_eq!(parse(&["lineage", "--upstream", "x", "--lock-timeout", "0"]), Some(Duration::ZERO));
        assert_eq!(parse(&["report", "--lock-timeout", "1h"]), Some(Duration::from_secs(3600)));
        assert_eq!(parse(&["report-usage", "--lock-timeout", "7"]), Some(Duration::from_secs(7)));
        assert_eq!(parse(&["demo"]), None);
    }
}
