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
    /// Refresh a published datasource's extract now.
    RefreshDatasource(RefreshContentArgs),
    /// Refresh a workbook's extracts now.
    RefreshWorkbook(RefreshContentArgs),
    /// Run an extract refresh task now (--task), or re-run every task the
    /// latest audit found broken (--broken).
    Refresh(RefreshArgs),
    /// Move an extract refresh task to another schedule.
    Reschedule(RescheduleArgs),
    /// Permissions as code: export a site's rules to YAML, plan and apply a file.
    #[command(subcommand)]
    Permissions(PermissionsCommand),
    /// Users and groups from a CSV file: make the site match it, or export it.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Add and update users from a CSV file (never removes users or memberships).
    AddUsers(AddUsersArgs),
    /// Search the whole site (latest run of the warehouse): names,
    /// descriptions, formulas, custom SQL, tables and columns, tags, owners.
    Search(SearchArgs),
    /// Add or remove tags on workbooks, views and datasources, named,
    /// picked by SQL over the warehouse, or flagged by the audit.
    #[command(subcommand)]
    Tag(TagCommand),
    /// Copy a project's published datasources and workbooks from one site
    /// (profile) to another: plan, remap connections, publish, check lineage.
    PromoteContent(PromoteArgs),
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
            Command::Search(a) => &a.warehouse.lock,
            Command::Demo(_) | Command::Sim(_) | Command::Tag(_) | Command::PromoteContent(_) => return None,
            Command::Permissions(_) | Command::Users(_) | Command::AddUsers(_) => return None,
            Command::RefreshDatasource(_) | Command::RefreshWorkbook(_) | Command::Refresh(_) | Command::Reschedule(_) => {
                return None
            }
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
    /// The most requests in flight adaptive concurrency may climb to while
    /// the server keeps up (default: --concurrency). 429s lower the limit
    /// either way.
    #[arg(long, value_name = "N")]
    pub max_concurrency: Option<usize>,
    /// DuckDB file (default ./trm.duckdb).
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

/// `trm permissions …`
#[derive(Debug, Subcommand)]
pub enum PermissionsCommand {
    /// Write the site's rules as a permissions file (YAML) on standard output.
    Export(PermissionsExportArgs),
    /// Print the REST calls that would bring the site to the file's rules.
    Plan(PermissionsPlanArgs),
    /// Bring the site to the file's rules (`--dry-run`: only the plan).
    Apply(PermissionsApplyArgs),
}

#[derive(Debug, Args)]
pub struct PermissionsExportArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// Only this project (a path such as Finance/Reports) and the projects below it.
    #[arg(long, value_name = "PATH")]
    pub project: Option<String>,
}

#[derive(Debug, Args)]
pub struct PermissionsPlanArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// The permissions file (YAML).
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,
    /// Also remove the rules of grantees the file does not name, on the
    /// objects it lists.
    #[arg(long)]
    pub prune: bool,
}

#[derive(Debug, Args)]
pub struct PermissionsApplyArgs {
    #[command(flatten)]
    pub target: PermissionsPlanArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
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

/// Following a refresh job to its end.
#[derive(Debug, Clone, Copy, Args)]
pub struct WaitArgs {
    /// Follow each job until it ends and report its outcome (exit 1 if any
    /// failed or timed out).
    #[arg(long)]
    pub wait: bool,
    /// Stop waiting after this long (e.g. 90s, 5m), without cancelling.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "wait")]
    pub timeout: Option<Duration>,
    /// On Ctrl-C while waiting, cancel the running jobs without asking.
    #[arg(long, requires = "wait")]
    pub cancel_on_interrupt: bool,
    /// Time between checks of a job's state.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub poll: Duration,
}

#[derive(Debug, Args)]
pub struct RefreshContentArgs {
    /// The datasource's or workbook's name.
    #[arg(long)]
    pub name: String,
    /// Its project: a path such as Finance/Reports, or a project name.
    #[arg(long, value_name = "PATH")]
    pub project: Option<String>,
    /// Refresh incrementally (REST API 3.25 or later).
    #[arg(long)]
    pub incremental: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["task", "broken"])))]
pub struct RefreshArgs {
    /// The extract refresh task to run now (its LUID).
    #[arg(long, value_name = "ID")]
    pub task: Option<String>,
    /// Re-run every refresh task the latest audit flagged as a broken
    /// extract (reads the warehouse, --db). --concurrency caps the jobs in
    /// flight when waiting.
    #[arg(long)]
    pub broken: bool,
    /// With --broken: only findings of at least this severity (low, medium, high).
    #[arg(long, requires = "broken", value_parser = ["low", "medium", "high"])]
    pub severity: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("to").required(true).args(["schedule", "every"])))]
