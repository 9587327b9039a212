//! Injected faults: seeded, reproducible failures on both APIs (REST under
//! `/api/{version}/...`, the Metadata API at `/api/metadata/graphql`), so
//! clients can be tested against the ways real sites misbehave. Without a
//! plan the site is clean.
//!
//! # The plan file
//!
//! `trm sim serve --faults FILE` (and `trm demo --faults FILE`) read YAML:
//!
//! ```yaml
//! seed: 7                   # drives `rate`; default 0
//! faults:
//!   - kind: status          # an HTTP error with a Tableau-style <error> body
//!     status: 503           # 429 | 500 | 502 | 503
//!     rate: 0.05            # fire on 5% of matching requests (seeded)
//!     retry_after_secs: 2   # Retry-After header: 429 (default 1) or 503 (default none)
//!     api: rest             # rest | metadata | both (default both)
//!     path: "/workbooks"    # only requests whose path contains this
//!   - kind: slow            # the response waits this long before the handler runs
//!     delay_ms: 1500
//!     every: 10             # every 10th matching request
//!   - kind: drop            # the connection closes without a response
//!     first: 1              # only the first matching request
//!   - kind: truncate        # full headers and Content-Length, half the body, then the connection closes
//!     at: [3, 8]            # the 3rd and 8th matching requests
//!   - kind: expire_session  # a session ends after this many authenticated requests:
//!     after_requests: 40    # the 41st gets 401 with code 401002; signing in again works
//!   - kind: status          # a permanent error on the 5th write (POST, PUT, DELETE)
//!     status: 409           # 400 | 403 | 404 | 409 are not retried by clients
//!     method: write         # GET | POST | PUT | DELETE | write (default: any)
//!     at: [5]
//!   - kind: node_limit      # these GraphQL operations return partial results
//!     operations: ["Workbooks", "Fields"]   # operation names; "*" means every operation
//!     limit: 50
//! ```
//!
//! When a fault fires (`status`, `slow`, `drop`, `truncate`) is set by at
//! most one of:
//!
//! - `rate: P` — with probability `P` per matching request, decided by a
//!   hash of `(seed, fault number, request number)` ([`Trigger::fires`]);
//! - `every: N` — the Nth, 2Nth, ... matching request;
//! - `first: N` — the first N matching requests;
//! - `at: [N, ...]` — exactly these matching requests (counted from 1).
//!
//! With none of them the fault fires on every matching request.
//!
//! Each fault counts the requests it matches (its `api` and `path`) with its
//! own counter, from 1 when the site starts; the same plan and the same
//! sequence of requests therefore give the same faults, run after run.
//! (Concurrent requests are counted in arrival order.)
//!
//! Several faults may fire on one request: `expire_session` ends the session
//! first, the delays of every firing `slow` add up, then the first firing
//! `status`, `drop` or `truncate` in plan order decides the response.
//!
//! Sign-in and sign-out (`/auth/signin`, `/auth/signout`) are exempt from
//! every fault — they are neither faulted nor counted — unless the fault's
//! `path` names them (contains `/auth/`): a plan's counts and rates apply to
//! the work a client does, and a plan can still fail sign-in on purpose with
//! `path: /auth/signin`.
//!
//! The plan is checked when loaded; unknown kinds and keys are errors, and
//! messages name the file, the fault (numbered from 1) and the key, e.g.
//! `faults.yaml: fault #2 (kind: status): status 418 is not one of 429, 500, 502, 503`.
//!
//! # On the wire
//!
//! - `status`: the status with a Tableau error body (`<error code="503000">`
//!   with `<summary>` and `<detail>`, or JSON for `Accept: application/json`);
//!   codes 429000, 500000, 502000, 503000; `Retry-After` as configured.
//! - `slow`: a normal response, late.
//! - `drop`: the connection closes before any response bytes; clients see
//!   an error on send ("connection closed before message completed").
//! - `truncate`: the real handler's status, headers and `Content-Length`,
//!   the first half of the body, then the connection closes; clients see
//!   an error reading the body.
//! - `expire_session`: the request proceeds with its session already
//!   closed, so the site answers 401 with code 401002 as for any ended
//!   session.
//! - `node_limit`: [`FaultPlan::node_limit_for`] tells the Metadata API to
//!   cut the named operations' results at `limit` nodes and report
//!   `NODE_LIMIT_EXCEEDED`.
//!
//! Each injected fault is logged at `info` with its number, kind and the
//! request path (never the `X-Tableau-Auth` token).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use async_graphql::futures_util::stream;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_norway::{Mapping, Value};

