//! Extraction: one [`Stream`] per Tableau entity family, each fetching its
//! rows through the clients in `tableau/` and handing finished Arrow batches
//! to the warehouse writer. A run is all-or-nothing: the writer commits only
//! when every stream succeeded.
//!
//! Adding a stream: write a struct implementing [`Stream`] in the file of its
//! family (`site`, `people`, `content`, `refresh`, `lineage`, `permissions`),
//! name the tables it fills (defined in `warehouse::schema`), and list it in
//! [`all_streams`].
//!
//! Streams run concurrently and independently. A REST list that more than
//! one stream needs (projects, workbooks, datasources) is fetched through
//! [`Ctx::list`]: once per run, by whichever stream asks first, the others
//! waiting for and sharing its items. With `--only`, a stream that needs a
//! list whose own stream is not selected fetches it all the same.
//!
//! Each stream's requests are tagged with its name and a priority
//! ([`schedule`]): the client's limiter sends waiting requests by priority
//! and counts requests, retries and waits per stream, which each run
//! appends to `run_streams`.

/// Declares a stream: its struct, its `--only` name and the tables it fills;
/// the work is its `async fn extract(&self, ctx: &Ctx)`.
macro_rules! stream {
    ($ty:ident, $name:literal, [$($table:literal),*]) => {
        pub struct $ty;
        impl $crate::extract::Stream for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn tables(&self) -> &'static [&'static str] {
                &[$($table),*]
            }
            fn run<'a>(&'a self, ctx: &'a $crate::extract::Ctx) -> futures::future::BoxFuture<'a, anyhow::Result<()>> {
                Box::pin(self.extract(ctx))
            }
        }
    };
}

mod content;
mod json;
mod lineage;
mod people;
mod permissions;
mod refresh;
pub mod schedule;
mod site;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::future::BoxFuture;

use crate::config::Settings;
use crate::tableau::rest::list_all;
use crate::tableau::adaptive::{self, ConcurrencyReport};
use crate::tableau::{Client, RequestStats};
use crate::config::Auth;
use crate::warehouse::{self, RunInfo, SiteInfo, SiteWriter, Writer};

/// What a stream needs while it runs: one site's client and its part of
/// the run.
pub struct Ctx {
    pub client: Arc<Client>,
    writer: SiteWriter,
    reporter: Arc<dyn Reporter>,
    warnings: Mutex<Vec<String>>,
    /// Tables this run must not write: filled by several streams, not all
    /// of which run (`--only`), so the latest-run view keeps a whole table.
    partial: HashSet<&'static str>,
    lists: SharedLists,
}

/// A REST list several streams read: [`Ctx::list`] fetches it once a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum List {
    Projects,
    Workbooks,
    Datasources,
    /// With usage statistics: the `views` stream stores them, the
    /// permissions stream needs each view's workbook.
    Views,
    /// Tableau Prep flows. A server without flows (no Data Management, an
    /// old version, the simulated site) may not know the endpoint: that
    /// listing counts as empty.
    Flows,
}

impl List {
    /// The path under the site, and the JSON collection and item keys.
    fn keys(self) -> (&'static str, &'static str, &'static str) {
        match self {
            List::Projects => ("projects", "projects", "project"),
            List::Workbooks => ("workbooks", "workbooks", "workbook"),
            List::Datasources => ("datasources", "datasources", "datasource"),
            List::Views => ("views", "views", "view"),
            List::Flows => ("flows", "flows", "flow"),
        }
    }

    /// The streams that read it. Once each of them has let go
    /// ([`Ctx::let_go`]) the run frees it: a large site's views, kept as
    /// parsed XML, are hundreds of megabytes.
    fn readers(self) -> &'static [&'static str] {
        match self {
            List::Projects => &["projects", "permissions"],
            List::Workbooks => &["workbooks", "views", "permissions"],
            List::Datasources => &["datasources", "permissions"],
            List::Views => &["views", "permissions"],
            List::Flows => &["flows", "permissions"],
        }
    }

    const ALL: [List; 5] = [List::Projects, List::Workbooks, List::Datasources, List::Views, List::Flows];

    fn query(self) -> Vec<(&'static str, String)> {
        match self {
            List::Views => vec![("includeUsageStatistics", "true".to_string())],
            _ => Vec::new(),
        }
    }
}