pub struct RescheduleArgs {
    /// The extract refresh task to move (its LUID).
    #[arg(long, value_name = "ID")]
    pub task: String,
    /// Tableau Server: the server schedule to move it to, by name.
    #[arg(long, value_name = "NAME")]
    pub schedule: Option<String>,
    /// Tableau Cloud: its own schedule: 'hourly 4h [HH:MM]', 'daily 02:00
    /// [Nh]' or 'weekly mon,thu 03:00' (UTC; starts on five-minute boundaries).
    #[arg(long, value_name = "WHEN")]
    pub every: Option<String>,
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The site and the DuckDB file, as for every command that reads a site.
    #[command(flatten)]
    pub site: SiteArgs,
    /// Parquet directory (default ./trm-parquet).
    #[arg(long, value_name = "DIR")]
    pub parquet: Option<PathBuf>,
    /// Write DuckDB only.
    #[arg(long)]
    pub no_parquet: bool,
    /// Comma-separated streams to run (default: all), e.g. workbooks,views.
    #[arg(long, value_delimiter = ',', value_name = "STREAMS")]
    pub only: Vec<String>,
    /// Read every site of the server (needs a server administrator) into
    /// the one warehouse, in one run; see docs/sites.md.
    #[arg(long)]
    pub all_sites: bool,
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
    /// Only this site (content URL or LUID) of a warehouse holding several.
    /// Without it such a warehouse gets a page for all sites and one per
    /// site under DIR/sites/<content_url>/.
    #[arg(long, value_name = "SITE")]
    pub site: Option<String>,
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

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to find; may be empty when a filter is given.
    #[arg(value_name = "TEXT", default_value = "")]
    pub text: String,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// Only these kinds (comma-separated): workbook, view, dashboard,
    /// datasource, field, table, column, project, user.
    #[arg(long, value_delimiter = ',', value_name = "KIND")]
    pub kind: Vec<String>,
    /// Only assets in this project or its subprojects (a path such as Finance/Reports).
    #[arg(long, value_name = "PATH")]
    pub project: Option<String>,
    /// Only assets this user owns (user name, full name or email).
    #[arg(long, value_name = "NAME")]
    pub owner: Option<String>,
    /// Only assets with this tag.
    #[arg(long, value_name = "T")]
    pub tag: Option<String>,
    /// Results shown at most.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Print the SQL that lists the same assets from the warehouse, and search nothing.
    #[arg(long)]
    pub sql: bool,
    /// Rebuild the search index first (it is rebuilt by itself when a new run lands).
    #[arg(long)]
    pub reindex: bool,
}

#[derive(Debug, Subcommand)]
pub enum TagCommand {
    /// Add tags to the targets that lack them.
    Add(TagArgs),
    /// Remove tags from the targets that have them.
    Remove(TagArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("targets").required(true).args(["asset", "where_sql", "findings"])))]
pub struct TagArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// A tag (repeatable).
    #[arg(long = "tag", value_name = "T", required = true)]
    pub tags: Vec<String>,
    /// A target as kind:name, kind workbook, view (or dashboard) or datasource (repeatable).
    #[arg(long, value_name = "KIND:NAME")]
    pub asset: Vec<String>,
    /// With --asset: the project the named items are in (a path such as Finance/Reports).
    #[arg(long, value_name = "PATH", requires = "asset")]
    pub project: Option<String>,
    /// Targets from SQL over the warehouse returning the columns kind and id.
    #[arg(long = "where", value_name = "SQL")]
    pub where_sql: Option<String>,
    /// Targets the latest audit flagged, by detector (comma-separated), e.g. unused_dashboard.
    #[arg(long, value_delimiter = ',', value_name = "DETECTORS")]
    pub findings: Vec<String>,
    /// With --findings: only findings of this severity (high, medium, low).
    #[arg(long, value_name = "S", requires = "findings")]
    pub severity: Option<String>,
    /// Items per batch call (tags:batchCreate / tags:batchDelete, REST API 3.9+).
    #[arg(long, value_name = "N", default_value_t = crate::admin::tags::DEFAULT_BATCH)]
    pub batch_size: usize,
    /// One call per item even where the batch calls exist.
    #[arg(long)]
    pub no_batch: bool,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Make the site's users, roles and group memberships match a CSV file.
    Sync(UsersSyncArgs),
    /// Write today's users and groups as a CSV file in the format sync reads.
    Export(UsersExportArgs),
}