use super::dataset::rng::Rng;
use super::rest::auth::AUTH_HEADER;
use super::rest::error::ApiError;
use super::rest::Ctx;
use super::SimState;

/// What to inject; empty by default.
///
/// The plan also holds the site's fault counters. They belong to the site
/// running the plan: cloning a plan gives a copy whose counters start at
/// zero, so one plan can be handed to several sites and each sees the same
/// pattern.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    /// Drives `rate` decisions.
    pub seed: u64,
    pub faults: Vec<Fault>,
    runtime: Runtime,
}

/// One fault: what it does, when it fires and which requests it applies to.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    /// Unused by `expire_session` and `node_limit`.
    pub when: Trigger,
    /// Unused by `node_limit`.
    pub api: Api,
    /// A substring the request path must contain. Unused by `node_limit`.
    pub path: Option<String>,
    /// Only requests with this method; unused by `node_limit`.
    pub method: MethodFilter,
}

/// Which request methods a fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MethodFilter {
    #[default]
    Any,
    Get,
    Post,
    Put,
    Delete,
    /// POST, PUT and DELETE.
    Write,
}

impl MethodFilter {
    fn includes(self, method: &str) -> bool {
        match self {
            MethodFilter::Any => true,
            MethodFilter::Get => method == "GET",
            MethodFilter::Post => method == "POST",
            MethodFilter::Put => method == "PUT",
            MethodFilter::Delete => method == "DELETE",
            MethodFilter::Write => matches!(method, "POST" | "PUT" | "DELETE"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// An HTTP error with a Tableau-style body: 429, 500, 502 or 503, which
    /// clients retry, or 400, 403, 404 or 409, which they do not.
    Status { status: u16, retry_after_secs: Option<u64> },
    /// Wait this long before running the handler.
    Slow { delay: Duration },
    /// Close the connection without a response.
    Drop,
    /// Send the headers and half the body, then close the connection.
    Truncate,
    /// End a session after this many authenticated requests on it.
    ExpireSession { after_requests: u64 },
    /// Partial results for these GraphQL operations (`"*"`: all of them).
    NodeLimit { operations: Vec<String>, limit: usize },
}

/// Which matching requests a fault fires on. Requests are counted from 1.
#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    Always,
    Rate(f64),
    Every(u64),
    First(u64),
    At(Vec<u64>),
}

/// Which API a fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Api {
    /// `/api/{version}/...`
    Rest,
    /// `/api/metadata/...`
    Metadata,
    #[default]
    Both,
}

const KINDS: &str = "status, slow, drop, truncate, expire_session, node_limit";
const STATUSES: [u16; 8] = [429, 500, 502, 503, 400, 403, 404, 409];

impl Trigger {
    /// Whether the fault numbered `fault_index` (from 0, in plan order)
    /// fires on its `n`th matching request (from 1). A pure function of its
    /// arguments: this is what makes plans reproducible.
    pub fn fires(&self, seed: u64, fault_index: usize, n: u64) -> bool {
        match self {
            Trigger::Always => true,
            Trigger::Rate(p) => roll(seed, fault_index, n) < *p,
            Trigger::Every(k) => n.is_multiple_of(*k),
            Trigger::First(k) => n <= *k,
            Trigger::At(list) => list.contains(&n),
        }
    }
}

/// A uniform draw in `[0, 1)` fixed by the seed, the fault and the request
/// number.
pub fn roll(seed: u64, fault_index: usize, n: u64) -> f64 {
    Rng::new(seed).fork(0xFA_0000 + fault_index as u64).fork(n).unit()
}

impl Api {
    /// The API a request path belongs to.
    pub fn of(path: &str) -> Api {
        if path.starts_with("/api/metadata/") || path == "/api/metadata" {
            Api::Metadata
        } else {
            Api::Rest
        }
    }

    fn includes(self, other: Api) -> bool {
        self == Api::Both || self == other
    }
}

impl Fault {
    /// A fault that fires on every request of both APIs.
    pub fn new(kind: FaultKind) -> Fault {
        Fault { kind, when: Trigger::Always, api: Api::Both, path: None, method: MethodFilter::Any }
    }

