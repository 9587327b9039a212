//! The simulated Tableau site: a seeded dataset served over Tableau's REST
//! API on loopback, for tests, the demo and users' own CI.
//!
//! - [`dataset`] generates the site's content from a size and a seed.
//! - [`manifest`] states the ground truth about it on a given day.
//! - [`access`] is the ground truth for effective permissions.
//! - [`rest`] serves it the way Tableau Server does (XML or JSON).
//! - [`control`] holds the simulator's own endpoints (`/sim/...`): the
//!   clock and the manifest.
//!
//! Use [`start`] to run it in-process on an ephemeral port, or
//! `trm sim serve` from the command line.

pub mod access;
pub mod bench;
pub mod calls;
pub mod churn;
pub mod control;
pub mod dataset;
pub mod documents;
pub mod faults;
pub mod latency;
pub mod manifest;
pub mod metadata;
pub mod multisite;
pub mod rest;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Duration;

use anyhow::Context as _;

use dataset::{Dataset, Job, Size};

/// Which product the site behaves as, where Tableau Server and Tableau
/// Cloud differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Flavor {
    #[default]
    Server,
    /// No server schedules list; tasks carry their schedule inline; user
    /// names are email addresses.
    Cloud,
}

impl std::str::FromStr for Flavor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "server" => Ok(Flavor::Server),
            "cloud" => Ok(Flavor::Cloud),
            other => Err(format!("unknown flavor '{other}' (expected server or cloud)")),
        }
    }
}

/// Everything that shapes a simulated site. Defaults match `trm sim serve`.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub size: Size,
    pub seed: u64,
    /// The simulated day the clock starts on.
    pub day: i64,
    pub site_content_url: String,
    /// The server's sites (content URLs), when it has more than one; the
    /// first is `site_content_url`'s site. Empty: one site, as before.
    pub sites: Vec<String>,
    pub pat_name: String,
    pub pat_secret: String,
    pub username: String,
    pub password: String,
    /// The site's connected app (direct trust) for JWT sign-in.
    pub connected_app: ConnectedApp,
    /// Sessions end this long after sign-in (Tableau Server: 240 minutes).
    pub session_ttl: Duration,
    /// Requests one session may have in flight before getting 429.
    pub max_concurrent_per_session: usize,
    /// Added to every authenticated request; lets tests provoke the limit.
    pub latency: Duration,
    /// Faults to inject; none by default.
    pub faults: faults::FaultPlan,
    /// Per-API latencies applied to every `/api/...` request, recorded for
    /// benchmarks ([`latency`]); none by default.
    pub latency_model: latency::LatencyModel,
    /// Fields that come and go while a client pages ([`churn`]); none by
    /// default.
    pub churn: Option<churn::Churn>,
    /// Metadata API limits (node limit, page sizes, cost and time budget).
    pub metadata: metadata::Limits,
    pub flavor: Flavor,
    /// Wall-clock time a refresh job started through the API takes to
    /// finish; moving the simulated clock finishes every job at once.
    pub job_duration: Duration,
    /// A promotion environment (dev or prod) added to the generated site;
    /// see [`documents::env`].
    pub env: Option<documents::env::Env>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            size: Size::Small,
            seed: 42,
            day: 0,
            site_content_url: "analytics".into(),
            sites: Vec::new(),
            pat_name: "trm-sim".into(),
            pat_secret: "trm-sim-secret".into(),
            username: "admin".into(),
            password: "admin-password".into(),
            connected_app: ConnectedApp::default(),
            session_ttl: Duration::from_secs(240 * 60),
            max_concurrent_per_session: 10,
            latency: Duration::ZERO,
            faults: faults::FaultPlan::default(),
            latency_model: latency::LatencyModel::default(),
            churn: None,
            metadata: metadata::Limits::default(),
            flavor: Flavor::Server,
            job_duration: Duration::from_secs(2),
            env: None,
        }
    }
}

/// A connected app with direct trust: tokens signed (HS256) with `secret`
/// under `kid` = `secret_id` and `iss` = `client_id` sign in as their `sub`.
#[derive(Clone, Debug)]
pub struct ConnectedApp {
    pub client_id: String,
    pub secret_id: String,
    pub secret: String,
}