/// What `--remove-missing` does to users on the site but not in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RemoveMissingArg {
    /// Set their site role to Unlicensed.
    Unlicense,
    /// Remove them from the site (owners of content only with --map-assets-to).
    Delete,
}

#[derive(Debug, Args)]
pub struct UsersSyncArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// The users file: username, site_role, and optional email, full_name,
    /// auth_setting, groups (;-separated). See docs/users.md.
    #[arg(long, value_name = "FILE")]
    pub csv: PathBuf,
    /// Unlicense or delete users on the site who are not in the file (never
    /// the signed-in user).
    #[arg(long, value_name = "HOW")]
    pub remove_missing: Option<RemoveMissingArg>,
    /// With `--remove-missing delete`: the user who gets deleted users'
    /// content; without it, users who own content are unlicensed instead.
    #[arg(long, value_name = "USER")]
    pub map_assets_to: Option<String>,
    /// Manage the memberships of these groups only (comma-separated;
    /// default: every group the file names).
    #[arg(long, value_delimiter = ',', value_name = "GROUPS")]
    pub only_groups: Option<Vec<String>>,
    /// Refuse the whole file (exit 2, no call made) if any row is invalid.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct AddUsersArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// The users file (same format as `trm users sync`).
    #[arg(long, value_name = "FILE")]
    pub csv: PathBuf,
    /// Refuse the whole file (exit 2, no call made) if any row is invalid.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct UsersExportArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
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
    /// Serve several sites (comma-separated content URLs), each with its own
    /// content from the seed and its name; the first replaces --site.
    #[arg(long, value_delimiter = ',', value_name = "SITES")]
    pub sites: Vec<String>,
    /// `server` (Tableau Server) or `cloud` (Tableau Cloud: no schedule
    /// list, schedules inline on tasks, email user names).
    #[arg(long, default_value = "server")]
    pub flavor: crate::sim::Flavor,
    /// Seconds a refresh job started through the API takes to finish
    /// (moving the simulated clock finishes them at once).
    #[arg(long, default_value_t = 2.0)]
    pub job_seconds: f64,
    /// A promotion environment on top of the generated site: `dev` or
    /// `prod` (two sites with overlapping HR content; docs/simdocuments.md).
    #[arg(long)]
    pub env: Option<crate::sim::documents::env::Env>,
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
    /// Latency per request, as a real server's round trips:
    /// `rest=200ms,metadata=1s`, or ranges with jitter `rest=150ms..250ms`.
    /// The Metadata API value is for a full page of 1,000 nodes; smaller
    /// pages are faster. `GET /sim/latency` reports what was applied.
    #[arg(long, value_name = "SPEC")]
    pub latency: Option<String>,
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

/// `trm promote-content`
#[derive(Debug, Clone, Args)]
pub struct PromoteArgs {
    /// Profile (in the settings file) of the site to copy from.
    #[arg(long)]
    pub source: String,
    /// Profile of the site to copy to.
    #[arg(long)]
    pub target: String,
    /// The source project's path (`HR Dashboards`, `Finance/Reports`);
    /// the same path is used (and created) on the target.
    #[arg(long)]
    pub project: String,
    /// Promote the project's nested projects too.
    #[arg(long)]
    pub include_nested: bool,
    /// Connection mapping file (YAML): server, port, dbname and username
    /// per connection class, credentials from environment variables.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Print the plan (per item: create, replace or leave alone, and why;
    /// every connection rewrite; the REST calls) and change nothing.
    #[arg(long, visible_alias = "dry-run")]
    pub plan: bool,
    /// Replace items that exist on the target and differ.
    #[arg(long, conflicts_with = "skip_existing")]
    pub overwrite: bool,
    /// Leave items that exist on the target alone, even when they differ.
    #[arg(long)]
    pub skip_existing: bool,
    /// Documents larger than this many bytes are uploaded in pieces.
    #[arg(long, value_name = "BYTES", default_value_t = crate::tableau::publish::DEFAULT_CHUNK_THRESHOLD)]
    pub chunk_threshold: usize,
    /// Skip the lineage check after publishing.
    #[arg(long)]
    pub no_verify: bool,
    /// Settings file with named profiles (default ./tableau.yaml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// DuckDB file the run is recorded in (default: the settings file's).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Rows shown per action in the plan.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub show: usize,
}
