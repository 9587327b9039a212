//! The transport under both of TRM's Tableau clients: the HTTP client,
//! sign-in and the session, the concurrency limiter, retries and the
//! counters. REST (`/api/{v}/...`, `rest.rs`) and the Metadata API
//! (`/api/metadata/graphql`, `metadata.rs`) are layers above it and
//! reach the server only through [`Client::get_api`] and
//! [`Client::post_json`]; nothing here knows their payloads beyond sign-in.
//!
//! What every exchange goes through ([`Client::exchange`]):
//! - a permit from a semaphore with `settings.concurrency` permits, held
//!   from sending the request until its body is read;
//! - the retry policy in [`super::retry`]: 408, 429, 5xx and transport
//!   failures (refused or dropped connections, truncated bodies, timeouts)
//!   are retried with capped exponential backoff and jitter, `Retry-After`
//!   winning over the computed wait;
//! - a fresh sign-in when the session has ended (401), then the request
//!   again: concurrent requests that hit the same ended session share one
//!   sign-in, and after [`MAX_BARREN_SIGN_INS`] sign-ins in a row with no
//!   request succeeding in between, the 401 is final.
//!
//! Logs (at `debug`) carry the method, the path and the status only. The
//! token secret and the session token are held as [`Secret`]s and never
//! reach a log line or an error message.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::adaptive::{ConcurrencyReport, Limiter, StreamFigures};
use super::error::{error_suffix, TableauError};
use super::retry::{self, RetryPolicy};
use crate::config::{Auth, ConnectedApp, Secret, Settings};

/// The version `serverinfo` is asked at before the server's own is known;
/// every Tableau release since 2018.1 answers it.
pub const DISCOVERY_VERSION: &str = "3.0";
const AUTH_HEADER: &str = "x-tableau-auth";
const XML: &str = "application/xml";
const JSON: &str = "application/json";
/// Connecting never waits longer than this, whatever the request timeout.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const USER_AGENT: &str = concat!("trm/", env!("CARGO_PKG_VERSION"));
/// What [`Client::reauthenticate`] did.
enum Reauth {
    /// Signed in again.
    SignedIn,
    /// Another request already had: its session is newer.
    Newer,
    GiveUp,
}

/// Sign-ins in a row that may go by without any request succeeding before
/// a 401 is final. Normally one sign-in is enough; more are needed only when
/// sessions end again while retries are in flight (short sessions, or
/// Tableau Cloud ending a token's session when it signs in elsewhere).
pub const MAX_BARREN_SIGN_INS: u64 = 3;

/// Counters over the client's life. `requests` counts every HTTP request
/// sent, whatever its outcome: `serverinfo`, sign-ins (first and later),
/// each attempt of each call (so retries too) and sign-out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestStats {
    pub requests: u64,
    /// Attempts after the first, for 408/429/5xx and transport failures.
    pub retries: u64,
    /// 429 responses seen.
    pub throttled: u64,
    /// Sign-ins after the first, because a session had expired.
    pub reauthentications: u64,
}

struct Session {
    token: Secret,
    site_id: String,
    /// The signed-in user's LUID; admin commands never act on it.
    user_id: String,
    /// Bumped by each sign-in, so concurrent requests that saw the same
    /// expired session sign in again only once.
    generation: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    reauthentications: AtomicU64,
    jitter: AtomicU64,
    /// Sign-ins since the last successful authenticated request.
    barren_sign_ins: AtomicU64,
}

/// A signed-in connection to one Tableau site. `Send + Sync`: share it as
/// `Arc<Client>`.
pub struct Client {
    http: reqwest::Client,
    server: String,
    /// The site's content URL; `auth/switchSite` changes it, so signing in
    /// again after an expiry returns to the site switched to.
    site: Mutex<String>,
    api_version: String,
    token_name: String,
    token_secret: Secret,
    auth: Auth,
    server_time: i64,
    session: Mutex<Session>,
    reauth: tokio::sync::Mutex<()>,
    limiter: Limiter,
    concurrency: usize,
    policy: RetryPolicy,
    counters: Counters,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.server)
            .field("site", &self.content_url())
            .field("api_version", &self.api_version)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