impl Default for ConnectedApp {
    fn default() -> ConnectedApp {
        ConnectedApp {
            client_id: "0c6a7ab5-trm-sim-client".into(),
            secret_id: "5e1d3c8f-trm-sim-secret-id".into(),
            secret: "trm-sim-connected-app-secret-value".into(),
        }
    }
}

/// The running site's shared state.
pub struct SimState {
    pub config: SimConfig,
    /// The site's content. Reads take the lock for one response (never
    /// across an await); each write holds it for the whole change, so no
    /// read sees half a write and no two writes interleave.
    data: RwLock<Dataset>,
    /// The clock; one for the whole server.
    day: Arc<AtomicI64>,
    /// The log of write calls, for tests that count them (`/sim/calls`).
    pub calls: calls::CallLog,
    /// The latencies the model applied (`/sim/latency`).
    pub latency_log: latency::Log,
    pub churn: churn::Churning,
    /// Ad-hoc jobs not yet settled, so reads skip settling when there are none.
    pub(crate) pending_jobs: AtomicUsize,
    /// One session table for the whole server: a session names its site.
    pub(crate) sessions: Arc<rest::auth::Sessions>,
    /// Every site of the server, this one included, first site first.
    server: Arc<OnceLock<Vec<Weak<SimState>>>>,
    /// The further sites, kept alive by the first.
    others: Vec<Arc<SimState>>,
    jobs: Mutex<Option<(i64, u64, Arc<Vec<Job>>)>>,
    /// `http://host:port`, known once bound; used in `webpageUrl`s.
    pub base_url: OnceLock<String>,
    /// The Metadata API's indexes and the lineage epoch they were built at.
    metadata: RwLock<Option<(u64, Arc<metadata::Metadata>)>>,
    /// The dataset's lineage epoch as of the last publish, readable without
    /// the dataset's lock (see [`SimState::lineage_changed`]).
    lineage_epoch: std::sync::atomic::AtomicU64,
}