    pub fn when(mut self, when: Trigger) -> Fault {
        self.when = when;
        self
    }

    pub fn api(mut self, api: Api) -> Fault {
        self.api = api;
        self
    }

    pub fn path(mut self, path: impl Into<String>) -> Fault {
        self.path = Some(path.into());
        self
    }

    pub fn method(mut self, method: MethodFilter) -> Fault {
        self.method = method;
        self
    }

    /// Whether this fault matches (and counts) a `method` request to `path`.
    fn applies_to(&self, method: &str, path: &str) -> bool {
        if matches!(self.kind, FaultKind::NodeLimit { .. })
            || !self.api.includes(Api::of(path))
            || !self.method.includes(method)
        {
            return false;
        }
        let is_auth = path.ends_with("/auth/signin") || path.ends_with("/auth/signout");
        match &self.path {
            Some(p) => path.contains(p.as_str()) && (!is_auth || p.contains("/auth/")),
            None => !is_auth,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FaultKind::Status { status, retry_after_secs } => {
                write!(f, "status {status}")?;
                if let Some(s) = retry_after_secs {
                    write!(f, " (Retry-After {s}s)")?;
                }
            }
            FaultKind::Slow { delay } => write!(f, "slow {}ms", delay.as_millis())?,
            FaultKind::Drop => write!(f, "drop")?,
            FaultKind::Truncate => write!(f, "truncate")?,
            FaultKind::ExpireSession { after_requests } => write!(f, "expire_session after {after_requests} requests")?,
            FaultKind::NodeLimit { operations, limit } => {
                return write!(f, "node_limit {limit} on {}", operations.join(", "));
            }
        }
        match &self.when {
            Trigger::Always => {}
            Trigger::Rate(p) => write!(f, ", rate {p}")?,
            Trigger::Every(n) => write!(f, ", every {n}")?,
            Trigger::First(n) => write!(f, ", first {n}")?,
            Trigger::At(list) => write!(f, ", at {list:?}")?,
        }
        match self.api {
            Api::Both => {}
            Api::Rest => write!(f, ", REST only")?,
            Api::Metadata => write!(f, ", Metadata API only")?,
        }
        if let Some(p) = &self.path {
            write!(f, ", path contains {p:?}")?;
        }
        if self.method != MethodFilter::Any {
            write!(f, ", {:?} requests only", self.method)?;
        }
        Ok(())
    }
}

impl FaultPlan {
    pub fn new(seed: u64, faults: Vec<Fault>) -> FaultPlan {
        FaultPlan { seed, faults, runtime: Runtime::default() }
    }

    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// Reads and checks a plan file.
    pub fn load(path: &Path) -> anyhow::Result<FaultPlan> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read the fault plan {}", path.display()))?;
        FaultPlan::from_yaml(&text, &path.display().to_string())
    }