/// Whether a failed flows listing means "this server has no flows here":
/// an unknown endpoint (404, Tableau's 404003 or no code) or a feature the
/// site does not offer (400, 403 for a server without flows enabled).
fn no_flows(e: &crate::tableau::TableauError) -> bool {
    matches!(e.status(), Some(400 | 403 | 404 | 405 | 501))
}

/// A shared list: fetched by its first caller while later ones wait, then
/// kept until its last reader lets go.
type SharedList = tokio::sync::Mutex<Option<Arc<Vec<serde_json::Value>>>>;

struct SharedLists {
    projects: SharedList,
    workbooks: SharedList,
    datasources: SharedList,
    views: SharedList,
    flows: SharedList,
    /// (stream, list) pairs of this run's streams that have not let go.
    holding: Mutex<HashSet<(&'static str, List)>>,
}

impl SharedLists {
    fn new(streams: &[Box<dyn Stream>]) -> SharedLists {
        let holding = List::ALL
            .into_iter()
            .flat_map(|list| {
                streams.iter().map(|s| s.name()).filter(move |name| list.readers().contains(name)).map(move |name| (name, list))
            })
            .collect();
        SharedLists {
            projects: SharedList::default(),
            workbooks: SharedList::default(),
            datasources: SharedList::default(),
            views: SharedList::default(),
            flows: SharedList::default(),
            holding: Mutex::new(holding),
        }
    }

    fn cell(&self, list: List) -> &SharedList {
        match list {
            List::Projects => &self.projects,
            List::Workbooks => &self.workbooks,
            List::Datasources => &self.datasources,
            List::Views => &self.views,
            List::Flows => &self.flows,
        }
    }
}

impl Ctx {
    /// Every item of a shared REST list, fetched (with [`list_all`]) by the
    /// first stream to ask; later and concurrent callers get the same items
    /// without another request. A failed fetch is not kept: the next caller
    /// tries again.
    pub async fn list(&self, list: List) -> anyhow::Result<Arc<Vec<serde_json::Value>>> {
        let mut cell = self.lists.cell(list).lock().await;
        if let Some(items) = cell.as_ref() {
            return Ok(items.clone());
        }
        let (path, collection, item) = list.keys();
        // Every stream of content waits on these lists: they go first.
        let items = adaptive::with_priority(schedule::LIST, async {
            match list_all(&self.client, &self.client.site_path(path), collection, item, &list.query()).await {
                Err(e) if list == List::Flows && no_flows(&e) => {
                    tracing::info!(error = %e, "this server lists no flows; taking the site to have none");
                    Ok(Arc::new(Vec::new()))
                }
                r => r.map(Arc::new),
            }
        })
        .await?;
        // Kept only while a reader still needs it (a stream of this run
        // that has not let go).
        if self.lists.holding.lock().expect("list readers poisoned").iter().any(|(_, l)| *l == list) {
            *cell = Some(items.clone());
        }
        Ok(items)
    }

    /// `stream` is done with `lists`: each one no other stream still needs
    /// is freed. A stream lets go of everything when it ends; one that
    /// runs on long after reading (permissions) lets go early.
    pub async fn let_go(&self, stream: &str, lists: &[List]) {
        for &list in lists {
            let unread = {
                let mut holding = self.lists.holding.lock().expect("list readers poisoned");
                holding.retain(|(s, l)| !(*s == stream && *l == list));
                !holding.iter().any(|(_, l)| *l == list)
            };
            if unread {
                self.lists.cell(list).lock().await.take();
            }
        }
    }

    /// Hands a finished table to the warehouse.
    pub fn emit(&self, stream: &str, rows: warehouse::Rows) -> anyhow::Result<()> {
        let table = rows.table();
        if self.partial.contains(table) {
            tracing::debug!(stream, table, "not written: only some of its streams run");
            return Ok(());
        }
        let n = rows.len();
        for batch in rows.finish_chunks() {
            self.writer.write(table, batch).with_context(|| format!("stream {stream}: writing {table}"))?;
        }
        self.reporter.rows(stream, table, n as u64);
        Ok(())
    }

