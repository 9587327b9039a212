//! A latency model for the simulated site, so a benchmark on loopback sees
//! the round trips of a real server: `trm sim serve --latency
//! rest=200ms,metadata=1s`.
//!
//! - Each API has a fixed latency (`200ms`) or a uniform range
//!   (`150ms..250ms`), drawn per request from a seeded hash of the request
//!   number, so a run is reproducible.
//! - The Metadata API's latency grows with the nodes a request returns, as
//!   on a real server: the value given is that of a full page of 1,000
//!   root-connection nodes; a request returning `n` nodes takes
//!   `L × (0.25 + 0.75 × min(n, 1000) / 1000)`.
//! - The wait is a tokio sleep after the handler ran (no thread blocks),
//!   and applies to every `/api/...` request, faulted ones included.
//!
//! Every applied latency is recorded, so a benchmark can compute the bound
//! of a run from the requests actually sent: `GET /sim/latency` gives the
//! sum of the latencies, and the longest serial chain (per Metadata
//! operation: its first and cursor pages in sequence, then the slowest of
//! its offset pages; per REST listing: its first page then the slowest of
//! the others; plus the sign-in that comes before everything).
//! `DELETE /sim/latency` clears the record.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use super::SimState;

/// A latency: fixed when `lo == hi`, else uniform in `lo..=hi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dist {
    pub lo: Duration,
    pub hi: Duration,
}

impl Dist {
    pub fn fixed(d: Duration) -> Dist {
        Dist { lo: d, hi: d }
    }

    /// The latency for a draw `u` in `[0, 1)`.
    pub fn at(&self, u: f64) -> Duration {
        if self.hi <= self.lo {
            return self.lo;
        }
        self.lo + (self.hi - self.lo).mul_f64(u.clamp(0.0, 1.0))
    }
}

/// Per-API latencies; none by default (the site answers at once).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencyModel {
    pub rest: Option<Dist>,
    /// For a full page of [`FULL_PAGE`] nodes.
    pub metadata: Option<Dist>,
}

/// The page size the Metadata API latency is given for.
pub const FULL_PAGE: usize = 1000;

impl LatencyModel {
    pub fn is_none(&self) -> bool {
        self.rest.is_none() && self.metadata.is_none()
    }

    /// Parses `rest=200ms,metadata=1s` (either key may be left out; values
    /// are durations in `us`, `ms` or `s`, fractions allowed, or ranges
    /// `150ms..250ms`).
    pub fn parse(spec: &str) -> Result<LatencyModel, String> {
        let mut m = LatencyModel::default();
        if spec.trim().is_empty() {
            return Err("the latency is empty: use e.g. rest=200ms,metadata=1s".into());
        }
        for part in spec.split(',') {
            let part = part.trim();
            let Some((key, value)) = part.split_once('=') else {
                return Err(format!(
                    "'{part}' is not API=LATENCY: use e.g. rest=200ms,metadata=1s"
                ));
            };
            let dist = parse_dist(value.trim()).map_err(|e| format!("{}: {e}", key.trim()))?;
            let slot = match key.trim() {
                "rest" => &mut m.rest,
                "metadata" => &mut m.metadata,
                other => return Err(format!("unknown API '{other}': use rest or metadata")),
            };
            if slot.is_some() {
                return Err(format!("{} is given twice", key.trim()));
            }
            *slot = Some(dist);
        }
        Ok(m)
    }

    /// The latency of a request: `u` is its draw in `[0, 1)`; `nodes` the
    /// root-connection nodes a Metadata API request returned.
    pub fn latency(&self, api: Api, u: f64, nodes: usize) -> Duration {
        match api {
            Api::Rest => self.rest.map(|d| d.at(u)).unwrap_or_default(),
            Api::Metadata => self
                .metadata
                .map(|d| {
                    d.at(u)
                        .mul_f64(0.25 + 0.75 * nodes.min(FULL_PAGE) as f64 / FULL_PAGE as f64)
                })
                .unwrap_or_default(),
        }
    }
}