    /// Parses and checks a plan; `source` names it in error messages.
    pub fn from_yaml(text: &str, source: &str) -> anyhow::Result<FaultPlan> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawPlan {
            seed: Option<u64>,
            faults: Option<Vec<Value>>,
        }
        if text.trim().is_empty() {
            return Ok(FaultPlan::default());
        }
        let raw: RawPlan = serde_norway::from_str(text).map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
        let faults = raw
            .faults
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, v)| parse_fault(v).map_err(|e| anyhow::anyhow!("{source}: fault #{}{e}", i + 1)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(FaultPlan::new(raw.seed.unwrap_or(0), faults))
    }

    /// Adds one fault written as a YAML mapping, as given to `--fault`
    /// (braces optional: `kind: status, status: 503, every: 10`).
    pub fn add_inline(&mut self, spec: &str) -> anyhow::Result<()> {
        let trimmed = spec.trim();
        let text = if trimmed.starts_with('{') { trimmed.to_string() } else { format!("{{{trimmed}}}") };
        let value: Value =
            serde_norway::from_str(&text).map_err(|e| anyhow::anyhow!("--fault {spec:?}: not a YAML mapping: {e}"))?;
        let fault = parse_fault(&value).map_err(|e| anyhow::anyhow!("--fault {spec:?}{e}"))?;
        self.faults.push(fault);
        Ok(())
    }

    /// One line per fault, for people.
    pub fn summary(&self) -> String {
        let faults: Vec<String> = self.faults.iter().enumerate().map(|(i, f)| format!("#{} {f}", i + 1)).collect();
        format!("seed {}: {}", self.seed, faults.join("; "))
    }

    /// The node limit to impose on a GraphQL operation, when a fault asks
    /// for partial results on it.
    pub fn node_limit_for(&self, operation_name: Option<&str>) -> Option<usize> {
        self.faults.iter().enumerate().find_map(|(i, f)| match &f.kind {
            FaultKind::NodeLimit { operations, limit }
                if operations.iter().any(|o| o == "*" || Some(o.as_str()) == operation_name) =>
            {
                tracing::info!(fault = i + 1, kind = "node_limit", operation = ?operation_name, limit, "injected fault");
                Some(*limit)
            }
            _ => None,
        })
    }

    /// Counts a request against every fault it matches and returns the
    /// faults that fire on it, in plan order.
    fn fired(&self, method: &str, path: &str, token: Option<&str>) -> Vec<usize> {
        let mut counters = self.runtime.0.lock().expect("fault counters poisoned");
        let counters = &mut *counters;
        counters.matched.resize(self.faults.len(), 0);
        let mut fired = Vec::new();
        for (i, fault) in self.faults.iter().enumerate() {
            if !fault.applies_to(method, path) {
                continue;
            }
            match &fault.kind {
                FaultKind::NodeLimit { .. } => {}
                FaultKind::ExpireSession { after_requests } => {
                    if let Some(token) = token {
                        let n = counters.per_session.entry((i, token.to_owned())).or_insert(0);
                        *n += 1;
                        if *n > *after_requests {
                            fired.push(i);
                        }
                    }
                }
                _ => {
                    counters.matched[i] += 1;
                    if fault.when.fires(self.seed, i, counters.matched[i]) {
                        fired.push(i);
                    }
                }
            }
        }
        fired
    }
}

/// The site's fault counters. A clone starts from zero (see [`FaultPlan`]).
#[derive(Default)]
struct Runtime(Mutex<Counters>);

#[derive(Default)]
struct Counters {
    /// Requests matched so far, per fault.
    matched: Vec<u64>,
    /// Authenticated requests per (expire_session fault, session token).
    per_session: HashMap<(usize, String), u64>,
}

impl Clone for Runtime {
    fn clone(&self) -> Runtime {
        Runtime::default()
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Runtime { .. }")
    }
}

// ---------------------------------------------------------------------------
// Parsing and validation

/// Parses one fault. Errors start with ` (kind: K): ` or `: ` so callers can
/// prefix the file and the fault's number.
fn parse_fault(value: &Value) -> Result<Fault, String> {
    let Some(map) = value.as_mapping() else {
        return Err(": expected a mapping with a `kind` key".into());
    };
    let kind = match map.get("kind") {
        None => return Err(format!(": missing `kind` (one of {KINDS})")),
        Some(v) => v.as_str().ok_or_else(|| format!(": `kind` must be one of {KINDS}"))?.to_string(),
    };
    parse_kind(map, &kind).map_err(|e| format!(" (kind: {kind}): {e}"))
}

const TRIGGER_KEYS: [&str; 4] = ["rate", "every", "first", "at"];
const SCOPE_KEYS: [&str; 3] = ["api", "path", "method"];

