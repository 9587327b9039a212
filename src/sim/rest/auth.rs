//! Sign in, sign out, and the session check every other call goes through.
//!
//! Spec: <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_authentication.htm>
//! - PAT (`personalAccessTokenName`/`personalAccessTokenSecret`),
//!   name/password, or a connected app's JWT (`jwt`, checked in
//!   [`super::jwt`]), plus the site `contentUrl`.
//! - A JWT session carries the token's scopes; a request outside them gets
//!   403 naming the scope it needs. JWT sessions run side by side.
//! - Signing in again with the same PAT ends that PAT's earlier session, as
//!   on Tableau Cloud.
//! - Sessions expire a fixed TTL after sign-in; afterwards calls get 401002.
//! - Each session may have a bounded number of requests in flight; beyond
//!   that the call gets 429 with `Retry-After`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::body::El;
use super::error::ApiError;
use super::Ctx;
use crate::sim::SimState;

pub const AUTH_HEADER: &str = "x-tableau-auth";

#[derive(Clone)]
pub struct Session {
    pub user: u32,
    /// The LUID of the site the session is signed in to.
    pub site: String,
    pub pat_name: Option<String>,
    /// A connected-app session's scopes; `None` for PAT and password
    /// sessions, which may do what their user may.
    pub scopes: Option<Vec<String>>,
    pub expires_at: Instant,
    in_flight: Arc<AtomicUsize>,
}

#[derive(Default)]
pub struct Sessions {
    inner: Mutex<SessionTable>,
    pub(crate) jwt_ids: super::jwt::SeenIds,
}

#[derive(Default)]
struct SessionTable {
    by_token: HashMap<String, Session>,
    by_pat: HashMap<String, String>,
}

impl Sessions {
    fn open(&self, session: Session) -> String {
        let token = new_token();
        let mut t = self.inner.lock().expect("session table poisoned");
        if let Some(pat) = &session.pat_name {
            if let Some(old) = t.by_pat.insert(pat.clone(), token.clone()) {
                t.by_token.remove(&old);
            }
        }
        t.by_token.insert(token.clone(), session);
        token
    }

    fn get(&self, token: &str) -> Option<Session> {
        self.inner.lock().expect("session table poisoned").by_token.get(token).cloned()
    }

    /// The site LUID of a live session's token.
    pub(crate) fn site_of(&self, token: &str) -> Option<String> {
        self.inner.lock().expect("session table poisoned").by_token.get(token).map(|s| s.site.clone())
    }

    pub(crate) fn close(&self, token: &str) -> bool {
        let mut t = self.inner.lock().expect("session table poisoned");
        match t.by_token.remove(token) {
            Some(s) => {
                if let Some(pat) = s.pat_name {
                    if t.by_pat.get(&pat).is_some_and(|cur| cur == token) {
                        t.by_pat.remove(&pat);
                    }
                }
                true
            }
            None => false,
        }
    }
}

/// A credentials token: 32 random bytes, URL-safe, not derived from the seed
/// (tokens are secrets even on a simulated site).
fn new_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|b| ALPHABET[(*b & 63) as usize] as char).collect()
}

/// The `<tsRequest>` body of a sign-in. Attribute names carry quick-xml's
/// `@` prefix; the aliases accept the same request as JSON.
#[derive(Debug, Deserialize)]
struct SignInRequest {
    credentials: Credentials,
}

#[derive(Debug, Deserialize)]
struct Credentials {
    #[serde(rename = "@personalAccessTokenName", alias = "personalAccessTokenName")]
    pat_name: Option<String>,
    #[serde(rename = "@personalAccessTokenSecret", alias = "personalAccessTokenSecret")]
    pat_secret: Option<String>,
    #[serde(rename = "@name", alias = "name")]
    name: Option<String>,
    #[serde(rename = "@password", alias = "password")]
    password: Option<String>,
    #[serde(rename = "@jwt", alias = "jwt")]
    jwt: Option<String>,
    site: Option<SiteRef>,
}

#[derive(Debug, Deserialize)]
struct SiteRef {
    #[serde(rename = "@contentUrl", alias = "contentUrl")]
    content_url: Option<String>,
}

