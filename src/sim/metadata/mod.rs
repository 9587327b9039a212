//! The Metadata API (GraphQL) of the simulated site:
//! `POST /api/metadata/graphql` with `X-Tableau-Auth`, answering
//! `{data, errors}` as Tableau does.
//!
//! The served schema is `queries/schema.graphql` itself, loaded into
//! async-graphql's dynamic schema, so what clients compile against and what
//! the site serves cannot drift. Execution (validation, variables,
//! fragments, aliases, `__typename`, interfaces) is async-graphql's; this
//! module adds Tableau's limits:
//! - a node limit (default 20,000): lists are cut there and the response
//!   carries partial data plus a `NODE_LIMIT_EXCEEDED` warning;
//! - a cost and time budget: a query over either fails with a timeout error;
//! - paging rules, in [`connection`].

pub mod connection;
pub mod graph;
mod schema;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_graphql::{ErrorExtensionValues, ServerError, Value};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;

use super::SimState;

pub const SCHEMA_SDL: &str = include_str!("../../../queries/schema.graphql");

/// Limits with Tableau Cloud's defaults.
#[derive(Clone, Debug)]
pub struct Limits {
    pub node_limit: usize,
    pub default_page_size: usize,
    pub max_page_size: usize,
    /// Wall time one query may take.
    pub time_budget: Duration,
    /// Field resolutions one query may make.
    pub cost_budget: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            node_limit: 20_000,
            default_page_size: 100,
            max_page_size: 1_000,
            time_budget: Duration::from_secs(30),
            cost_budget: 5_000_000,
        }
    }
}

/// The served schema and the indexes its resolvers use, built on first use.
pub struct Metadata {
    schema: async_graphql::dynamic::Schema,
    pub index: graph::Index,
    /// Ordered root-connection results by (field, filter, order), so paging
    /// through a large connection sorts once.
    ordered: Mutex<HashMap<String, Arc<Vec<graph::N>>>>,
}