    /// Records a non-fatal warning on the run.
    pub fn warn(&self, stream: &str, message: impl Into<String>) {
        let message = format!("{stream}: {}", message.into());
        tracing::warn!("{message}");
        self.warnings.lock().expect("warnings poisoned").push(message);
    }

    pub fn progress(&self, stream: &str, fetched: u64) {
        self.reporter.progress(stream, fetched);
    }
}

/// One entity family to extract.
pub trait Stream: Send + Sync {
    /// The name `--only` selects it by.
    fn name(&self) -> &'static str;
    /// The warehouse tables it fills.
    fn tables(&self) -> &'static [&'static str];
    fn run<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, anyhow::Result<()>>;
}

pub fn all_streams() -> Vec<Box<dyn Stream>> {
    vec![
        Box::new(site::Sites),
        Box::new(site::Projects),
        Box::new(people::Users),
        Box::new(people::Groups),
        Box::new(content::Workbooks),
        Box::new(content::Views),
        Box::new(content::Datasources),
        Box::new(content::Flows),
        Box::new(refresh::Schedules),
        Box::new(refresh::ExtractTasks),
        Box::new(refresh::Jobs),
        Box::new(permissions::Permissions),
        Box::new(lineage::Dashboards),
        Box::new(lineage::Sheets),
        Box::new(lineage::PublishedDatasources),
        Box::new(lineage::EmbeddedDatasources),
        Box::new(lineage::DatabaseServers),
        Box::new(lineage::Tables),
        Box::new(lineage::Columns),
        Box::new(lineage::Fields),
        Box::new(lineage::QualityWarnings),
    ]
}

/// Progress of a run, for the command line (indicatif) or silence.
pub trait Reporter: Send + Sync {
    fn start(&self, _stream: &str) {}
    fn progress(&self, _stream: &str, _fetched: u64) {}
    fn rows(&self, _stream: &str, _table: &str, _rows: u64) {}
    fn finish(&self, _stream: &str, _ok: bool) {}
}

pub struct Quiet;
impl Reporter for Quiet {}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Stream names to run; all when empty.
    pub only: Vec<String>,
    /// Write Parquet beside DuckDB.
    pub parquet: bool,
}

/// What a finished run wrote.
#[derive(Debug)]
pub struct Outcome {
    pub run_id: String,
    pub rows: BTreeMap<String, u64>,
    pub warnings: Vec<String>,
    /// Requests over every session of the run.
    pub stats: RequestStats,
    pub elapsed: Duration,
    /// Each site read, in order, with its outcome.
    pub sites: Vec<SiteOutcome>,
    /// How the adaptive concurrency limit moved.
    pub concurrency: ConcurrencyReport,
    /// Per stream: requests, retries, waits, time on the critical path.
    pub streams: Vec<schedule::StreamReport>,
}

/// One site of a run.
#[derive(Debug, Clone)]
pub struct SiteOutcome {
    pub content_url: String,
    /// Empty when the site failed before its LUID was known.
    pub luid: String,
    /// Why the site failed; its rows of the run were not kept.
    pub error: Option<String>,
}

impl Outcome {
    pub fn failed_sites(&self) -> impl Iterator<Item = &SiteOutcome> {
        self.sites.iter().filter(|s| s.error.is_some())
    }
}

/// Selects streams by name; unknown names are an error listing the valid ones.
pub fn select(only: &[String]) -> anyhow::Result<Vec<Box<dyn Stream>>> {
    let all = all_streams();
    if only.is_empty() {
        return Ok(all);
    }
    let names: Vec<&str> = all.iter().map(|s| s.name()).collect();
    for o in only {
        anyhow::ensure!(names.contains(&o.as_str()), "unknown stream '{o}' in --only; streams are: {}", names.join(", "));
    }
    Ok(all.into_iter().filter(|s| only.iter().any(|o| o == s.name())).collect())
}

/// Tables some selected stream fills but some unselected stream fills too.
fn partial_tables(selected: &[Box<dyn Stream>]) -> HashSet<&'static str> {
    let chosen: HashSet<&str> = selected.iter().map(|s| s.name()).collect();
    let mut partial = HashSet::new();
    for s in all_streams() {
        if !chosen.contains(s.name()) {
            partial.extend(s.tables().iter().copied());
        }
    }
    partial
}