fn parse_kind(map: &Mapping, kind: &str) -> Result<Fault, String> {
    let own: &[&str] = match kind {
        "status" => &["status", "retry_after_secs"],
        "slow" => &["delay_ms"],
        "drop" | "truncate" => &[],
        "expire_session" => &["after_requests"],
        "node_limit" => &["operations", "limit"],
        _ => return Err(format!("unknown kind; expected one of {KINDS}")),
    };
    let mut allowed: Vec<&str> = own.to_vec();
    if !matches!(kind, "expire_session" | "node_limit") {
        allowed.extend(TRIGGER_KEYS);
    }
    if kind != "node_limit" {
        allowed.extend(SCOPE_KEYS);
    }
    for key in map.keys() {
        let name = key.as_str().unwrap_or("?");
        if name != "kind" && !allowed.contains(&name) {
            let shown = key.as_str().map(str::to_string).unwrap_or_else(|| format!("{key:?}"));
            return Err(format!("unknown key `{shown}`; {kind} takes {}", allowed.join(", ")));
        }
    }

    let kind = match kind {
        "status" => {
            let status: u16 = required(map, "status")?;
            if !STATUSES.contains(&status) {
                return Err(format!("status {status} is not one of 429, 500, 502, 503, 400, 403, 404, 409"));
            }
            let retry: Option<u64> = get(map, "retry_after_secs")?;
            if retry.is_some() && !matches!(status, 429 | 503) {
                return Err(format!("retry_after_secs applies only to status 429 and 503, not {status}"));
            }
            FaultKind::Status { status, retry_after_secs: retry.or((status == 429).then_some(1)) }
        }
        "slow" => {
            let ms: u64 = required(map, "delay_ms")?;
            if ms > 600_000 {
                return Err(format!("delay_ms {ms} is more than 600000 (ten minutes)"));
            }
            FaultKind::Slow { delay: Duration::from_millis(ms) }
        }
        "drop" => FaultKind::Drop,
        "truncate" => FaultKind::Truncate,
        "expire_session" => FaultKind::ExpireSession { after_requests: required(map, "after_requests")? },
        _ => {
            let operations: Vec<String> = required(map, "operations")?;
            if operations.is_empty() || operations.iter().any(|o| o.trim().is_empty()) {
                return Err("operations must list operation names (or \"*\" for all)".into());
            }
            let limit: usize = required(map, "limit")?;
            if limit == 0 {
                return Err("limit must be at least 1".into());
            }
            FaultKind::NodeLimit { operations, limit }
        }
    };

    let mut when = Trigger::Always;
    let given: Vec<&str> = TRIGGER_KEYS.into_iter().filter(|k| map.contains_key(*k)).collect();
    if given.len() > 1 {
        return Err(format!("use only one of rate, every, first, at (found {})", given.join(" and ")));
    }
    if let Some(p) = get::<f64>(map, "rate")? {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!("rate {p} is not between 0 and 1"));
        }
        when = Trigger::Rate(p);
    }
    if let Some(n) = get::<u64>(map, "every")? {
        if n == 0 {
            return Err("every must be at least 1".into());
        }
        when = Trigger::Every(n);
    }
    if let Some(n) = get::<u64>(map, "first")? {
        when = Trigger::First(n);
    }
    if let Some(list) = get::<Vec<u64>>(map, "at")? {
        if list.is_empty() || list.contains(&0) {
            return Err("at must list request numbers, counted from 1".into());
        }
        when = Trigger::At(list);
    }

    let api = match get::<String>(map, "api")?.as_deref() {
        None | Some("both") => Api::Both,
        Some("rest") => Api::Rest,
        Some("metadata") => Api::Metadata,
        Some(other) => return Err(format!("api `{other}` is not one of rest, metadata, both")),
    };
    let path: Option<String> = get(map, "path")?;
    if path.as_deref().is_some_and(str::is_empty) {
        return Err("path must not be empty".into());
    }
    let method = match get::<String>(map, "method")?.map(|m| m.to_ascii_uppercase()).as_deref() {
        None => MethodFilter::Any,
        Some("GET") => MethodFilter::Get,
        Some("POST") => MethodFilter::Post,
        Some("PUT") => MethodFilter::Put,
        Some("DELETE") => MethodFilter::Delete,
        Some("WRITE") => MethodFilter::Write,
        Some(other) => return Err(format!("method `{other}` is not one of GET, POST, PUT, DELETE, write")),
    };
    Ok(Fault { kind, when, api, path, method })
}

fn get<T: DeserializeOwned>(map: &Mapping, key: &str) -> Result<Option<T>, String> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => serde_norway::from_value(v.clone()).map(Some).map_err(|e| format!("`{key}`: {e}")),
    }
}

fn required<T: DeserializeOwned>(map: &Mapping, key: &str) -> Result<T, String> {
    get(map, key)?.ok_or_else(|| format!("`{key}` is required"))
}

// ---------------------------------------------------------------------------
// The middleware