/// One request as the retry loop sees it.
struct Call {
    method: Method,
    url: Url,
    /// What errors name: the path and query (never headers or body).
    label: String,
    /// A JSON body.
    body: Option<Vec<u8>>,
    /// The body's type when it is not JSON (a multipart publish).
    content_type: Option<String>,
    /// What the answer should be: XML for REST (Tableau's native format,
    /// the one its reference responses are in), JSON for the Metadata API.
    accept: &'static str,
    /// Send the session token, and sign in again on 401.
    auth: bool,
}

/// A 2xx answer, as the API layers above get it.
pub(crate) struct Answer {
    /// What errors about this answer name: the path and query, or the
    /// GraphQL operation.
    pub label: String,
    pub body: Vec<u8>,
}

/// A complete response: status, headers and the whole body.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Client {
    /// Builds the HTTP client (rustls; connect and request timeouts from
    /// `settings.timeout`), learns the REST API version from `serverinfo`
    /// unless `settings.api_version` is set, and signs in the way
    /// `settings.auth` says (personal access token, password, or a
    /// connected app's freshly minted JWT).
    pub async fn connect(settings: &Settings) -> Result<Client, TableauError> {
        Client::connect_with(settings, RetryPolicy::default()).await
    }

    /// [`Client::connect`] with a retry policy of one's own (tests use short
    /// waits).
    pub async fn connect_with(settings: &Settings, policy: RetryPolicy) -> Result<Client, TableauError> {
        crate::tls::install();
        let server = settings.server.trim_end_matches('/').to_string();
        Url::parse(&server).map_err(|e| TableauError::Config(format!("'{server}' is not a server URL: {e}")))?;
        let http = reqwest::Client::builder()
            .tls_backend_rustls()
            .user_agent(USER_AGENT)
            .connect_timeout(settings.timeout.min(MAX_CONNECT_TIMEOUT))
            .timeout(settings.timeout)
            .build()
            .map_err(|e| TableauError::Config(format!("cannot build the HTTP client: {}", describe(&e))))?;
        let concurrency = settings.concurrency.max(1);
        let ceiling = settings.max_concurrency.unwrap_or(concurrency).max(concurrency);
        let mut client = Client {
            http,
            server,
            site: Mutex::new(settings.site.clone()),
            api_version: settings.api_version.clone().unwrap_or_else(|| DISCOVERY_VERSION.to_string()),
            token_name: settings.token_name.clone(),
            token_secret: settings.token_secret.clone(),
            auth: settings.auth.clone(),
            server_time: 0,
            session: Mutex::new(Session { token: Secret::new(""), site_id: String::new(), user_id: String::new(), generation: 0 }),
            reauth: tokio::sync::Mutex::new(()),
            limiter: Limiter::new(concurrency, ceiling),
            concurrency,
            policy,
            counters: Counters::default(),
        };
        if settings.api_version.is_none() {
            client.api_version = client.discover_version().await?;
        }
        let (session, server_time) = client.sign_in().await?;
        tracing::debug!(server = %client.server, api_version = %client.api_version, "signed in");
        client.server_time = server_time;
        *client.session.get_mut().expect("session lock poisoned") = session;
        Ok(client)
    }

    pub fn api_version(&self) -> String {
        self.api_version.clone()
    }

    /// The site's LUID, from sign-in.
    pub fn site_id(&self) -> String {
        self.session.lock().expect("session lock poisoned").site_id.clone()
    }

    /// The content URL of the site the session is on.
    pub fn content_url(&self) -> String {
        self.site.lock().expect("site lock poisoned").clone()
    }

    /// Moves the session to another site of the server (`auth/switchSite`,
    /// Tableau Server; not for connected apps, whose sessions belong to
    /// their site): the server answers a new token for the same user, and
    /// later calls (and sign-ins after an expiry) go to that site.
    pub async fn switch_site(&self, content_url: &str) -> Result<(), TableauError> {
        let body = serde_json::json!({ "site": { "contentUrl": content_url } });
        let bytes = serde_json::to_vec(&body).expect("a JSON value always serializes");
        let call = self.rest_call(Method::POST, "auth/switchSite", &[], Some(bytes), true)?;
        let reply = self.exchange(&call).await?;
        let v = parse_rest(&call.label, &reply.body)?;
        let creds = &v["credentials"];
        let (Some(token), Some(site_id)) = (creds["token"].as_str(), creds["site"]["id"].as_str()) else {
            return Err(TableauError::Decode {
                path: call.label,
                message: "the switch-site response has no credentials.token or credentials.site.id".into(),
            });
        };
        let _one_at_a_time = self.reauth.lock().await;
        *self.site.lock().expect("site lock poisoned") = content_url.to_string();
        let mut s = self.session.lock().expect("session lock poisoned");
        s.token = Secret::new(token);
        s.site_id = site_id.to_string();
        s.user_id = creds["user"]["id"].as_str().unwrap_or_default().to_string();
        s.generation += 1;
        tracing::info!(server = %self.server, site = content_url, "switched site");
        Ok(())
    }

    /// The signed-in user's LUID, from sign-in (empty if the server did
    /// not say).
    pub fn user_id(&self) -> String {
        self.session.lock().expect("session lock poisoned").user_id.clone()
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// Requests in flight at the start (`settings.concurrency`).
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Requests in flight at most, however far the adaptive limit climbs
    /// (`settings.max_concurrency`, by default the concurrency).
    pub fn max_concurrency(&self) -> usize {
        self.limiter.ceiling()
    }

    /// How the adaptive limit moved so far.
    pub fn concurrency_report(&self) -> ConcurrencyReport {
        self.limiter.report()
    }

    /// Requests, retries and waits by stream (see [`super::adaptive::tagged`]).
    pub fn stream_figures(&self) -> Vec<(String, StreamFigures)> {
        self.limiter.streams()
    }

    /// The server's clock at sign-in (Unix seconds), from the HTTP `Date`
    /// header; the local clock when the header was missing.
    pub fn server_time(&self) -> i64 {
        self.server_time
    }

    /// `sites/<site id>/<rest>`, for [`Client::get_json`] and
    /// `rest::list_all`.
    pub fn site_path(&self, rest: &str) -> String {
        format!("sites/{}/{}", self.site_id(), rest.trim_start_matches('/'))
    }

    pub fn stats(&self) -> RequestStats {
        let c = &self.counters;
        RequestStats {
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
            reauthentications: c.reauthentications.load(Ordering::Relaxed),
        }
    }

    /// `GET {server}/api/{v}/{path}?{query}` with the session: the body of
    /// the 2xx answer, and what errors about it should name. `path` is
    /// relative, e.g. `client.site_path("workbooks")`. For the REST layer.
    pub(crate) async fn get_api(&self, path: &str, query: &[(&str, String)]) -> Result<Answer, TableauError> {
        let call = self.rest_call(Method::GET, path, query, None, true)?;
        let reply = self.exchange(&call).await?;
        Ok(Answer { label: call.label, body: reply.body })
    }

    /// `POST {server}{path}` with a JSON body and the session: the body of
    /// the 2xx answer. `label` is what errors name (the path, and what the
    /// body asks). For the Metadata API layer.
    pub(crate) async fn post_json(&self, path: &str, label: String, body: Vec<u8>) -> Result<Answer, TableauError> {
        let call = Call {
            method: Method::POST,
            url: self.url(path)?,
            label,
            body: Some(body),
            content_type: None,
            auth: true,
            accept: JSON,
        };
        let reply = self.exchange(&call).await?;
        Ok(Answer { label: call.label, body: reply.body })
    }

    /// A write (`POST`, `PUT` or `DELETE`) to `{server}/api/{v}/{path}` with
    /// an optional JSON body and the session: the body of the 2xx answer.
    /// Retried like every call, so a create that the server applied but
    /// whose answer was lost comes back as a conflict the caller can read.
    /// For the REST layer.
    pub(crate) async fn send_api(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Answer, TableauError> {
        let call = self.rest_call(method, path, query, body, true)?;
        let reply = self.exchange(&call).await?;
        Ok(Answer { label: call.label, body: reply.body })
    }

    /// A request whose body is not JSON (`content_type`, e.g. a multipart
    /// publish) or whose answer is not a REST document (`accept`, e.g. a
    /// workbook's content): the body of the 2xx answer. For the publish
    /// layer.
    pub(crate) async fn send_raw(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<(Vec<u8>, String)>,
        accept: &'static str,
    ) -> Result<Answer, TableauError> {
        let (body, content_type) = match body {
            Some((b, t)) => (Some(b), Some(t)),
            None => (None, None),
        };
        let mut call = self.rest_call(method, path, query, body, true)?;
        call.content_type = content_type;
        call.accept = accept;
        let reply = self.exchange(&call).await?;
        Ok(Answer { label: call.label, body: reply.body })
    }

    /// Ends the session, best effort: one attempt, failures only logged.
    pub async fn sign_out(&self) {
        let call = match self.rest_call(Method::POST, "auth/signout", &[], None, true) {
            Ok(c) => c,
            Err(_) => return,
        };
        match self.send_once(&call, false).await {
            Ok((reply, _)) if reply.status.is_success() => tracing::debug!("signed out"),
            Ok((reply, _)) => {
                tracing::debug!(status = reply.status.as_u16(), "sign-out refused; the session ends on its own")
            }
            Err(e) => tracing::debug!(error = %e, "sign-out failed; the session ends on its own"),
        }
    }

    // -----------------------------------------------------------------------
    // Sign-in and version discovery

    async fn discover_version(&self) -> Result<String, TableauError> {
        let call = self.rest_call(Method::GET, "serverinfo", &[], None, false)?;
        let reply = self.exchange(&call).await?;
        let v = parse_rest(&call.label, &reply.body)?;
        let version = match &v["serverInfo"]["restApiVersion"] {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("value").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        match version {
            Some(s) if s.split_once('.').is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok()) => {
                tracing::debug!(api_version = %s, "REST API version from serverinfo");
                Ok(s)
            }
            _ => Err(TableauError::Decode {
                path: call.label,
                message: "no serverInfo.restApiVersion of the form 3.N".into(),
            }),
        }
    }

    /// The credentials of one sign-in: a connected app's token is minted
    /// afresh each time (it is single-use and short-lived).
    fn credentials(&self) -> Result<Value, TableauError> {
        let site = serde_json::json!({"contentUrl": self.content_url()});
        Ok(match &self.auth {
            Auth::Pat => serde_json::json!({
                "personalAccessTokenName": self.token_name,
                "personalAccessTokenSecret": self.token_secret.expose(),
                "site": site,
            }),
            Auth::Password { username, password } => serde_json::json!({
                "name": username,
                "password": password.expose(),
                "site": site,
            }),
            Auth::Jwt(app) => serde_json::json!({"jwt": mint_jwt(app)?.expose(), "site": site}),
        })
    }

    /// Signs in; returns the session and the server's clock.
    async fn sign_in(&self) -> Result<(Session, i64), TableauError> {
        let body = serde_json::json!({ "credentials": self.credentials()? });
        let bytes = serde_json::to_vec(&body).expect("a JSON value always serializes");
        let call = self.rest_call(Method::POST, "auth/signin", &[], Some(bytes), false)?;
        // Not `exchange`: a refused sign-in must not sign in again.
        let (reply, _) = self.send_with_retries(&call).await?;
        if !reply.status.is_success() {
            let (code, summary, detail) = error_body(&reply.body);
            return Err(TableauError::SignIn {
                server: self.server.clone(),
                site: self.content_url(),
                detail: format!("HTTP {}{}", reply.status.as_u16(), error_suffix(&code, &summary, &detail)),
            });
        }
        let v = parse_rest(&call.label, &reply.body)?;
        let creds = &v["credentials"];
        let (Some(token), Some(site_id)) = (creds["token"].as_str(), creds["site"]["id"].as_str()) else {
            return Err(TableauError::Decode {
                path: call.label,
                message: "the sign-in response has no credentials.token or credentials.site.id".into(),
            });
        };
        let server_time = reply
            .headers
            .get(header::DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(crate::time::parse)
            .unwrap_or_else(|| chrono::Utc::now().timestamp());
        let user_id = creds["user"]["id"].as_str().unwrap_or_default().to_string();
        let session = Session { token: Secret::new(token), site_id: site_id.to_string(), user_id, generation: 0 };
        Ok((session, server_time))
    }

    /// After a 401 on session `seen`: signs in again, unless another request
    /// already did (then its session is used). [`Reauth::GiveUp`] means
    /// [`MAX_BARREN_SIGN_INS`] sign-ins in a row brought no successful
    /// request, so the site refuses sessions and signing in cannot help.
    async fn reauthenticate(&self, seen: u64) -> Result<Reauth, TableauError> {
        let _one_at_a_time = self.reauth.lock().await;
        if self.session.lock().expect("session lock poisoned").generation != seen {
            return Ok(Reauth::Newer);
        }
        if self.counters.barren_sign_ins.load(Ordering::Relaxed) >= MAX_BARREN_SIGN_INS {
            return Ok(Reauth::GiveUp);
        }
        let (fresh, _) = self.sign_in().await?;
        {
            let mut s = self.session.lock().expect("session lock poisoned");
            s.token = fresh.token;
            s.site_id = fresh.site_id;
            s.user_id = fresh.user_id;
            s.generation = seen + 1;
        }
        self.counters.barren_sign_ins.fetch_add(1, Ordering::Relaxed);
        self.counters.reauthentications.fetch_add(1, Ordering::Relaxed);
        tracing::info!(server = %self.server, "the Tableau session ended; signed in again");
        Ok(Reauth::SignedIn)
    }

    // -----------------------------------------------------------------------
    // The exchange

    fn url(&self, path: &str) -> Result<Url, TableauError> {
        Url::parse(&format!("{}{path}", self.server))
            .map_err(|e| TableauError::Config(format!("cannot form a URL from {}{path}: {e}", self.server)))
    }

    fn rest_call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        auth: bool,
    ) -> Result<Call, TableauError> {
        let mut url = self.url(&format!("/api/{}/{}", self.api_version, path.trim_start_matches('/')))?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        let label = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        Ok(Call { method, url, label, body, content_type: None, auth, accept: XML })
    }

    /// Sends `call` until it succeeds or fails for good; non-2xx answers
    /// become [`TableauError::Http`]. A 401 on an authenticated call signs
    /// in again (or picks up the session another request just opened) and
    /// sends the call again, up to `max_attempts` times.
    async fn exchange(&self, call: &Call) -> Result<Reply, TableauError> {
        let mut unauthorized = 0u32;
        loop {
            let (reply, generation) = self.send_with_retries(call).await?;
            if reply.status.is_success() {
                if call.auth {
                    self.counters.barren_sign_ins.store(0, Ordering::Relaxed);
                }
                return Ok(reply);
            }
            if reply.status == StatusCode::UNAUTHORIZED && call.auth && unauthorized < self.policy.max_attempts.max(2) {
                // Only a session this request opened counts against it: a
                // request queued behind many others can find session after
                // session used up by them (short sessions), while they make
                // progress; the barren-sign-in limit still ends a site
                // that refuses every session.
                match self.reauthenticate(generation).await? {
                    Reauth::SignedIn => {
                        unauthorized += 1;
                        continue;
                    }
                    Reauth::Newer => continue,
                    Reauth::GiveUp => {}
                }
            }
            return Err(http_error(call, &reply));
        }
    }

    /// Sends `call` (with the session's token if it needs one), retrying
    /// 408, 429, 5xx and transport failures per the policy. Returns the last
    /// reply whatever its status, and the session generation it was sent
    /// with; fails only when no reply came at all.
    async fn send_with_retries(&self, call: &Call) -> Result<(Reply, u64), TableauError> {
        let mut attempt = 0u32;
        // Attempts the server paced: a 429, or a 503 that says when to
        // come back. They have their own budget (see `RetryPolicy`).
        let mut paced = 0u32;
        loop {
            attempt += 1;
            match self.send_once(call, attempt > 1).await {
                Ok((reply, generation)) => {
                    let status = reply.status;
                    if !retry::retryable_status(status.as_u16()) {
                        return Ok((reply, generation));
                    }
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        self.counters.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                    let after = retry_after(&reply.headers);
                    let this_paced = status == StatusCode::TOO_MANY_REQUESTS
                        || (status == StatusCode::SERVICE_UNAVAILABLE && after.is_some());
                    paced += u32::from(this_paced);
                    if !self.policy.should_retry(attempt - paced, paced, this_paced) {
                        return Ok((reply, generation));
                    }
                    self.pause(call, attempt, after, "retryable status").await;
                }
                Err(message) => {
                    if !self.policy.should_retry(attempt - paced, paced, false) {
                        return Err(TableauError::Transport {
                            method: call.method.to_string(),
                            path: call.label.clone(),
                            message,
                            attempts: attempt,
                        });
                    }
                    self.pause(call, attempt, None, "transport error").await;
                }
            }
        }
    }

    /// One attempt: a limiter permit, the request, the whole body. The
    /// session token is taken once the permit is held: a request queued
    /// behind many others would otherwise carry a token that ended while it
    /// waited, and could lose that race every time it is retried.
    /// A retry goes ahead of requests not yet sent: it has waited its turn
    /// once already, and under a server that refuses every Nth request a
    /// retry queued behind the same others each time could be refused
    /// each time.
    async fn send_once(&self, call: &Call, retry: bool) -> Result<(Reply, u64), String> {
        let slot = if retry { self.limiter.acquire_ahead().await } else { self.limiter.acquire().await };
        let (token, generation) = if call.auth {
            let s = self.session.lock().expect("session lock poisoned");
            (Some(s.token.clone()), s.generation)
        } else {
            (None, 0)
        };
        let token = token.as_ref();
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let mut req =
            self.http.request(call.method.clone(), call.url.clone()).header(header::ACCEPT, call.accept);
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(token.expose())
                .map_err(|_| "the session token is not a valid header value".to_string())?;
            value.set_sensitive(true);
            req = req.header(AUTH_HEADER, value);
        }
        if let Some(body) = &call.body {
            let kind = call.content_type.as_deref().unwrap_or("application/json");
            req = req.header(header::CONTENT_TYPE, kind).body(body.clone());
        }
        let path = call.url.path();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let message = describe(&e);
                tracing::debug!(method = %call.method, path, error = %message, "request failed");
                return Err(message);
            }
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await;
        let throttled = matches!(status.as_u16(), 429 | 503);
        self.limiter.observe(slot.sent, throttled, slot.sent.elapsed());
        drop(slot);
        match body {
            Ok(body) => {
                tracing::debug!(method = %call.method, path, status = status.as_u16(), "tableau request");
                Ok((Reply { status, headers, body: body.to_vec() }, generation))
            }
            Err(e) => {
                let message = format!("reading the response body: {}", describe(&e));
                tracing::debug!(method = %call.method, path, status = status.as_u16(), error = %message, "response body failed");
                Err(message)
            }
        }
    }

    async fn pause(&self, call: &Call, attempt: u32, retry_after: Option<Duration>, reason: &'static str) {
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
        let delay = self.policy.wait(attempt, retry_after, self.jitter());
        self.limiter.retried(delay);
        tracing::debug!(
            method = %call.method,
            path = call.url.path(),
            attempt,
            delay_ms = delay.as_millis() as u64,
            reason,
            "retrying"
        );
        tokio::time::sleep(delay).await;
    }

    /// A cheap draw in `[0, 1)`: the clock mixed with a counter.
    fn jitter(&self) -> f64 {
        let n = self.counters.jitter.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        retry::unit_from(nanos ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

/// How long a minted connected-app token lives; Tableau refuses more than
/// ten minutes.
const JWT_LIFETIME_SECS: i64 = 300;

/// A connected app's sign-in token (direct trust): HS256 over the app's
/// secret, `kid` the secret id, `iss` the client id, `aud` "tableau",
/// `sub` the user, a fresh `jti`, and the scopes (`scp`) the command needs.
fn mint_jwt(app: &ConnectedApp) -> Result<Secret, TableauError> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(app.secret_id.clone());
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).map_err(|e| TableauError::Config(format!("no random source for a token id: {e}")))?;
    let claims = serde_json::json!({
        "iss": app.client_id,
        "aud": "tableau",
        "sub": app.username,
        "exp": chrono::Utc::now().timestamp() + JWT_LIFETIME_SECS,
        "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "scp": app.scopes,
    });
    let key = jsonwebtoken::EncodingKey::from_secret(app.secret.expose().as_bytes());
    jsonwebtoken::encode(&header, &claims, &key)
        .map(Secret::new)
        .map_err(|e| TableauError::Config(format!("cannot mint a connected app token: {e}")))
}

