//! The simulated Tableau site: a seeded dataset served over Tableau's REST
//! API on loopback, for tests, the demo and users' own CI.
//!
//! - [`dataset`] generates the site's content from a size and a seed.
//! - [`manifest`] states the ground truth about it on a given day.
//! - [`rest`] serves it the way Tableau Server does (XML or JSON).
//! - [`control`] holds the simulator's own endpoints (`/sim/...`): the
//!   clock and the manifest.
//!
//! Use [`start`] to run it in-process on an ephemeral port, or
//! `trm sim serve` from the command line.

pub mod bench;
pub mod control;
pub mod dataset;
pub mod faults;
pub mod manifest;
pub mod metadata;
pub mod rest;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context as _;

use dataset::{Dataset, Job, Size};

/// Everything that shapes a simulated site. Defaults match `trm sim serve`.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub size: Size,
    pub seed: u64,
    /// The simulated day the clock starts on.
    pub day: i64,
    pub site_content_url: String,
    pub pat_name: String,
    pub pat_secret: String,
    pub username: String,
    pub password: String,
    /// Sessions end this long after sign-in (Tableau Server: 240 minutes).
    pub session_ttl: Duration,
    /// Requests one session may have in flight before getting 429.
    pub max_concurrent_per_session: usize,
    /// Added to every authenticated request; lets tests provoke the limit.
    pub latency: Duration,
    /// Faults to inject; none by default.
    pub faults: faults::FaultPlan,
    /// Metadata API limits (node limit, page sizes, cost and time budget).
    pub metadata: metadata::Limits,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            size: Size::Small,
            seed: 42,
            day: 0,
            site_content_url: "analytics".into(),
            pat_name: "trm-sim".into(),
            pat_secret: "trm-sim-secret".into(),
            username: "admin".into(),
            password: "admin-password".into(),
            session_ttl: Duration::from_secs(240 * 60),
            max_concurrent_per_session: 10,
            latency: Duration::ZERO,
            faults: faults::FaultPlan::default(),
            metadata: metadata::Limits::default(),
        }
    }
}

/// The running site's shared state.
pub struct SimState {
    pub config: SimConfig,
    pub data: Dataset,
    day: AtomicI64,
    pub(crate) sessions: rest::auth::Sessions,
    jobs: Mutex<Option<(i64, Arc<Vec<Job>>)>>,
    /// `http://host:port`, known once bound; used in `webpageUrl`s.
    pub base_url: OnceLock<String>,
    metadata: OnceLock<metadata::Metadata>,
}

impl SimState {
    /// Generates the dataset; the large site takes a few seconds.
    pub fn new(config: SimConfig) -> Arc<SimState> {
        let data = dataset::generate(config.size, config.seed, &config.site_content_url);
        Arc::new(SimState {
            day: AtomicI64::new(config.day),
            config,
            data,
            sessions: Default::default(),
            jobs: Mutex::new(None),
            base_url: OnceLock::new(),
            metadata: OnceLock::new(),
        })
    }

    pub fn day(&self) -> i64 {
        self.day.load(Ordering::SeqCst)
    }

    pub fn set_day(&self, day: i64) {
        self.day.store(day, Ordering::SeqCst);
    }

    /// The simulated current time (Unix seconds).
    pub fn now(&self) -> i64 {
        dataset::day_start(self.day())
    }

    /// The jobs list for the current day, computed once per day.
    pub fn jobs(&self) -> Arc<Vec<Job>> {
        let day = self.day();
        let mut cache = self.jobs.lock().expect("jobs cache poisoned");
        match &*cache {
            Some((d, jobs)) if *d == day => jobs.clone(),
            _ => {
                let jobs = Arc::new(self.data.jobs_at(dataset::day_start(day)));
                *cache = Some((day, jobs.clone()));
                jobs
            }
        }
    }

    /// The Metadata API's schema and indexes, built on first use.
    pub fn metadata(&self) -> &metadata::Metadata {
        self.metadata.get_or_init(|| metadata::Metadata::build(self))
    }

    pub fn manifest(&self) -> manifest::Manifest {
        manifest::Manifest::build(&self.data, self.day())
    }

    pub fn base_url(&self) -> &str {
        self.base_url.get().map(String::as_str).unwrap_or("http://localhost")
    }
}

/// The whole site as one router: the REST API plus the simulator's controls.
pub fn app(state: Arc<SimState>) -> axum::Router {
    let api = rest::router(state.clone())
        .merge(metadata::router(state.clone()))
        .layer(axum::middleware::from_fn_with_state(state.clone(), faults::inject));
    api.merge(control::router(state.clone()))
        .layer(axum::middleware::from_fn_with_state(state, simulated_date))
}

/// Every response's `Date` is the simulated clock, as a real server's is its
/// own clock: clients that date their snapshots by the server see the
/// simulated day.
async fn simulated_date(
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