/// Runs one extraction: connect, run the streams concurrently, commit the
/// warehouse if all succeeded, otherwise roll back and record the failure.
pub async fn run(settings: &Settings, options: &Options, reporter: Arc<dyn Reporter>) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let streams = select(&options.only)?;
    let client = Arc::new(connect(settings).await?);
    let run = run_info(settings, &client, settings.site.clone());
    let run_id = run.run_id.clone();
    let parquet = options.parquet.then_some(settings.parquet.as_path());
    let writer = Writer::start(&settings.db, parquet, run)
        .with_context(|| format!("cannot open the warehouse {}", settings.db.display()))?;
    let site = SiteInfo { luid: client.site_id(), content_url: client.content_url(), name: String::new() };
    let site_writer = writer.site(site.clone()).context("cannot start the run's site")?;
    tracing::info!(run_id, streams = streams.len(), "extraction started");
    let (warnings, failures, reports) = extract_site(&client, site_writer, &streams, &reporter).await;
    client.sign_out().await;
    if !failures.is_empty() {
        let message = failures.join("; ");
        if let Err(e) = writer.abort(&message) {
            tracing::error!(error = %e, "could not record the failed run");
        }
        record_streams(&settings.db, &run_id, &reports);
        anyhow::bail!("extraction failed, the warehouse is unchanged: {message}");
    }
    let rows = writer.commit(&warnings).context("cannot commit the run to the warehouse")?;
    record_streams(&settings.db, &run_id, &reports);
    let sites = vec![SiteOutcome { content_url: site.content_url, luid: site.luid, error: None }];
    Ok(Outcome {
        run_id,
        rows,
        warnings,
        stats: client.stats(),
        elapsed: started.elapsed(),
        sites,
        concurrency: client.concurrency_report(),
        streams: reports,
    })
}

async fn connect(settings: &Settings) -> anyhow::Result<Client> {
    Client::connect(settings)
        .await
        .with_context(|| format!("cannot connect to {} (site '{}')", settings.server, settings.site))
}

fn run_info(settings: &Settings, client: &Client, site: String) -> RunInfo {
    let now = chrono::Utc::now().timestamp();
    RunInfo {
        run_id: warehouse::new_run_id(now),
        profile: settings.profile.clone(),
        server: settings.server.clone(),
        site,
        api_version: client.api_version(),
        started_at: now,
        as_of: client.server_time(),
    }
}

/// Runs the streams of one site, concurrently, into its part of the run:
/// the warnings, and the failures (none: the site succeeded).
async fn extract_site(
    client: &Arc<Client>,
    writer: SiteWriter,
    streams: &[Box<dyn Stream>],
    reporter: &Arc<dyn Reporter>,
) -> (Vec<String>, Vec<String>, Vec<schedule::StreamReport>) {
    let ctx = Ctx {
        client: client.clone(),
        writer,
        reporter: reporter.clone(),
        warnings: Mutex::new(Vec::new()),
        partial: partial_tables(streams),
        lists: SharedLists::new(streams),
    };
    let finished = futures::future::join_all(streams.iter().map(|s| {
        let ctx = &ctx;
        adaptive::tagged(s.name(), schedule::priority(s.name()), async move {
            let began = Instant::now();
            ctx.reporter.start(s.name());
            let result = s.run(ctx).await.with_context(|| format!("stream {} failed", s.name()));
            ctx.let_go(s.name(), &List::ALL).await;
            ctx.reporter.finish(s.name(), result.is_ok());
            ((s.name(), began, Instant::now(), result.is_ok()), result)
        })
    }))
    .await;
    let (timings, results): (Vec<_>, Vec<_>) = finished.into_iter().unzip();
    let stream_reports = schedule::reports(&timings, &client.stream_figures());
    let warnings = ctx.warnings.into_inner().expect("warnings poisoned");
    let failures = results.into_iter().filter_map(|r| r.err()).map(|e| format!("{e:#}")).collect();
    (warnings, failures, stream_reports)
}

/// Which sites a several-site run reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sites {
    /// Every site the server lists (`GET sites`: server administrators).
    All,
    /// These content URLs (`sites:` in the profile).
    Named(Vec<String>),
}