impl SimState {
    /// Generates the dataset; the large site takes a few seconds. With
    /// `config.sites`, generates every site (side by side) and returns the
    /// first, which knows the others ([`SimState::sites`]).
    pub fn new(config: SimConfig) -> Arc<SimState> {
        metadata::prepare_schema();
        let day = Arc::new(AtomicI64::new(config.day));
        let sessions: Arc<rest::auth::Sessions> = Default::default();
        let server: Arc<OnceLock<Vec<Weak<SimState>>>> = Default::default();
        let names = site_names(&config);
        let build = |i: usize, data: Dataset, others: Vec<Arc<SimState>>| {
            let mut config = config.clone();
            config.site_content_url = names[i].clone();
            let epoch = data.docs.lineage_epoch;
            let churn = churn::Churning::new(config.churn.clone(), &data);
            Arc::new(SimState {
                day: day.clone(),
                config,
                data: RwLock::new(data),
                calls: Default::default(),
                latency_log: Default::default(),
                churn,
                pending_jobs: AtomicUsize::new(0),
                sessions: sessions.clone(),
                server: server.clone(),
                others,
                jobs: Mutex::new(None),
                base_url: OnceLock::new(),
                metadata: RwLock::new(None),
                lineage_epoch: std::sync::atomic::AtomicU64::new(epoch),
            })
        };
        let datasets: Vec<Dataset> = std::thread::scope(|scope| {
            let tasks: Vec<_> = names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let (seed, percent) = site_seed(&config, i, name);
                    let seed = config.env.map_or(seed, |e| e.seed(seed));
                    let (size, env, day) = (config.size, config.env, config.day);
                    scope.spawn(move || {
                        let mut data = dataset::generate_scaled(size, seed, name, percent);
                        if let Some(env) = env {
                            documents::env::apply(&mut data, env, dataset::day_start(day));
                        }
                        data
                    })
                })
                .collect();
            tasks.into_iter().map(|t| t.join().expect("site generation panicked")).collect()
        });
        let mut datasets = datasets.into_iter();
        let first = datasets.next().expect("at least one site");
        let others: Vec<Arc<SimState>> = datasets.enumerate().map(|(i, d)| build(i + 1, d, Vec::new())).collect();
        let state = build(0, first, others);
        let all = std::iter::once(&state).chain(&state.others).map(Arc::downgrade).collect();
        let _ = server.set(all);
        state
    }

    /// Every site of the server, first site first (just this one on a
    /// one-site server).
    pub fn sites(&self) -> Vec<Arc<SimState>> {
        self.server.get().map(|all| all.iter().filter_map(Weak::upgrade).collect()).unwrap_or_default()
    }

    /// The site with this content URL (case-insensitive), if the server has it.
    pub fn site(&self, content_url: &str) -> Option<Arc<SimState>> {
        self.sites().into_iter().find(|s| s.config.site_content_url.eq_ignore_ascii_case(content_url))
    }

    /// The site with this LUID, if the server has it.
    pub fn site_by_id(&self, id: &str) -> Option<Arc<SimState>> {
        self.sites().into_iter().find(|s| s.data().site.id == id)
    }

    /// The site's content as of now. Hold the guard for one response only:
    /// a write waits for every reader.
    pub fn data(&self) -> RwLockReadGuard<'_, Dataset> {
        self.settle_jobs();
        self.data.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Exclusive access for one write; bumps the dataset's version so cached
    /// reads recompute.
    pub fn write(&self) -> RwLockWriteGuard<'_, Dataset> {
        self.settle_jobs();
        let mut d = self.data.write().unwrap_or_else(|e| e.into_inner());
        d.version += 1;
        d
    }

    pub fn day(&self) -> i64 {
        self.day.load(Ordering::SeqCst)
    }

    pub fn set_day(&self, day: i64) {
        self.day.store(day, Ordering::SeqCst);
        self.settle_jobs();
    }

    /// Where an ad-hoc job stands now: it finishes after the configured
    /// wall-clock duration, or as soon as the simulated clock moves on.
    pub fn job_phase(&self, j: &dataset::AdhocJob) -> dataset::JobPhase {
        use dataset::JobPhase;
        if j.cancelled {
            return JobPhase::Cancelled;
        }
        if j.done || self.day() > j.created_day {
            return JobPhase::Finished;
        }
        let total = self.config.job_duration.as_secs_f64().max(1e-3);
        let elapsed = j.created_wall.elapsed().as_secs_f64() / total;
        match elapsed {
            e if e >= 1.0 => JobPhase::Finished,
            e if e < 0.2 => JobPhase::Queued,
            e => JobPhase::InProgress(((e - 0.2) / 0.8 * 100.0) as u8),
        }
    }

    /// Records the outcome of every ad-hoc job that has finished, so task
    /// failure counts and extract times include it. Cheap when none is due.
    fn settle_jobs(&self) {
        if self.pending_jobs.load(Ordering::SeqCst) == 0 {
            return;
        }
        let due = {
            let d = self.data.read().unwrap_or_else(|e| e.into_inner());
            d.adhoc_jobs.iter().any(|j| !j.done && !j.cancelled && self.job_phase(j) == dataset::JobPhase::Finished)
        };
        if due {
            let mut d = self.data.write().unwrap_or_else(|e| e.into_inner());
            for j in d.adhoc_jobs.iter_mut() {
                if !j.done && self.job_phase(j) == dataset::JobPhase::Finished {
                    j.done = true;
                    self.pending_jobs.fetch_sub(1, Ordering::SeqCst);
                }
            }
            d.version += 1;
        }
    }

    /// The simulated current time (Unix seconds).
    pub fn now(&self) -> i64 {
        dataset::day_start(self.day())
    }

    /// The scheduled jobs list for the current day, computed once per day.
    pub fn jobs(&self, d: &Dataset) -> Arc<Vec<Job>> {
        let day = self.day();
        let mut cache = self.jobs.lock().expect("jobs cache poisoned");
        match &*cache {
            Some((cached_day, version, jobs)) if *cached_day == day && *version == d.task_version => jobs.clone(),
            _ => {
                let jobs = Arc::new(d.jobs_at(dataset::day_start(day)));
                *cache = Some((day, d.task_version, jobs.clone()));
                jobs
            }
        }
    }

    /// The Metadata API's schema and indexes, built on first use and again
    /// after a publish changes the lineage.
    pub fn metadata(&self) -> Arc<metadata::Metadata> {
        let epoch = self.lineage_epoch.load(Ordering::SeqCst);
        // Every field resolution asks: an atomic and a shared lock keep that cheap.
        if let Some((e, md)) = &*self.metadata.read().unwrap_or_else(|e| e.into_inner()) {
            if *e == epoch {
                return md.clone();
            }
        }
        let mut cache = self.metadata.write().unwrap_or_else(|e| e.into_inner());
        let d = self.data();
        match &*cache {
            Some((e, md)) if *e == epoch && *e == d.docs.lineage_epoch => md.clone(),
            _ => {
                let md = Arc::new(metadata::Metadata::build(&d));
                *cache = Some((d.docs.lineage_epoch, md.clone()));
                md
            }
        }
    }

    /// Tells the Metadata API that a write (a publish, a connection edit)
    /// changed the lineage's structure to `epoch`, so it rebuilds its indexes.
    pub fn lineage_changed(&self, epoch: u64) {
        self.lineage_epoch.fetch_max(epoch, Ordering::SeqCst);
    }

    pub fn manifest(&self) -> manifest::Manifest {
        manifest::Manifest::build(&self.data(), self.day())
    }

    pub fn base_url(&self) -> &str {
        self.base_url.get().map(String::as_str).unwrap_or("http://localhost")
    }
}