/// A reqwest error and its causes on one line, without the URL.
fn describe(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() { "timed out".to_string() } else { String::new() };
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    let mut parts: Vec<String> = Vec::new();
    while let Some(err) = cur {
        let text = err.to_string();
        // reqwest's own line names the URL; the URL adds nothing the error's
        // path does not already say.
        let text = match text.split_once(" for url (") {
            Some((head, _)) => head.to_string(),
            None => text,
        };
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        cur = err.source();
    }
    if !out.is_empty() && !parts.is_empty() {
        out.push_str(": ");
    }
    out.push_str(&parts.join(": "));
    out
}

pub(crate) fn parse_json(path: &str, body: &[u8]) -> Result<Value, TableauError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body)
        .map_err(|e| TableauError::Decode { path: path.to_string(), message: format!("not JSON: {e}") })
}

/// A REST answer as a JSON-shaped tree: XML (what TRM asks for) through
/// [`super::xml`], or JSON if a server sent that instead. An empty body is
/// `null`.
pub(crate) fn parse_rest(path: &str, body: &[u8]) -> Result<Value, TableauError> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| body[i]) {
        None => Ok(Value::Null),
        Some(b'<') => super::xml::to_value(body)
            .map_err(|message| TableauError::Decode { path: path.to_string(), message: format!("bad XML: {message}") }),
        Some(_) => parse_json(path, body),
    }
}

