//! The simulator's own endpoints, outside Tableau's API: the clock and the
//! ground-truth manifest. Unauthenticated, like any test fixture control.
//!
//! - `GET /sim/manifest`: the manifest for the current day.
//! - `GET /sim/clock`: `{"day": N, "now": "..."}`.
//! - `POST /sim/clock?day=N` or `?advance=N`: moves the clock, so usage and
//!   refresh jobs advance as if N days passed (and every refresh job started
//!   through the API finishes).
//! - `GET /sim/calls`: the write calls received so far (see [`super::calls`]);
//!   `DELETE /sim/calls` clears the log.
//! - `GET /sim/latency`: the latencies the model applied so far (see
//!   [`super::latency`]); `DELETE /sim/latency` clears them.
//! - `GET /sim/effective?user=<luid>&content=<kind>:<luid>[&capability=C]`:
//!   the ground-truth effective permissions ([`super::access`]) of a user on
//!   a project, workbook, view or datasource, for one capability or every
//!   capability of the item's type: `{"user", "content", "decisions":
//!   [{"capability", "allowed", "reason"}]}`. 400 for a malformed query or a
//!   capability the type does not have, 404 for an unknown user or item.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::manifest::iso;
use super::SimState;

/// The furthest the clock may be moved, in days from day 0.
pub const MAX_DAY: i64 = 3650;

pub fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/sim/manifest", get(manifest))
        .route("/sim/clock", get(clock).post(set_clock))
        .route("/sim/calls", get(calls).delete(clear_calls))
        .route("/sim/effective", get(effective))
        .route("/sim/latency", get(latency).delete(clear_latency))
        .with_state(state)
}

async fn manifest(State(st): State<Arc<SimState>>) -> Response {
    Json(st.manifest()).into_response()
}

async fn calls(State(st): State<Arc<SimState>>) -> Response {
    Json(serde_json::json!({ "calls": st.calls.snapshot() })).into_response()
}

async fn clear_calls(State(st): State<Arc<SimState>>) -> StatusCode {
    st.calls.clear();
    StatusCode::NO_CONTENT
}

async fn latency(State(st): State<Arc<SimState>>) -> Response {
    Json(st.latency_log.summary()).into_response()
}

async fn clear_latency(State(st): State<Arc<SimState>>) -> StatusCode {
    st.latency_log.clear();
    StatusCode::NO_CONTENT
}

fn clock_body(st: &SimState) -> serde_json::Value {
    serde_json::json!({ "day": st.day(), "now": iso(st.now()) })
}

async fn clock(State(st): State<Arc<SimState>>) -> Json<serde_json::Value> {
    Json(clock_body(&st))
}

#[derive(Deserialize)]
struct ClockParams {
    day: Option<i64>,
    advance: Option<i64>,
}

async fn set_clock(State(st): State<Arc<SimState>>, Query(p): Query<ClockParams>) -> Response {
    let target = match (p.day, p.advance) {
        (Some(d), None) => d,
        (None, Some(n)) => st.day() + n,
        _ => {
            return (StatusCode::BAD_REQUEST, "pass exactly one of ?day=N or ?advance=N\n").into_response();
        }
    };
    if !(0..=MAX_DAY).contains(&target) {
        return (StatusCode::BAD_REQUEST, format!("day {target} is out of range 0..={MAX_DAY}\n")).into_response();
    }
    st.set_day(target);
    tracing::info!(day = target, "simulated clock moved");
    Json(clock_body(&st)).into_response()
}

#[derive(Deserialize)]
struct EffectiveParams {
    user: String,
    content: String,
    capability: Option<String>,
}

async fn effective(State(st): State<Arc<SimState>>, Query(p): Query<EffectiveParams>) -> Response {
    use super::access::{capabilities, effective_all, Content, Kind};
    use super::dataset::Entity;
    let bad = |msg: String| (StatusCode::BAD_REQUEST, msg).into_response();
    let missing = |msg: String| (StatusCode::NOT_FOUND, msg).into_response();
    let Some((kind, id)) = p.content.split_once(':') else {
        return bad(format!("content must be <kind>:<luid>, got '{}'\n", p.content));
    };
    let Some(kind) = Kind::parse(kind) else {
        return bad(format!("unknown content kind '{kind}' (expected project, workbook, view or datasource)\n"));
    };
    let d = st.data();
    let user = match d.lookup(&p.user) {
        Some(Entity::User(u)) if !d.users[u as usize].deleted => u,
        _ => return missing(format!("no user '{}' on the site\n", p.user)),
    };
    let content = match d.lookup(id).and_then(Content::of) {
        Some(c) if c.kind() == kind && c.live(&d) => c,
        _ => return missing(format!("no {} '{id}' on the site\n", kind.as_str())),
    };
    let decisions: Vec<_> = match &p.capability {
        Some(c) => match capabilities(kind).iter().find(|x| **x == c.as_str()) {
            Some(&c) => vec![(c, super::access::effective(&d, user, content, c))],
            None => {
                return bad(format!(
                    "'{c}' is not a {} capability (expected one of {})\n",
                    kind.as_str(),
                    capabilities(kind).join(", ")
                ))
            }
        },
        None => effective_all(&d, user, content),
    };
    let decisions: Vec<_> = decisions
        .into_iter()
        .map(|(c, dec)| serde_json::json!({ "capability": c, "allowed": dec.allowed, "reason": dec.reason.as_str() }))
        .collect();
    Json(serde_json::json!({ "user": p.user, "content": p.content, "decisions": decisions })).into_response()
}