/// Middleware over `/api/...` that applies the plan to each request.
pub async fn inject(State(st): State<Arc<SimState>>, ctx: Ctx, req: Request, next: Next) -> Response {
    let plan = &st.config.faults;
    if plan.is_empty() {
        return next.run(req).await;
    }
    let path = req.uri().path().to_owned();
    let method = req.method().as_str().to_owned();
    let token = req.headers().get(AUTH_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let fired = plan.fired(&method, &path, token.as_deref());
    if fired.is_empty() {
        return next.run(req).await;
    }

    let mut delay = Duration::ZERO;
    let mut terminal = None;
    for &i in &fired {
        let fault = &plan.faults[i];
        match &fault.kind {
            FaultKind::ExpireSession { after_requests } => {
                if token.as_deref().is_some_and(|t| st.sessions.close(t)) {
                    tracing::info!(fault = i + 1, kind = "expire_session", after_requests, path, "injected fault");
                }
            }
            FaultKind::Slow { delay: d } => {
                tracing::info!(fault = i + 1, kind = "slow", delay_ms = d.as_millis() as u64, path, "injected fault");
                delay += *d;
            }
            FaultKind::Status { .. } | FaultKind::Drop | FaultKind::Truncate => {
                terminal = terminal.or(Some(i));
            }
            FaultKind::NodeLimit { .. } => {}
        }
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let Some(i) = terminal else {
        return next.run(req).await;
    };
    match &plan.faults[i].kind {
        FaultKind::Status { status, retry_after_secs } => {
            tracing::info!(fault = i + 1, kind = "status", status, path, "injected fault");
            ctx.error(status_error(*status, *retry_after_secs))
        }
        FaultKind::Drop => {
            tracing::info!(fault = i + 1, kind = "drop", path, "injected fault");
            dropped_connection()
        }
        _ => {
            let resp = next.run(req).await;
            tracing::info!(fault = i + 1, kind = "truncate", path, "injected fault");
            truncated(resp).await
        }
    }
}

/// The Tableau-style error for an injected status.
fn status_error(status: u16, retry_after_secs: Option<u64>) -> ApiError {
    let (code, summary, detail) = match status {
        429 => (
            "429000",
            "Too Many Requests",
            format!(
                "The server is receiving too many requests. Retry after {} seconds.",
                retry_after_secs.unwrap_or(1)
            ),
        ),
        500 => ("500000", "Internal Server Error", "An unexpected error occurred on the server.".to_string()),
        502 => {
            ("502000", "Bad Gateway", "The gateway received an invalid response from the server behind it.".to_string())
        }
        400 => ("400000", "Bad Request", "Injected fault: the request was refused.".to_string()),
        403 => ("403000", "Forbidden", "Injected fault: the request was forbidden.".to_string()),
        404 => ("404000", "Resource Not Found", "Injected fault: the resource was not found.".to_string()),
        409 => ("409000", "Conflict", "Injected fault: the request conflicts with the site's state.".to_string()),
        _ => (
            "503000",
            "Service Unavailable",
            "The server is temporarily unable to handle the request. Try again later.".to_string(),
        ),
    };
    ApiError {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        code,
        summary,
        detail,
        retry_after_secs,
    }
}

fn connection_error(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionAborted, format!("injected fault: {what}"))
}

/// A response whose body fails before its first byte: hyper abandons the
/// connection without writing anything, so the client sees it close.
fn dropped_connection() -> Response {
    let body = stream::once(async { Err::<Bytes, _>(connection_error("connection dropped")) });
    Response::new(Body::from_stream(body))
}

/// The response's status and headers with its full `Content-Length`, then
/// the first half of its body, then a failure that closes the connection.
/// Empty bodies have nothing to cut and pass through.
async fn truncated(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a response to truncate it");
            return dropped_connection();
        }
    };
    if bytes.is_empty() {
        return Response::from_parts(parts, Body::from(bytes));
    }
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let head = bytes.slice(..bytes.len() / 2);
    let body = stream::unfold(Some(head), |head| async move {
        match head {
            Some(head) => Some((Ok(head), None)),
            None => {
                // Let hyper flush the first half before the connection closes.
                tokio::time::sleep(Duration::from_millis(20)).await;
                Some((Err(connection_error("body truncated")), None))
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_a_pure_function_of_seed_fault_and_count() {
        let t = Trigger::Rate(0.3);
        let a: Vec<bool> = (1..=200).map(|n| t.fires(7, 0, n)).collect();
        let b: Vec<bool> = (1..=200).map(|n| t.fires(7, 0, n)).collect();
        assert_eq!(a, b);
        let other_seed: Vec<bool> = (1..=200).map(|n| t.fires(8, 0, n)).collect();
        let other_fault: Vec<bool> = (1..=200).map(|n| t.fires(7, 1, n)).collect();
        assert_ne!(a, other_seed);
        assert_ne!(a, other_fault);
        let hits = a.iter().filter(|x| **x).count();
        assert!((40..=80).contains(&hits), "rate 0.3 over 200 requests fired {hits} times");
        assert!((1..=100).all(|n| !Trigger::Rate(0.0).fires(1, 0, n)));
        assert!((1..=100).all(|n| Trigger::Rate(1.0).fires(1, 0, n)));
    }

    #[test]
    fn counted_triggers() {
        let fired = |t: Trigger| (1..=10).filter(|n| t.fires(0, 0, *n)).collect::<Vec<u64>>();
        assert_eq!(fired(Trigger::Every(3)), vec![3, 6, 9]);
        assert_eq!(fired(Trigger::First(2)), vec![1, 2]);
        assert_eq!(fired(Trigger::At(vec![4, 7])), vec![4, 7]);
        assert_eq!(fired(Trigger::Always).len(), 10);
    }

    #[test]
    fn sign_in_is_exempt_unless_targeted() {
        let f = Fault::new(FaultKind::Drop);
        assert!(!f.applies_to("GET", "/api/3.27/auth/signin"));
        assert!(!f.applies_to("GET", "/api/3.27/auth/signout"));
        assert!(f.applies_to("GET", "/api/3.27/sites/x/workbooks"));
        assert!(f.applies_to("GET", "/api/metadata/graphql"));
        assert!(f.clone().path("/auth/signin").applies_to("GET", "/api/3.27/auth/signin"));
        assert!(!f.clone().path("signin").applies_to("GET", "/api/3.27/auth/signin"));
        assert!(!f.clone().api(Api::Rest).applies_to("GET", "/api/metadata/graphql"));
        assert!(!f.clone().api(Api::Metadata).applies_to("GET", "/api/3.27/sites"));
        let writes = f.clone().method(MethodFilter::Write);
        assert!(writes.applies_to("PUT", "/api/3.27/sites/x/users/u"));
        assert!(writes.applies_to("DELETE", "/api/3.27/sites/x/users/u"));
        assert!(!writes.applies_to("GET", "/api/3.27/sites/x/users"));
        assert!(!f.clone().method(MethodFilter::Post).applies_to("PUT", "/api/3.27/sites/x/users/u"));
    }

    #[test]
    fn counters_follow_the_plan_and_reset_on_clone() {
        let plan = FaultPlan::new(
            1,
            vec![
                Fault::new(FaultKind::Drop).when(Trigger::Every(2)).path("/workbooks"),
                Fault::new(FaultKind::Slow { delay: Duration::from_millis(1) }).when(Trigger::First(1)),
            ],
        );
        let wb = "/api/3.27/sites/s/workbooks";
        assert_eq!(plan.fired("GET", wb, None), vec![1]);
        assert_eq!(plan.fired("GET", "/api/3.27/sites/s/views", None), Vec::<usize>::new());
        assert_eq!(plan.fired("GET", wb, None), vec![0]);
        let fresh = plan.clone();
        assert_eq!(fresh.fired("GET", wb, None), vec![1]);
    }

    #[test]
    fn expire_session_counts_per_session() {
        let plan = FaultPlan::new(0, vec![Fault::new(FaultKind::ExpireSession { after_requests: 2 })]);
        let p = "/api/3.27/sites";
        assert!(plan.fired("GET", p, None).is_empty());
        assert!(plan.fired("GET", p, Some("a")).is_empty());
        assert!(plan.fired("GET", p, Some("a")).is_empty());
        assert_eq!(plan.fired("GET", p, Some("a")), vec![0]);
        assert!(plan.fired("GET", p, Some("b")).is_empty());
    }

    #[test]
    fn inline_faults() {
        let mut plan = FaultPlan::default();
        plan.add_inline("kind: status, status: 503, every: 10").unwrap();
        plan.add_inline("{kind: slow, delay_ms: 5}").unwrap();
        assert_eq!(
            plan.faults[0],
            Fault::new(FaultKind::Status { status: 503, retry_after_secs: None }).when(Trigger::Every(10))
        );
        let err = plan.add_inline("kind: status, status: 418").unwrap_err().to_string();
        assert!(err.contains("(kind: status): status 418 is not one of"), "{err}");
        assert!(plan.summary().contains("#2 slow 5ms"), "{}", plan.summary());
    }
}
