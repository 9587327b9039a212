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