/// The content URLs of a config's sites, first site first.
fn site_names(config: &SimConfig) -> Vec<String> {
    if config.sites.is_empty() {
        vec![config.site_content_url.clone()]
    } else {
        config.sites.clone()
    }
}

/// The seed and size (percent of the configured size) of site `i`: the
/// first site is exactly the one-site server's; each further one mixes its
/// name into the seed, and gets 70 to 130% of the counts.
fn site_seed(config: &SimConfig, i: usize, name: &str) -> (u64, u32) {
    if i == 0 {
        return (config.seed, 100);
    }
    // FNV-1a of the name: stable across builds, unlike std's hasher.
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    (config.seed ^ h.rotate_left(17), 70 + (h % 61) as u32)
}

/// The whole site as one router: the REST API plus the simulator's controls.
/// A server with several sites routes each request to the site of its
/// session ([`multisite`]).
pub fn app(state: Arc<SimState>) -> axum::Router {
    if state.sites().len() > 1 {
        return multisite::app(state);
    }
    let api = rest::router(state.clone())
        .merge(metadata::router(state.clone()))
        .layer(axum::middleware::from_fn_with_state(state.clone(), faults::inject))
        // Outside the faults, so a write answered by an injected error is
        // logged with that status, as a client saw it.
        .layer(axum::middleware::from_fn_with_state(state.clone(), calls::record))
        // Outermost: every request waits, faulted ones too.
        .layer(axum::middleware::from_fn_with_state(state.clone(), latency::apply));
    api.merge(control::router(state.clone()))
        .layer(axum::middleware::from_fn_with_state(state, simulated_date))
}

/// Every response's `Date` is the simulated clock, as a real server's is its
/// own clock: clients that date their snapshots by the server see the
/// simulated day.
pub(crate) async fn simulated_date(
    axum::extract::State(st): axum::extract::State<Arc<SimState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut resp = next.run(req).await;
    let now = chrono::DateTime::from_timestamp(st.now(), 0).unwrap_or_default();
    if let Ok(v) = axum::http::HeaderValue::from_str(&now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
        resp.headers_mut().insert(axum::http::header::DATE, v);
    }
    resp
}

/// A site running on a background task.
pub struct SimHandle {
    pub addr: SocketAddr,
    pub state: Arc<SimState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl SimHandle {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for the server to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Generates the site and serves it on `addr` (use port 0 for an ephemeral
/// port). Only loopback addresses are accepted: this is a test fixture, not
/// something to expose.
pub async fn start(config: SimConfig, addr: SocketAddr) -> anyhow::Result<SimHandle> {
    anyhow::ensure!(
        addr.ip().is_loopback(),
        "the simulated site only listens on loopback addresses (127.0.0.1 or ::1), not {}",
        addr.ip()
    );
    let state = tokio::task::spawn_blocking(move || SimState::new(config)).await?;
    serve(state, addr).await
}

/// Serves an already generated site.
pub async fn serve(state: Arc<SimState>, addr: SocketAddr) -> anyhow::Result<SimHandle> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let _ = state.base_url.set(format!("http://{addr}"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let router = app(state.clone());
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "simulated site stopped");
        }
    });
    Ok(SimHandle { addr, state, shutdown: Some(tx), task })
}