fn parse_sign_in(headers: &HeaderMap, body: &[u8]) -> Result<SignInRequest, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let text = std::str::from_utf8(body).map_err(|_| ApiError::malformed_body("The request body is not UTF-8."))?;
    if is_json {
        serde_json::from_str(text)
            .map_err(|e| ApiError::malformed_body(format!("Payload is either malformed or incomplete: {e}")))
    } else {
        // Accept `<tsRequest>` with or without a namespace.
        quick_xml::de::from_str(text)
            .map_err(|e| ApiError::malformed_body(format!("Payload is either malformed or incomplete: {e}")))
    }
}

/// `POST /api/{v}/auth/signin`
pub async fn sign_in(ctx: Ctx, State(st): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Response {
    let req = match parse_sign_in(&headers, &body) {
        Ok(r) => r,
        Err(e) => return ctx.error(e),
    };
    let c = req.credentials;
    let cfg = &st.config;
    let pat_ok = match (&c.pat_name, &c.pat_secret) {
        (Some(n), Some(s)) => *n == cfg.pat_name && *s == cfg.pat_secret,
        _ => false,
    };
    let password_ok = match (&c.name, &c.password) {
        (Some(n), Some(p)) => *n == cfg.username && *p == cfg.password,
        _ => false,
    };
    // A connected app signs in as the token's user, with its scopes.
    let mut jwt_grant: Option<(u32, Vec<String>)> = None;
    if let Some(jwt) = &c.jwt {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        match super::jwt::verify(&cfg.connected_app, jwt, now, &st.sessions.jwt_ids) {
            Ok(grant) => {
                let d = st.data();
                match d.users.iter().position(|u| !u.deleted && u.name.eq_ignore_ascii_case(&grant.username)) {
                    Some(i) => jwt_grant = Some((i as u32, grant.scopes)),
                    None => {
                        tracing::info!(sub = grant.username, "JWT sign-in rejected: no such user");
                        return ctx.error(ApiError::sign_in_failed());
                    }
                }
            }
            Err(why) => {
                tracing::info!(why, "JWT sign-in rejected");
                let mut e = ApiError::sign_in_failed();
                e.detail = format!("Error signing in to Tableau Server: {why}");
                return ctx.error(e);
            }
        }
    }
    let site = c.site.and_then(|s| s.content_url).unwrap_or_default();
    let site_url = st.data().site.content_url.clone();
    if !(pat_ok || password_ok || jwt_grant.is_some()) || !site.eq_ignore_ascii_case(&site_url) {
        tracing::info!(pat = ?c.pat_name, user = ?c.name, site, "sign-in rejected");
        return ctx.error(ApiError::sign_in_failed());
    }
    let (user, scopes) = match jwt_grant {
        Some((user, scopes)) => (user, Some(scopes)),
        None => (0, None),
    };
    let token = st.sessions.open(Session {
        user,
        site: st.data().site.id.clone(),
        scopes,
        pat_name: if pat_ok { c.pat_name } else { None },
        expires_at: Instant::now() + cfg.session_ttl,
        in_flight: Arc::new(AtomicUsize::new(0)),
    });
    let d = &st.data();
    ctx.ok(vec![El::new("credentials")
        .attr("token", token)
        .child(El::new("site").attr("id", &d.site.id).attr("contentUrl", &d.site.content_url))
        .child(El::new("user").attr("id", &d.users[user as usize].id))])
}

/// `POST /api/{v}/auth/signout`
pub async fn sign_out(ctx: Ctx, State(st): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    match headers.get(AUTH_HEADER).and_then(|v| v.to_str().ok()) {
        Some(token) if st.sessions.close(token) => StatusCode::NO_CONTENT.into_response(),
        Some(_) => ctx.error(ApiError::invalid_credentials()),
        None => ctx.error(ApiError::missing_credentials()),
    }
}

#[derive(Debug, Deserialize)]
struct SwitchSiteRequest {
    site: SiteRef,
}

/// `POST /api/{v}/auth/switchSite`: the session's user on another site of
/// the server, without signing in again. The old token ends; the answer is
/// a credentials block like sign-in's. A connected app's session is bound
/// to its site (sign in to each site instead), as on Tableau.
pub async fn switch_site(ctx: Ctx, State(st): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = headers.get(AUTH_HEADER).and_then(|v| v.to_str().ok()) else {
        return ctx.error(ApiError::missing_credentials());
    };
    let Some(session) = st.sessions.get(token).filter(|s| Instant::now() < s.expires_at) else {
        return ctx.error(ApiError::invalid_credentials());
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let parsed: Result<SwitchSiteRequest, String> = match std::str::from_utf8(&body) {
        Err(_) => Err("The request body is not UTF-8.".into()),
        Ok(text) if is_json => serde_json::from_str(text).map_err(|e| e.to_string()),
        Ok(text) => quick_xml::de::from_str(text).map_err(|e| e.to_string()),
    };
    let target = match parsed {
        Ok(r) => r.site.content_url.unwrap_or_default(),
        Err(e) => return ctx.error(ApiError::malformed_body(format!("Payload is either malformed or incomplete: {e}"))),
    };
    // The server routes a switch to the site the body names; a name it
    // does not know arrives at the first site.
    if !target.eq_ignore_ascii_case(&st.config.site_content_url) {
        return ctx.error(ApiError::not_found(super::error::codes::SITE, "Site", &target));
    }
    if session.scopes.is_some() {
        return ctx.error(ApiError::forbidden(
            "A connected app's session belongs to the site it signed in to; sign in to the other site with a new token.",
        ));
    }
    let name = st
        .site_by_id(&session.site)
        .and_then(|old| old.data().users.get(session.user as usize).map(|u| u.name.clone()))
        .unwrap_or_default();
    let user = {
        let d = st.data();
        d.users.iter().position(|u| !u.deleted && u.name.eq_ignore_ascii_case(&name))
    };
    let Some(user) = user else {
        return ctx.error(ApiError::forbidden(format!("The user '{name}' is not a member of site '{target}'.")));
    };
    st.sessions.close(token);
    let token = st.sessions.open(Session {
        user: user as u32,
        site: st.data().site.id.clone(),
        scopes: None,
        pat_name: session.pat_name,
        expires_at: Instant::now() + st.config.session_ttl,
        in_flight: Arc::new(AtomicUsize::new(0)),
    });
    let d = &st.data();
    ctx.ok(vec![El::new("credentials")
        .attr("token", token)
        .child(El::new("site").attr("id", &d.site.id).attr("contentUrl", &d.site.content_url))
        .child(El::new("user").attr("id", &d.users[user].id))])
}

/// Decrements a session's in-flight count when the request finishes.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Middleware for every authenticated route: a live session, the site in the
/// path matching the session's site, and the per-session concurrency cap.
pub async fn require_session(State(st): State<Arc<SimState>>, ctx: Ctx, mut req: Request, next: Next) -> Response {
    let Some(token) = req.headers().get(AUTH_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned) else {
        return ctx.error(ApiError::missing_credentials());
    };
    let Some(session) = st.sessions.get(&token) else {
        return ctx.error(ApiError::invalid_credentials());
    };
    if Instant::now() >= session.expires_at {
        st.sessions.close(&token);
        return ctx.error(ApiError::invalid_credentials());
    }
    if let Some(scopes) = &session.scopes {
        let needed = super::jwt::required_scope(req.method().as_str(), req.uri().path());
        if !scopes.iter().any(|s| *s == needed) {
            return ctx.error(ApiError::forbidden(format!(
                "The connected app's token does not grant the scope this request needs: {needed}."
            )));
        }
    }
    if let Some(site) = site_in_path(req.uri().path()) {
        if site != session.site {
            return ctx.error(ApiError::forbidden(format!(
                "This session is signed in to site '{}', not '{site}': switch site (auth/switchSite) or sign in to that site.",
                session.site
            )));
        }
    }
    let limit = st.config.max_concurrent_per_session;
    let now_in_flight = session.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(session.in_flight.clone());
    if now_in_flight > limit {
        tracing::debug!(limit, "429: session over its concurrency cap");
        return ctx.error(ApiError::too_many_requests(limit, 1));
    }
    if !st.config.latency.is_zero() {
        tokio::time::sleep(st.config.latency).await;
    }
    req.extensions_mut().insert(session);
    next.run(req).await
}

/// The site id in `/api/{v}/sites/{site}/...`, if the path has one.
fn site_in_path(path: &str) -> Option<&str> {
    let mut parts = path.trim_start_matches('/').split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("api"), Some(_), Some("sites"), Some(site), Some(_)) => Some(site),
        _ => None,
    }
}
