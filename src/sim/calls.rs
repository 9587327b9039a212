//! The log of write calls the site received, so tests can count what a
//! client sent: `GET /sim/calls` lists them, `DELETE /sim/calls` clears it.
//!
//! Every REST request other than a GET (and other than sign-in and
//! sign-out) is a write, including those an injected fault answered. Each entry names the method, the path below the
//! site, the target (the last item id in the path), the grantees of a
//! permissions call, and the status the site answered.

use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use super::SimState;

#[derive(Clone, Debug, Serialize)]
pub struct Call {
    pub method: String,
    /// The path after `/api/{version}/sites/{site}`, or after
    /// `/api/{version}` for server-level resources.
    pub path: String,
    /// The id of the item the call acts on, if the path names one.
    pub target: Option<String>,
    /// `user:<id>` / `group:<id>` for permission calls.
    pub grantees: Vec<String>,
    pub status: u16,
}

/// Grantees a permissions handler acted on, passed to the log as a
/// response extension.
#[derive(Clone, Debug)]
pub struct Grantees(pub Vec<String>);

#[derive(Default)]
pub struct CallLog {
    calls: Mutex<Vec<Call>>,
}

impl CallLog {
    pub fn snapshot(&self) -> Vec<Call> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn clear(&self) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn push(&self, call: Call) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push(call);
    }
}

/// The path below the site (or the API version), and the last id in it.
fn split_path(path: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // api / {v} / sites / {site} / rest...
    let rest: &[&str] = match parts.as_slice() {
        ["api", _, "sites", _, rest @ ..] => rest,
        ["api", _, rest @ ..] => rest,
        other => other,
    };
    let is_id = |s: &&&str| s.len() == 36 && s.bytes().filter(|b| *b == b'-').count() == 4;
    let target = rest.iter().rev().find(is_id).map(|s| s.to_string());
    (format!("/{}", rest.join("/")), target)
}

/// Middleware over both APIs: records each REST write after it is
/// answered. (Metadata API queries are POSTs but not writes.)
pub async fn record(State(st): State<std::sync::Arc<SimState>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let exempt = path.contains("/auth/sign") || !path.starts_with("/api/") || path.starts_with("/api/metadata");
    if method != Method::GET && method != Method::HEAD && !exempt {
        let (rel, target) = split_path(&path);
        let grantees = resp.extensions().get::<Grantees>().map(|g| g.0.clone()).unwrap_or_default();
        st.calls.push(Call { method: method.to_string(), path: rel, target, grantees, status: resp.status().as_u16() });
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_lose_their_site_prefix_and_name_the_last_id() {
        let (p, t) = split_path(
            "/api/3.27/sites/0f2b4f58-0000-4000-8000-000000000001/groups/5e5e1978-71fa-11e4-87dd-7382f5c437af/users",
        );
        assert_eq!(p, "/groups/5e5e1978-71fa-11e4-87dd-7382f5c437af/users");
        assert_eq!(t.as_deref(), Some("5e5e1978-71fa-11e4-87dd-7382f5c437af"));
        let (p, t) = split_path("/api/3.27/schedules/abc");
        assert_eq!((p.as_str(), t), ("/schedules/abc", None));
    }
}
