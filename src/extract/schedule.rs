//! Which requests go first when more are ready than the concurrency allows,
//! and the per-stream figures of a run (`run_streams`).
//!
//! Wall time against a real server is bound by the longest chain of
//! requests that wait on one another, or by all the latency divided by the
//! concurrency, whichever is longer. To come close to that bound the
//! budget must stay full and the longest chains must start first:
//! - a connection's first page, and the REST lists several streams share,
//!   go before anything else: each unlocks many requests;
//! - then the Metadata API's pages (the slowest requests, and the longest
//!   chains: fields, then columns, then the rest);
//! - then REST listings;
//! - last, the one-request-per-item reads (permissions, group members):
//!   many short requests that fill the budget to the end, so the run's
//!   tail is short requests rather than a lone slow one. Priorities only
//!   order waiting requests, so these never wait while a slot is free.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::tableau::adaptive::StreamFigures;
use crate::warehouse::{Rows, V};

/// Shared REST lists ([`super::Ctx::list`]): every stream of content waits
/// on them.
pub const LIST: i32 = 30;

/// A stream's queue priority; higher goes first.
pub fn priority(stream: &str) -> i32 {
    match stream {
        "fields" => 24,
        "columns" => 23,
        "sheets" | "embedded_datasources" => 22,
        "dashboards"
        | "published_datasources"
        | "tables"
        | "database_servers"
        | "data_quality_warnings" => 21,
        "permissions" | "groups" => 0,
        _ => 10,
    }
}

/// One stream's figures over a run.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamReport {
    pub stream: String,
    pub ok: bool,
    pub requests: u64,
    pub retries: u64,
    pub throttled: u64,
    /// Its requests' time waiting for a slot or before a retry.
    pub wait: Duration,
    /// Time with at least one of its requests in flight.
    pub busy: Duration,
    /// From its start to its end.
    pub elapsed: Duration,
    /// How much longer the run went on because of this stream alone: its
    /// end minus the latest end of every other stream (0 unless it ended
    /// last).
    pub critical: Duration,
}

/// Joins the limiter's figures with each stream's start and end.
pub fn reports(
    runs: &[(&'static str, Instant, Instant, bool)],
    figures: &[(String, StreamFigures)],
) -> Vec<StreamReport> {
    let by_name: BTreeMap<&str, &StreamFigures> =
        figures.iter().map(|(k, v)| (k.as_str(), v)).collect();
    runs.iter()
        .map(|&(name, start, end, ok)| {
            let others = runs.iter().filter(|r| r.0 != name).map(|r| r.2).max();
            let critical = match others {
                Some(o) if o < end => end - o,
                Some(_) => Duration::ZERO,
                None => end - start,
            };
            let f = by_name.get(name).copied().cloned().unwrap_or_default();
            StreamReport {
                stream: name.to_string(),
                ok,
                requests: f.requests,
                retries: f.retries,
                throttled: f.throttled,
                wait: f.wait,
                busy: f.busy,
                elapsed: end - start,
                critical,
            }
        })
        .collect()
}

/// The `run_streams` rows of one run.
pub fn rows(run_id: &str, reports: &[StreamReport]) -> anyhow::Result<Rows> {
    let ms = |d: Duration| V::Int(d.as_millis() as i64);
    let mut rows = Rows::new("run_streams");
    for r in reports {
        rows.push(&[
            run_id.into(),
            r.stream.as_str().into(),
            (if r.ok { "ok" } else { "failed" }).into(),
            V::Int(r.requests as i64),
            V::Int(r.retries as i64),
            V::Int(r.throttled as i64),
            ms(r.wait),
            ms(r.busy),
            ms(r.elapsed),
            ms(r.critical),
        ])?;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_stream_to_end_is_on_the_critical_path() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let runs = [
            ("fields", at(0), at(900), true),
            ("users", at(0), at(200), true),
            ("views", at(100), at(600), true),
        ];
        let mut f = StreamFigures::default();
        f.requests = 7;
        let r = reports(&runs, &[("fields".to_string(), f)]);
        assert_eq!(r[0].critical, Duration::from_millis(300));
        assert_eq!(r[0].requests, 7);
        assert_eq!(r[1].critical, Duration::ZERO);
        assert_eq!(r[2].elapsed, Duration::from_millis(500));
        assert_eq!(r[2].requests, 0);
        assert!(
            priority("fields") > priority("users") && priority("users") > priority("permissions")
        );
    }
}