/// Extracts several sites of one server into one run. Signs in once (to
/// `settings.site`); with personal access tokens and passwords, reads the
/// sites in turn, moving the session with `auth/switchSite`; with a
/// connected app, whose sessions belong to one site and may run side by
/// side, signs in to each site and reads them all at once. A site that
/// fails is recorded as failed and its rows dropped; the others are
/// committed. The run fails only when every site failed.
pub async fn run_sites(
    settings: &Settings,
    sites: &Sites,
    options: &Options,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let streams = select(&options.only)?;
    let first = Arc::new(connect(settings).await?);
    // LUIDs and names by content URL, where the user may list the server's sites.
    let listed = list_sites(&first).await;
    let names: Vec<String> = match (sites, &listed) {
        (Sites::Named(names), _) => names.clone(),
        (Sites::All, Ok(list)) => list.iter().map(|s| s.content_url.clone()).collect(),
        (Sites::All, Err(e)) => {
            first.sign_out().await;
            anyhow::bail!("cannot list the sites of {} (--all-sites needs a server administrator): {e:#}", settings.server)
        }
    };
    anyhow::ensure!(!names.is_empty(), "no sites to extract");
    let known = |cu: &str| listed.as_ref().ok().and_then(|l| l.iter().find(|s| s.content_url.eq_ignore_ascii_case(cu)).cloned());
    let run = run_info(settings, &first, names.join(","));
    let run_id = run.run_id.clone();
    let parquet = options.parquet.then_some(settings.parquet.as_path());
    let writer = Writer::start(&settings.db, parquet, run)
        .with_context(|| format!("cannot open the warehouse {}", settings.db.display()))?;
    tracing::info!(run_id, sites = names.len(), streams = streams.len(), "extraction of several sites started");

    // One site: its session (signed in or switched to), then its streams.
    let one_site = |cu: String, client: anyhow::Result<Arc<Client>>| {
        let (writer, streams, reporter) = (&writer, &streams, &reporter);
        let info = known(&cu);
        async move {
            let mut site = SiteInfo { luid: String::new(), content_url: cu.clone(), name: String::new() };
            if let Some(k) = info {
                site.luid = k.luid;
                site.name = k.name;
            }
            let client = match client {
                Ok(c) => c,
                Err(e) => {
                    let error = format!("site '{cu}': {e:#}");
                    let record = writer.site(site.clone()).and_then(|w| w.fail(&error));
                    return (SiteOutcome { content_url: cu, luid: site.luid, error: Some(error) }, Vec::new(), record.err(), Vec::new());
                }
            };
            site.luid = client.site_id();
            let site_writer = match writer.site(site.clone()) {
                Ok(w) => w,
                Err(e) => {
                    let error = format!("site '{cu}': {e}");
                    return (SiteOutcome { content_url: cu, luid: site.luid, error: Some(error) }, Vec::new(), Some(e), Vec::new());
                }
            };
            let (warnings, failures, reports) = extract_site(&client, site_writer.clone(), streams, reporter).await;
            let warnings = warnings.into_iter().map(|w| format!("site '{cu}': {w}")).collect();
            if failures.is_empty() {
                return (SiteOutcome { content_url: cu, luid: site.luid, error: None }, warnings, None, reports);
            }
            let error = format!("site '{cu}': {}", failures.join("; "));
            tracing::warn!("{error}");
            let record = site_writer.fail(&error).err();
            (SiteOutcome { content_url: cu, luid: site.luid, error: Some(error) }, warnings, record, reports)
        }
    };

    let mut clients = vec![first.clone()];
    let mut results = Vec::new();
    if matches!(settings.auth, Auth::Jwt(_)) {
        let jobs = names.iter().map(|cu| {
            let first = first.clone();
            async move {
                let client = if cu.eq_ignore_ascii_case(&first.content_url()) {
                    Ok(first)
                } else {
                    let s = Settings { site: cu.clone(), ..settings.clone() };
                    connect(&s).await.map(Arc::new)
                };
                let kept = client.as_ref().ok().cloned();
                (one_site(cu.clone(), client).await, kept)
            }
        });
        for (result, client) in futures::future::join_all(jobs).await {
            if let Some(c) = client.filter(|c| !Arc::ptr_eq(c, &first)) {
                clients.push(c);
            }
            results.push(result);
        }
    } else {
        // The signed-in site first, so it needs no switch.
        let mut order: Vec<&String> = names.iter().filter(|cu| cu.eq_ignore_ascii_case(&first.content_url())).collect();
        order.extend(names.iter().filter(|cu| !cu.eq_ignore_ascii_case(&first.content_url())));
        for cu in order {
            let client = if cu.eq_ignore_ascii_case(&first.content_url()) {
                Ok(first.clone())
            } else {
                first.switch_site(cu).await.map(|()| first.clone()).with_context(|| format!("cannot switch to site '{cu}'"))
            };
            results.push(one_site(cu.clone(), client).await);
        }
    }
    for c in &clients {
        c.sign_out().await;
    }
    let mut stats = RequestStats::default();
    for c in &clients {
        let s = c.stats();
        stats.requests += s.requests;
        stats.retries += s.retries;
        stats.throttled += s.throttled;
        stats.reauthentications += s.reauthentications;
    }
    let mut outcomes = Vec::new();
    let mut warnings = Vec::new();
    let mut reports = Vec::new();
    for (outcome, w, record_error, site_reports) in results {
        reports.extend(site_reports);
        if let Some(e) = record_error {
            let message = format!("cannot record site '{}' as failed: {e}", outcome.content_url);
            let _ = writer.abort(&message);
            anyhow::bail!("extraction failed, the warehouse is unchanged: {message}");
        }
        warnings.extend(w);
        outcomes.push(outcome);
    }
    if outcomes.iter().all(|o| o.error.is_some()) {
        let message: Vec<String> = outcomes.iter().filter_map(|o| o.error.clone()).collect();
        let message = message.join("; ");
        if let Err(e) = writer.abort(&message) {
            tracing::error!(error = %e, "could not record the failed run");
        }
        anyhow::bail!("extraction failed for every site, the warehouse is unchanged: {message}");
    }
    let rows = writer.commit(&warnings).context("cannot commit the run to the warehouse")?;
    record_streams(&settings.db, &run_id, &reports);
    Ok(Outcome {
        run_id,
        rows,
        warnings,
        stats,
        elapsed: started.elapsed(),
        sites: outcomes,
        concurrency: first.concurrency_report(),
        streams: reports,
    })
}