/// `200ms`, `1s`, `1.5s`, `150ms..250ms`.
fn parse_dist(text: &str) -> Result<Dist, String> {
    match text.split_once("..") {
        Some((lo, hi)) => {
            let (lo, hi) = (parse_duration(lo.trim())?, parse_duration(hi.trim())?);
            if lo > hi {
                return Err(format!(
                    "the range '{text}' runs backwards: put the smaller latency first"
                ));
            }
            Ok(Dist { lo, hi })
        }
        None => parse_duration(text).map(Dist::fixed),
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("'{text}' is not a latency: use e.g. 200ms, 1s, 1.5s or 150ms..250ms");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "us" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        _ => return Err(bad()),
    };
    if !secs.is_finite() || secs > 600.0 {
        return Err(format!("'{text}' is too long a latency: at most 600s"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    Rest,
    Metadata,
}

/// How a Metadata API request paged, for chains: cursor pages follow one
/// another; offset pages may all run at once after the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paging {
    First,
    After,
    Offset,
}

/// What the Metadata API handler tells this layer about a request, as a
/// response extension.
#[derive(Clone, Debug)]
pub struct MetadataCall {
    pub operation: String,
    pub paging: Paging,
    pub nodes: usize,
}

#[derive(Clone, Debug)]
struct Record {
    api: Api,
    /// The chain a request belongs to: a GraphQL operation, a REST listing
    /// (path without paging), or `sign-in`.
    chain: String,
    serial: bool,
    applied: Duration,
}

/// The latencies applied so far.
#[derive(Default)]
pub struct Log {
    records: Mutex<Vec<Record>>,
    counter: AtomicU64,
}

/// What `GET /sim/latency` answers.
#[derive(Debug, Serialize, PartialEq)]
pub struct Summary {
    pub requests: usize,
    pub total_ms: f64,
    pub rest_requests: usize,
    pub rest_ms: f64,
    pub metadata_requests: usize,
    pub metadata_ms: f64,
    /// The longest serial chain, sign-in included.
    pub longest_chain_ms: f64,
    pub longest_chain: String,
    /// Every chain's length, by name.
    pub chains: BTreeMap<String, f64>,
}

impl Log {
    pub fn clear(&self) {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn push(&self, r: Record) {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(r);
    }

    pub fn summary(&self) -> Summary {
        let records = self
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut serial: BTreeMap<String, f64> = BTreeMap::new();
        let mut parallel: BTreeMap<String, f64> = BTreeMap::new();
        let (mut rest_n, mut rest_ms, mut md_n, mut md_ms) = (0, 0.0, 0, 0.0);
        for r in &records {
            match r.api {
                Api::Rest => {
                    rest_n += 1;
                    rest_ms += ms(r.applied);
                }
                Api::Metadata => {
                    md_n += 1;
                    md_ms += ms(r.applied);
                }
            }
            if r.serial {
                *serial.entry(r.chain.clone()).or_default() += ms(r.applied);
            } else {
                let e = parallel.entry(r.chain.clone()).or_default();
                *e = e.max(ms(r.applied));
            }
        }
        let sign_in = serial.remove("sign-in").unwrap_or(0.0);
        let mut chains: BTreeMap<String, f64> = BTreeMap::new();
        for (k, v) in serial.into_iter().chain(parallel) {
            *chains.entry(k).or_default() += v;
        }
        let (longest_chain, longest) = chains
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(k, v)| (k.clone(), *v))
            .unwrap_or_default();
        chains.insert("sign-in".into(), sign_in);
        Summary {
            requests: records.len(),
            total_ms: rest_ms + md_ms,
            rest_requests: rest_n,
            rest_ms,
            metadata_requests: md_n,
            metadata_ms: md_ms,
            longest_chain_ms: sign_in + longest,
            longest_chain,
            chains,
        }
    }
}

/// A REST path's chain and whether the request is serial within it: page 1
/// of a listing (or an unpaged request) comes first; later pages go at once.
fn rest_chain(path: &str, query: Option<&str>) -> (String, bool) {
    if path.contains("/auth/") || path.ends_with("/serverinfo") {
        return ("sign-in".into(), true);
    }
    let page = query
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("pageNumber="))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(1);
    (path.to_string(), page <= 1)
}

/// Middleware over `/api/...`: runs the request, then waits the modeled
/// latency before answering, and records it.
pub async fn apply(State(st): State<Arc<SimState>>, req: Request, next: Next) -> Response {
    let model = &st.config.latency_model;
    if model.is_none() {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let resp = next.run(req).await;
    let n = st.latency_log.counter.fetch_add(1, Ordering::Relaxed);
    let u = super::faults::roll(st.config.seed ^ 0x1a7e_9c11, 0, n);
    let (api, chain, serial, nodes) = if path.starts_with("/api/metadata") {
        match resp.extensions().get::<MetadataCall>() {
            Some(c) => (
                Api::Metadata,
                c.operation.clone(),
                c.paging != Paging::Offset,
                c.nodes,
            ),
            None => (Api::Metadata, "(unparsed)".to_string(), true, 0),
        }
    } else {
        let (chain, serial) = rest_chain(&path, query.as_deref());
        (Api::Rest, chain, serial, 0)
    };
    let applied = model.latency(api, u, nodes);
    if !applied.is_zero() {
        tokio::time::sleep(applied).await;
    }
    st.latency_log.push(Record {
        api,
        chain,
        serial,
        applied,
    });
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn specs_parse_fixed_and_ranged() {
        let m = LatencyModel::parse("rest=200ms,metadata=1s").unwrap();
        assert_eq!(m.rest, Some(Dist::fixed(ms(200))));
        assert_eq!(m.metadata, Some(Dist::fixed(ms(1000))));
        let m = LatencyModel::parse(" rest = 150ms..250ms ").unwrap();
        assert_eq!(
            m.rest,
            Some(Dist {
                lo: ms(150),
                hi: ms(250)
            })
        );
        assert_eq!(m.metadata, None);
        assert_eq!(
            LatencyModel::parse("metadata=1.5s").unwrap().metadata,
            Some(Dist::fixed(ms(1500)))
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let err = |s: &str| LatencyModel::parse(s).unwrap_err();
        assert!(
            err("rest=2x").contains("'2x' is not a latency"),
            "{}",
            err("rest=2x")
        );
        assert!(err("soap=1s").contains("unknown API 'soap'"));
        assert!(err("rest=1s,rest=2s").contains("rest is given twice"));
        assert!(err("rest=250ms..150ms").contains("runs backwards"));
        assert!(err("rest").contains("not API=LATENCY"));
        assert!(err("").contains("empty"));
        assert!(err("rest=ms").contains("not a latency"));
        assert!(err("rest=1h").contains("not a latency"));
    }

    #[test]
    fn metadata_latency_grows_with_nodes() {
        let m = LatencyModel::parse("rest=200ms,metadata=1s").unwrap();
        assert_eq!(m.latency(Api::Metadata, 0.3, 1000), ms(1000));
        assert_eq!(m.latency(Api::Metadata, 0.3, 0), ms(250));
        assert_eq!(m.latency(Api::Metadata, 0.3, 500), ms(625));
        assert_eq!(m.latency(Api::Rest, 0.9, 0), ms(200));
        let j = LatencyModel::parse("rest=100ms..300ms").unwrap();
        assert_eq!(j.latency(Api::Rest, 0.5, 0), ms(200));
        assert_eq!(j.latency(Api::Metadata, 0.5, 1000), Duration::ZERO);
    }

    #[test]
    fn chains_are_serial_pages_plus_the_slowest_parallel_page() {
        let log = Log::default();
        let push = |chain: &str, serial: bool, n: u64, api: Api| {
            log.push(Record {
                api,
                chain: chain.into(),
                serial,
                applied: ms(n),
            })
        };
        push("sign-in", true, 200, Api::Rest);
        push("sign-in", true, 200, Api::Rest);
        push("Fields", true, 1000, Api::Metadata);
        for n in [900, 1000, 700] {
            push("Fields", false, n, Api::Metadata);
        }
        push("Sheets", true, 1000, Api::Metadata);
        push("Sheets", true, 1000, Api::Metadata);
        push("Sheets", true, 1000, Api::Metadata);
        let s = log.summary();
        assert_eq!(s.requests, 9);
        assert_eq!(s.total_ms, 7000.0);
        assert_eq!(s.longest_chain, "Sheets");
        assert_eq!(s.longest_chain_ms, 3400.0);
        assert_eq!(s.chains["Fields"], 2000.0);
        assert_eq!(
            rest_chain(
                "/api/3.27/sites/x/workbooks",
                Some("pageSize=1000&pageNumber=3")
            ),
            ("/api/3.27/sites/x/workbooks".into(), false)
        );
        assert!(rest_chain("/api/3.27/sites/x/workbooks", None).1);
        assert_eq!(rest_chain("/api/3.27/auth/signin", None).0, "sign-in");
    }
}
