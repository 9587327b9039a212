//! A server with several sites (`trm sim serve --sites analytics,finance,ops`).
//!
//! Each site is a [`SimState`] of its own (its dataset, Metadata API,
//! jobs), generated from the seed and its name; the sites share the clock,
//! the session table, the fault plan and the call log, which belong to the
//! first site. Every request goes to one site's router:
//!
//! - sign-in and `auth/switchSite` to the site their body names
//!   (`<site contentUrl="…"/>`);
//! - any other API request to the site of its session (`X-Tableau-Auth`),
//!   so the Metadata API answers for the session's site and a path naming
//!   another site's LUID gets 403 from the session's site;
//! - `/sim/manifest` and `/sim/effective` to the site `?site=<contentUrl>`
//!   names (the first site without it), so the one-site manifest shape is
//!   kept; `GET /sim/sites` lists the sites with their LUIDs and counts.
//!
//! A one-site server never comes here: [`super::app`] serves it directly.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use tower::ServiceExt as _;

use super::rest::auth::AUTH_HEADER;
use super::{calls, control, faults, latency, metadata, rest, simulated_date, SimState};

/// Sign-in bodies are small; anything bigger is not one.
const MAX_AUTH_BODY: usize = 64 * 1024;

struct Site {
    state: Arc<SimState>,
    id: String,
    api: Router,
    control: Router,
}

type Sites = Arc<Vec<Site>>;

pub fn app(primary: Arc<SimState>) -> Router {
    let sites: Sites = Arc::new(
        primary
            .sites()
            .into_iter()
            .map(|s| {
                let id = s.data().site.id.clone();
                Site {
                    id,
                    api: rest::router(s.clone()).merge(metadata::router(s.clone())),
                    control: control::router(s.clone()),
                    state: s,
                }
            })
            .collect(),
    );
    let api = Router::new()
        .fallback(dispatch_api)
        .with_state(sites.clone())
        .layer(axum::middleware::from_fn_with_state(primary.clone(), faults::inject))
        .layer(axum::middleware::from_fn_with_state(primary.clone(), calls::record))
        // Outermost, as on a one-site server: every request waits, the
        // server's one latency log (the first site's `/sim/latency`) records it.
        .layer(axum::middleware::from_fn_with_state(primary.clone(), latency::apply));
    Router::new()
        .route("/sim/sites", get(list_sites))
        .route("/sim/{*rest}", any(dispatch_control))
        .with_state(sites)
        .fallback_service(api)
        .layer(axum::middleware::from_fn_with_state(primary, simulated_date))
}

/// The `contentUrl` a sign-in or switch-site body names, in XML
/// (`contentUrl="x"`) or JSON (`"contentUrl": "x"`).
fn content_url_in(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let at = text.find("contentUrl")? + "contentUrl".len();
    let rest = text[at..].trim_start_matches('"').trim_start();
    let rest = rest.strip_prefix(['=', ':'])?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].to_string())
}

async fn dispatch_api(State(sites): State<Sites>, req: Request) -> Response {
    let path = req.uri().path();
    let names_site = path.ends_with("/auth/signin") || path.ends_with("/auth/switchSite");
    let (idx, req) = if names_site {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_AUTH_BODY).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response();
        };
        let idx = content_url_in(&bytes)
            .and_then(|cu| sites.iter().position(|s| s.state.config.site_content_url.eq_ignore_ascii_case(&cu)))
            .unwrap_or(0);
        (idx, Request::from_parts(parts, Body::from(bytes)))
    } else {
        let site = req
            .headers()
            .get(AUTH_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|token| sites[0].state.sessions.site_of(token));
        (site.and_then(|id| sites.iter().position(|s| s.id == id)).unwrap_or(0), req)
    };
    match sites[idx].api.clone().oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

#[derive(serde::Deserialize)]
struct SiteParam {
    site: Option<String>,
}

async fn dispatch_control(State(sites): State<Sites>, Query(q): Query<SiteParam>, req: Request) -> Response {
    let idx = match &q.site {
        None => 0,
        Some(cu) => match sites.iter().position(|s| s.state.config.site_content_url.eq_ignore_ascii_case(cu)) {
            Some(i) => i,
            None => {
                let known: Vec<&str> = sites.iter().map(|s| s.state.config.site_content_url.as_str()).collect();
                return (StatusCode::NOT_FOUND, format!("no site '{cu}' on this server; sites: {}\n", known.join(", ")))
                    .into_response();
            }
        },
    };
    match sites[idx].control.clone().oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

/// `GET /sim/sites`: each site's LUID, name, content URL, seed and counts.
async fn list_sites(State(sites): State<Sites>) -> Json<serde_json::Value> {
    let list: Vec<serde_json::Value> = sites
        .iter()
        .map(|s| {
            let d = s.state.data();
            serde_json::json!({
                "id": d.site.id,
                "name": d.site.name,
                "content_url": d.site.content_url,
                "seed": d.seed,
                "workbooks": d.workbooks.len(),
                "users": d.live_users().count(),
            })
        })
        .collect();
    Json(serde_json::json!({ "sites": list }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_url_is_read_from_xml_and_json() {
        let xml = br#"<tsRequest><credentials name="a" password="b"><site contentUrl="finance"/></credentials></tsRequest>"#;
        assert_eq!(content_url_in(xml).as_deref(), Some("finance"));
        let json = br#"{"site": {"contentUrl" : "ops"}}"#;
        assert_eq!(content_url_in(json).as_deref(), Some("ops"));
        assert_eq!(content_url_in(br#"<site contentUrl=""/>"#).as_deref(), Some(""));
        assert_eq!(content_url_in(b"<tsRequest/>"), None);
    }
}