/// The wait a response's `Retry-After` asks for. An HTTP date counts from
/// the response's `Date` (the server's clock), or the local clock without one.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let value = text(header::RETRY_AFTER)?;
    let now = text(header::DATE).and_then(crate::time::parse).unwrap_or_else(|| chrono::Utc::now().timestamp());
    retry::parse_retry_after(value, now)
}

fn http_error(call: &Call, reply: &Reply) -> TableauError {
    let (code, summary, detail) = error_body(&reply.body);
    TableauError::Http {
        method: call.method.to_string(),
        path: call.label.clone(),
        status: reply.status.as_u16(),
        code,
        summary,
        detail,
    }
}

/// Code, summary and detail of a Tableau error body: JSON
/// (`{"error":{"code","summary","detail"}}`), XML (`<error code><summary>
/// <detail>`), or GraphQL (`{"errors":[{"message"}]}`). Anything else gives a
/// short excerpt as the detail.
pub(crate) fn error_body(body: &[u8]) -> (Option<String>, Option<String>, Option<String>) {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return (None, None, None);
    }
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let s = |x: &Value| match x {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Object(o) => o.get("value").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        if v.get("error").is_some() {
            let e = &v["error"];
            return (s(&e["code"]), s(&e["summary"]), s(&e["detail"]));
        }
        if let Some(list) = v.get("errors").and_then(Value::as_array) {
            let messages: Vec<String> = list.iter().filter_map(|e| e["message"].as_str().map(str::to_string)).collect();
            return (None, None, (!messages.is_empty()).then(|| messages.join("; ")));
        }
    }
    if text.starts_with('<') {
        if let Ok(v) = super::xml::to_value(text.as_bytes()) {
            let e = &v["error"];
            if e.is_object() {
                let s = |x: &Value| x.as_str().map(str::to_string);
                return (s(&e["code"]), s(&e["summary"]), s(&e["detail"]));
            }
        }
    }
    let excerpt: String = text.chars().take(200).collect();
    (None, None, Some(excerpt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_in_every_shape() {
        let json = br#"{"error":{"code":"401002","summary":"Unauthorized Access","detail":"Invalid authentication credentials were provided."}}"#;
        assert_eq!(
            error_body(json),
            (
                Some("401002".into()),
                Some("Unauthorized Access".into()),
                Some("Invalid authentication credentials were provided.".into())
            )
        );
        let xml = b"<?xml version='1.0'?><tsResponse xmlns=\"http://tableau.com/api\"><error code=\"404003\"><summary>Resource Not Found</summary><detail>Unknown &apos;x&apos;</detail></error></tsResponse>";
        assert_eq!(
            error_body(xml),
            (Some("404003".into()), Some("Resource Not Found".into()), Some("Unknown 'x'".into()))
        );
        let gql = br#"{"errors":[{"message":"bad body"}]}"#;
        assert_eq!(error_body(gql), (None, None, Some("bad body".into())));
        assert_eq!(error_body(b"  "), (None, None, None));
        assert_eq!(error_body(b"<html>Bad Gateway</html>").2.as_deref(), Some("<html>Bad Gateway</html>"));
    }

    #[test]
    fn retry_after_in_either_form_reaches_the_retry_loop() {
        let headers = |pairs: &[(header::HeaderName, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
            }
            h
        };
        let seconds = headers(&[(header::RETRY_AFTER, "3")]);
        assert_eq!(retry_after(&seconds), Some(Duration::from_secs(3)));
        // Counted from the response's own Date, not the local clock.
        let dated = headers(&[
            (header::DATE, "Thu, 01 Jan 2026 12:00:00 GMT"),
            (header::RETRY_AFTER, "Thu, 01 Jan 2026 12:00:05 GMT"),
        ]);
        assert_eq!(retry_after(&dated), Some(Duration::from_secs(5)));
        // Without a Date, the local clock: a date long past asks for no wait.
        let past = headers(&[(header::RETRY_AFTER, "Sun, 06 Nov 1994 08:49:37 GMT")]);
        assert_eq!(retry_after(&past), Some(Duration::ZERO));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