/// The server's sites (`GET sites`), as a server administrator sees them.
async fn list_sites(client: &Client) -> anyhow::Result<Vec<SiteInfo>> {
    let items = list_all(client, "sites", "sites", "site", &[]).await?;
    Ok(items
        .iter()
        .map(|s| SiteInfo {
            luid: s["id"].as_str().unwrap_or_default().to_string(),
            content_url: s["contentUrl"].as_str().unwrap_or_default().to_string(),
            name: s["name"].as_str().unwrap_or_default().to_string(),
        })
        .collect())
}

/// Appends the run's per-stream figures to `run_streams`; a failure is
/// logged, never the run's.
fn record_streams(db: &std::path::Path, run_id: &str, reports: &[schedule::StreamReport]) {
    let result = schedule::rows(run_id, reports)
        .and_then(|rows| warehouse::append_log(db, "run_streams", rows.finish()).map_err(anyhow::Error::from));
    if let Err(e) = result {
        tracing::warn!(error = %format!("{e:#}"), "could not record the streams' figures in run_streams");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_tables_are_written_only_when_all_their_streams_run() {
        let all = select(&[]).unwrap();
        assert!(partial_tables(&all).is_empty());
        let some = select(&["views".to_string(), "sheets".to_string()]).unwrap();
        let partial = partial_tables(&some);
        assert!(partial.contains("tags"), "workbooks and datasources also fill tags");
        assert!(partial.contains("workbook_contents"), "dashboards also fill workbook_contents");
        assert!(!partial.contains("views") && !partial.contains("sheet_fields"));
        let err = select(&["nope".to_string()]).err().expect("unknown streams are refused");
        assert!(err.to_string().contains("workbooks"), "{err}");
    }

    #[test]
    fn every_stream_table_is_a_warehouse_table() {
        for s in all_streams() {
            for t in s.tables() {
                assert!(crate::warehouse::schema::table(t).is_some(), "{} fills unknown table {t}", s.name());
            }
        }
    }
}