impl Metadata {
    pub fn build(d: &super::dataset::Dataset) -> Metadata {
        Metadata {
            schema: schema::build(SCHEMA_SDL).expect("queries/schema.graphql is a valid schema"),
            index: graph::Index::build(d),
            ordered: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, key: &str, compute: impl FnOnce() -> Result<Vec<graph::N>, async_graphql::Error>) -> Result<Arc<Vec<graph::N>>, async_graphql::Error> {
        if let Some(hit) = self.ordered.lock().expect("order cache poisoned").get(key) {
            return Ok(hit.clone());
        }
        let nodes = Arc::new(compute()?);
        let mut cache = self.ordered.lock().expect("order cache poisoned");
        if cache.len() >= 64 {
            cache.clear();
        }
        cache.insert(key.to_string(), nodes.clone());
        Ok(nodes)
    }
}

/// Per-request accounting: nodes returned, work done, warnings to report.
pub struct Budget {
    pub limits: Limits,
    node_limit: usize,
    nodes: AtomicUsize,
    cost: AtomicUsize,
    started: Instant,
    cut: AtomicBool,
    timed_out: AtomicBool,
    warnings: Mutex<Vec<ServerError>>,
}

impl Budget {
    fn new(limits: Limits, node_limit: usize) -> Budget {
        Budget {
            limits,
            node_limit,
            nodes: AtomicUsize::new(0),
            cost: AtomicUsize::new(0),
            started: Instant::now(),
            cut: AtomicBool::new(false),
            timed_out: AtomicBool::new(false),
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// Counts one field resolution; errors once the cost or time is spent.
    fn tick(&self) -> Result<(), async_graphql::Error> {
        let cost = self.cost.fetch_add(1, Ordering::Relaxed) + 1;
        if self.timed_out.load(Ordering::Relaxed)
            || cost > self.limits.cost_budget
            || (cost % 256 == 0 && self.started.elapsed() > self.limits.time_budget)
        {
            self.timed_out.store(true, Ordering::Relaxed);
            return Err(async_graphql::Error::new("query budget exhausted"));
        }
        Ok(())
    }

    /// Takes up to `n` nodes from the limit; returns how many may be sent.
    fn take(&self, n: usize) -> usize {
        let before = self.nodes.fetch_add(n, Ordering::Relaxed);
        let allowed = self.node_limit.saturating_sub(before).min(n);
        if allowed < n {
            self.cut.store(true, Ordering::Relaxed);
        }
        allowed
    }

    fn warn(&self, code: &str, message: String, property: Option<(&str, usize)>) {
        let mut ext = ErrorExtensionValues::default();
        ext.set("severity", "WARNING");
        ext.set("code", code);
        if let Some((k, v)) = property {
            let mut props = async_graphql::indexmap::IndexMap::new();
            props.insert(async_graphql::Name::new(k), Value::from(v as u64));
            ext.set("properties", Value::Object(props));
        }
        let mut e = ServerError::new(message, None);
        e.extensions = Some(ext);
        self.warnings.lock().expect("warnings poisoned").push(e);
    }
}

pub fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/api/metadata/graphql", post(graphql))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), super::rest::auth::require_session))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphQLBody {
    query: String,
    #[serde(default)]
    variables: Option<serde_json::Value>,
    #[serde(default)]
    operation_name: Option<String>,
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=UTF-8"));
    resp
}

/// The operation a request runs: its `operationName`, or the document's
/// only named operation.
fn operation_name(body: &GraphQLBody) -> Option<String> {
    if body.operation_name.is_some() {
        return body.operation_name.clone();
    }
    let doc = async_graphql::parser::parse_query(&body.query).ok()?;
    // An anonymous operation parses as `Single`; named ones as `Multiple`.
    match doc.operations {
        async_graphql::parser::types::DocumentOperations::Multiple(ops) if ops.len() == 1 => {
            ops.keys().next().map(|k| k.to_string())
        }
        _ => None,
    }
}

/// `POST /api/metadata/graphql`
async fn graphql(State(st): State<Arc<SimState>>, body: Bytes) -> Response {
    let body: GraphQLBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({"errors": [{"message": format!("The request body is not a GraphQL request: {e}")}]}),
            )
        }
    };
    let md = st.metadata();
    let op = operation_name(&body);
    let limits = st.config.metadata.clone();
    let node_limit = st.config.faults.node_limit_for(op.as_deref()).unwrap_or(limits.node_limit);
    let budget = Arc::new(Budget::new(limits, node_limit));

    let mut request = async_graphql::Request::new(body.query).data(st.clone()).data(budget.clone());
    if let Some(vars) = body.variables.filter(|v| !v.is_null()) {
        request = request.variables(async_graphql::Variables::from_json(vars));
    }
    if let Some(name) = body.operation_name {
        request = request.operation_name(name);
    }
    let mut response = md.schema.execute(request).await;

    if budget.timed_out.load(Ordering::Relaxed) {
        let secs = budget.limits.time_budget.as_secs_f64();
        let cost = budget.limits.cost_budget;
        return json(
            StatusCode::OK,
            &serde_json::json!({
                "data": null,
                "errors": [{
                    "message": format!(
                        "The query timed out: it needed more than the allowed time ({secs} s) or work \
                         ({cost} field resolutions). Request fewer nodes, add filters, or page with a smaller \
                         “first”, and try again."),
                    "extensions": {"severity": "ERROR", "code": "TIMEOUT"}
                }]
            }),
        );
    }
    if budget.cut.load(Ordering::Relaxed) {
        budget.warn(
            "NODE_LIMIT_EXCEEDED",
            format!(
                "Showing partial results. The request exceeded the {node_limit} node limit. \
                 Use pagination, additional filtering, or both in the query to adjust results."
            ),
            Some(("nodeLimit", node_limit)),
        );
    }
    response.errors.extend(budget.warnings.lock().expect("warnings poisoned").drain(..));
    let body = serde_json::to_value(&response).unwrap_or_else(|e| serde_json::json!({"errors": [{"message": e.to_string()}]}));
    json(StatusCode::OK, &body)
}
