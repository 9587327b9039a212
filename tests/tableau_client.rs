//! TRM's Tableau clients against the simulated site over a loopback socket:
//! connecting, paged REST lists, retries under injected faults, session
//! expiry, Metadata API paging under the node limit, and that no secret or
//! session token ever reaches a log line or an error.
//!
//! The site is only a server here: nothing of its parsing or writing code is
//! used to check the clients.

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use trm::config::{Secret, Settings};
use trm::sim::faults::FaultPlan;
use trm::sim::{self, SimConfig, SimHandle};
use trm::tableau::metadata::{paginate, Paged};
use trm::tableau::queries::{self, *};
use trm::tableau::rest::list_all;
use trm::tableau::retry::RetryPolicy;
use trm::tableau::{Client, TableauError};

const SECRET: &str = "trm-sim-secret";

async fn start(config: SimConfig) -> SimHandle {
    sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("the simulated site starts")
}

fn config_with_faults(yaml: &str) -> SimConfig {
    SimConfig { faults: FaultPlan::from_yaml(yaml, "test plan").expect("plan parses"), ..SimConfig::default() }
}

fn settings(h: &SimHandle) -> Settings {
    settings_for(h.url())
}

fn settings_for(server: String) -> Settings {
    Settings {
        profile: "test".into(),
        server,
        site: "analytics".into(),
        api_version: None,
        token_name: "trm-sim".into(),
        token_secret: Secret::new(SECRET),
        auth: trm::config::Auth::Pat,
        concurrency: 4,
        max_concurrency: None,
        timeout: Duration::from_secs(10),
        db: PathBuf::from("unused.duckdb"),
        parquet: PathBuf::from("unused-parquet"),
    }
}

/// Short waits so failing sites do not slow the suite; `max_delay` still
/// honours the site's one-second `Retry-After`.
fn fast() -> RetryPolicy {
    RetryPolicy { max_attempts: 6, base_delay: Duration::from_millis(10), max_delay: Duration::from_secs(2), ..RetryPolicy::default() }
}

async fn connect(h: &SimHandle) -> Client {
    Client::connect_with(&settings(h), fast()).await.expect("connects")
}

/// Extraction streams run as `BoxFuture`s on a multi-threaded runtime.
fn assert_send<T: Send>(_: &T) {}
fn assert_send_sync<T: Send + Sync>(_: &T) {}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| i["id"].as_str().expect("every item has an id").to_string()).collect()
}

fn assert_unique(ids: &[String], what: &str) {
    let set: HashSet<&String> = ids.iter().collect();
    assert_eq!(set.len(), ids.len(), "{what}: duplicates");
}

/// The site-level lists an extraction reads, with their expected counts.
async fn list_everything(client: &Client, site: &sim::SimState) -> Result<(), TableauError> {
    let counts = site.manifest().counts;
    for (what, item, expected) in [
        ("workbooks", "workbook", counts.workbooks),
        ("views", "view", counts.views),
        ("datasources", "datasource", counts.datasources),
        ("users", "user", counts.users),
        ("groups", "group", counts.groups),
        ("projects", "project", counts.projects),
    ] {
        let items = list_all(client, &client.site_path(what), what, item, &[]).await?;
        assert_eq!(items.len(), expected, "{what}");
        assert_unique(&ids(&items), what);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Connecting

#[tokio::test]
async fn connect_discovers_the_version_and_signs_in() {
    let h = start(SimConfig::default()).await;
    let client = connect(&h).await;
    assert_eq!(client.api_version(), "3.27", "restApiVersion from serverinfo");
    assert_eq!(client.site_id(), h.state.data().site.id);
    assert_eq!(client.server(), h.url());
    assert_eq!(client.server_time(), h.state.now(), "the server's Date header, i.e. the simulated clock");
    assert_eq!(client.site_path("workbooks"), format!("sites/{}/workbooks", h.state.data().site.id));
    assert_eq!(client.stats().requests, 2, "serverinfo and sign-in");

    let pinned = Settings { api_version: Some("3.20".into()), ..settings(&h) };
    let client = Client::connect_with(&pinned, fast()).await.unwrap();
    assert_eq!(client.api_version(), "3.20");
    assert_eq!(client.stats().requests, 1, "no serverinfo when the version is configured");
    let site = client.get_json(&format!("sites/{}", client.site_id()), &[]).await.unwrap();
    assert_eq!(site["site"]["contentUrl"], "analytics");
    client.sign_out().await;
    assert_eq!(client.stats().requests, 3);
}

#[tokio::test]
async fn a_wrong_secret_names_server_and_site_but_not_the_secret() {
    let h = start(SimConfig::default()).await;
    let wrong = "wrong-sekret-XYZZY";
    let bad = Settings { token_secret: Secret::new(wrong), ..settings(&h) };
    let err = Client::connect_with(&bad, fast()).await.unwrap_err();
    assert!(matches!(err, TableauError::SignIn { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&h.url()) && msg.contains("site 'analytics'") && msg.contains("401001"), "{msg}");
    assert!(!msg.contains(wrong) && !format!("{err:?}").contains(wrong), "{msg}");

    let other_site = Settings { site: "finance".into(), ..settings(&h) };
    let msg = Client::connect_with(&other_site, fast()).await.unwrap_err().to_string();
    assert!(msg.contains("site 'finance'"), "{msg}");

    let nowhere = Settings { server: "http://127.0.0.1:9".into(), ..settings(&h) };
    let quick = RetryPolicy { max_attempts: 2, ..fast() };
    let err = Client::connect_with(&nowhere, quick).await.unwrap_err();
    assert!(matches!(err, TableauError::Transport { attempts: 2, .. }), "{err:?}");
    assert!(err.to_string().contains("GET /api/3.0/serverinfo"), "{err}");
}

// ---------------------------------------------------------------------------
// Paged REST lists

#[tokio::test]
async fn lists_match_the_small_site() {
    let h = start(SimConfig::default()).await;
    let client = connect(&h).await;
    assert_send_sync(&client);
    let listing = list_everything(&client, &h.state);
    assert_send(&listing);
    listing.await.unwrap();
    // Every list of the small site fits one page.
    assert_eq!(client.stats().requests, 2 + 6);
    assert_eq!(client.stats().retries, 0);

    let users =
        list_all(&client, &client.site_path("users"), "users", "user", &[("filter", "siteRole:eq:Creator".into())])
            .await
            .unwrap();
    assert!(!users.is_empty() && users.iter().all(|u| u["siteRole"] == "Creator"), "extra parameters are passed on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn medium_lists_fetch_pages_concurrently_in_page_order() {
    let h = start(SimConfig { size: trm::sim::dataset::Size::Medium, ..SimConfig::default() }).await;
    let client = connect(&h).await;
    let counts = h.state.manifest().counts;
    assert!(counts.views > 3000 && counts.users > 2000, "medium site: {} views, {} users", counts.views, counts.users);

    let views = list_all(&client, &client.site_path("views"), "views", "view", &[]).await.unwrap();
    assert_eq!(views.len(), counts.views);
    assert_unique(&ids(&views), "views");
    let pages = counts.views.div_ceil(1000) as u64;
    assert_eq!(client.stats().requests, 2 + pages, "serverinfo + sign-in + one request per page");

    // Page order: the same as reading the pages one after another.
    let mut sequential = Vec::new();
    for n in 1..=pages {
        let page = client
            .get_json(&client.site_path("views"), &[("pageSize", "1000".into()), ("pageNumber", n.to_string())])
            .await
            .unwrap();
        sequential.extend(ids(page["views"]["view"].as_array().unwrap()));
    }
    assert_eq!(ids(&views), sequential);

    let users = list_all(&client, &client.site_path("users"), "users", "user", &[]).await.unwrap();
    assert_eq!(users.len(), counts.users);
    assert_unique(&ids(&users), "users");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_per_session_cap_is_honoured_through_429_retries() {
    // The site lets one session have 2 requests in flight; the client sends
    // 4 at a time, so it is throttled, waits as told and still gets it all.
    let config = SimConfig {
        size: trm::sim::dataset::Size::Medium,
        max_concurrent_per_session: 2,
        latency: Duration::from_millis(30),
        ..SimConfig::default()
    };
    let h = start(config).await;
    let client = Client::connect_with(&settings(&h), RetryPolicy { max_attempts: 12, ..fast() }).await.unwrap();
    let views = list_all(&client, &client.site_path("views"), "views", "view", &[]).await.unwrap();
    assert_eq!(views.len(), h.state.manifest().counts.views);
    let stats = client.stats();
    assert!(stats.throttled > 0, "pages were in flight together: {stats:?}");
    assert_eq!(stats.retries, stats.throttled);

    // With one request at a time the cap is never reached.
    let serial = Settings { concurrency: 1, ..settings(&h) };
    let client = Client::connect_with(&serial, fast()).await.unwrap();
    let views = list_all(&client, &client.site_path("views"), "views", "view", &[]).await.unwrap();
    assert_eq!(views.len(), h.state.manifest().counts.views);
    assert_eq!(client.stats().throttled, 0);
}

// ---------------------------------------------------------------------------
// Retries

#[tokio::test]
async fn retries_every_other_503() {
    let h = start(config_with_faults("faults: [{kind: status, status: 503, every: 2}]")).await;
    let client = connect(&h).await;
    list_everything(&client, &h.state).await.unwrap();
    // serverinfo is request 1 of the fault's count; then each list's first
    // attempt is an even request (503) and its retry an odd one.
    let stats = client.stats();
    assert_eq!((stats.retries, stats.requests, stats.throttled), (6, 2 + 12, 0), "{stats:?}");
}

#[tokio::test]
async fn honours_retry_after_on_429() {
    let h = start(config_with_faults("faults: [{kind: status, status: 429, retry_after_secs: 1, every: 3}]")).await;
    let client = connect(&h).await;
    let started = Instant::now();
    list_everything(&client, &h.state).await.unwrap();
    let stats = client.stats();
    assert!(stats.throttled >= 2 && stats.retries == stats.throttled, "{stats:?}");
    assert!(started.elapsed() >= Duration::from_secs(stats.throttled), "waited Retry-After each time");
}

#[tokio::test]
async fn retries_dropped_connections_and_truncated_bodies() {
    let h = start(config_with_faults("faults: [{kind: drop, every: 3}, {kind: truncate, at: [2, 5]}]")).await;
    let client = connect(&h).await;
    list_everything(&client, &h.state).await.unwrap();
    let stats = client.stats();
    assert!(stats.retries >= 3, "{stats:?}");

    let h = start(config_with_faults("faults: [{kind: truncate, at: [1], api: metadata}]")).await;
    let client = connect(&h).await;
    let fields = all_fields(&client, 1000).await.unwrap();
    assert_eq!(fields.nodes.len(), h.state.manifest().counts.fields);
    assert!(client.stats().retries >= 1, "truncated GraphQL bodies are retried");
}

#[tokio::test]
async fn a_slow_response_times_out_and_is_retried() {
    let h = start(config_with_faults("faults: [{kind: slow, delay_ms: 1500, at: [2]}]")).await;
    let quick = Settings { timeout: Duration::from_millis(700), ..settings(&h) };
    let client = Client::connect_with(&quick, fast()).await.unwrap();
    let workbooks = list_all(&client, &client.site_path("workbooks"), "workbooks", "workbook", &[]).await.unwrap();
    assert_eq!(workbooks.len(), h.state.manifest().counts.workbooks);
    assert_eq!(client.stats().retries, 1, "the request after serverinfo waited too long");
}

#[tokio::test]
async fn gives_up_after_the_last_attempt_and_names_the_path() {
    let h = start(config_with_faults(
        "faults: [{kind: status, status: 500, path: /workbooks}, {kind: drop, path: /users}]",
    ))
    .await;
    let client = connect(&h).await;
    let before = client.stats();
    let err = list_all(&client, &client.site_path("workbooks"), "workbooks", "workbook", &[]).await.unwrap_err();
    match &err {
        TableauError::Http { method, path, status: 500, code, .. } => {
            assert_eq!(method, "GET");
            assert!(path.contains(&format!("/sites/{}/workbooks", client.site_id())), "{path}");
            assert_eq!(code.as_deref(), Some("500000"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().starts_with("GET /api/3.27/sites/"), "{err}");
    let after = client.stats();
    assert_eq!(after.requests - before.requests, 6, "max_attempts requests");
    assert_eq!(after.retries - before.retries, 5);

    let err = list_all(&client, &client.site_path("users"), "users", "user", &[]).await.unwrap_err();
    assert!(matches!(err, TableauError::Transport { attempts: 6, .. }), "{err:?}");
    assert!(err.to_string().contains("/users"), "{err}");

    let err = client.get_json(&client.site_path("nonsense"), &[]).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(404), Some("404003")), "{err}");
}

// ---------------------------------------------------------------------------
// Session expiry

#[tokio::test]
async fn signs_in_again_when_the_session_expires() {
    let h = start(config_with_faults("faults: [{kind: expire_session, after_requests: 3}]")).await;
    let client = connect(&h).await;
    list_everything(&client, &h.state).await.unwrap();
    let fields = all_fields(&client, 1000).await.unwrap();
    assert_eq!(fields.nodes.len(), h.state.manifest().counts.fields);
    assert!(client.stats().reauthentications >= 2, "{:?}", client.stats());
}

#[tokio::test]
async fn stops_signing_in_when_no_session_works() {
    // Every session ends on its first request: signing in cannot help.
    let h = start(config_with_faults("faults: [{kind: expire_session, after_requests: 0}]")).await;
    let client = connect(&h).await;
    let err = list_all(&client, &client.site_path("workbooks"), "workbooks", "workbook", &[]).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(401), Some("401002")), "{err}");
    assert!(err.to_string().contains("/workbooks"), "{err}");
    assert_eq!(client.stats().reauthentications, trm::tableau::transport::MAX_BARREN_SIGN_INS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_share_one_sign_in() {
    let config = SimConfig {
        size: trm::sim::dataset::Size::Medium,
        faults: FaultPlan::from_yaml("faults: [{kind: expire_session, after_requests: 3}]", "plan").unwrap(),
        ..SimConfig::default()
    };
    let h = start(config).await;
    let client = connect(&h).await;
    let views = list_all(&client, &client.site_path("views"), "views", "view", &[]).await.unwrap();
    assert_eq!(views.len(), h.state.manifest().counts.views);
    let users = list_all(&client, &client.site_path("users"), "users", "user", &[]).await.unwrap();
    assert_eq!(users.len(), h.state.manifest().counts.users);
    let stats = client.stats();
    assert!(stats.reauthentications >= 2, "{stats:?}");
}

// ---------------------------------------------------------------------------
// The Metadata API

async fn all_fields(client: &Client, first: i64) -> Result<Paged<fields::FieldsFieldsConnectionNodes>, TableauError> {
    paginate::<Fields, _>(
        client,
        first,
        |first, after| fields::Variables { first: Some(first), after, offset: None },
        |d| {
            let c = d.fields_connection;
            (c.nodes, c.page_info.end_cursor, c.page_info.has_next_page)
        },
    )
    .await
}

fn field_ids(p: &Paged<fields::FieldsFieldsConnectionNodes>) -> Vec<String> {
    p.nodes.iter().map(|n| n.id.clone()).collect()
}

#[tokio::test]
async fn pages_through_every_field() {
    let h = start(SimConfig::default()).await;
    let client = connect(&h).await;
    let expected = h.state.manifest().counts.fields;
    let paging = all_fields(&client, 1000);
    assert_send(&paging);
    let p = paging.await.unwrap();
    assert_eq!(p.nodes.len(), expected);
    assert_unique(&field_ids(&p), "fields");
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.requests as usize, expected.div_ceil(1000).max(1));
    assert_eq!(client.stats().requests, 2 + p.requests as u64);

    // Every kind of field decodes into its variant.
    use fields::FieldsFieldsConnectionNodesOn as On;
    let calcs = p.nodes.iter().filter(|n| matches!(n.on, On::CalculatedField(_))).count();
    let columns = p.nodes.iter().filter(|n| matches!(n.on, On::ColumnField(_))).count();
    let kinds = &h.state.manifest().counts.fields_by_kind;
    assert_eq!(calcs, kinds.get("CalculatedField").copied().unwrap_or(0), "{kinds:?}");
    assert_eq!(columns, kinds.get("ColumnField").copied().unwrap_or(0), "{kinds:?}");
    assert!(p.nodes.iter().all(|n| n.datasource.is_some()));
}

#[tokio::test]
async fn shrinks_pages_over_the_node_limit_and_never_keeps_a_partial_one() {
    let mut config = SimConfig::default();
    config.metadata.node_limit = 300;
    let h = start(config).await;
    let client = connect(&h).await;
    let expected = h.state.manifest().counts.fields;
    let p = all_fields(&client, 1000).await.unwrap();
    assert_eq!(p.nodes.len(), expected, "every field exactly once");
    assert_unique(&field_ids(&p), "fields");
    assert!(p.requests as usize > expected.div_ceil(300), "smaller pages, more requests: {}", p.requests);
    assert!(p.warnings.is_empty(), "NODE_LIMIT_EXCEEDED is not a warning: {:?}", p.warnings);

    // A limit no page can meet is an error once pages reach the floor.
    let mut config = SimConfig::default();
    config.metadata.node_limit = 5;
    let h = start(config).await;
    let client = connect(&h).await;
    let err = all_fields(&client, 1000).await.unwrap_err();
    assert!(
        matches!(err, TableauError::NodeLimitExceeded { ref query, node_limit: Some(5) } if query == "Fields"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_node_limit_fault_on_the_operation_is_survived() {
    let h = start(config_with_faults("faults: [{kind: node_limit, operations: [Fields], limit: 200}]")).await;
    let client = connect(&h).await;
    let expected = h.state.manifest().counts.fields;
    let p = all_fields(&client, 1000).await.unwrap();
    assert_eq!(p.nodes.len(), expected);
    assert_unique(&field_ids(&p), "fields");
    assert!(p.requests as usize > expected.div_ceil(1000));
    // Other operations are not limited.
    let d = all_dashboards(&client).await.unwrap();
    assert_eq!(d.requests as usize, h.state.manifest().counts.metadata_dashboards.div_ceil(1000).max(1));
}

#[tokio::test]
async fn a_capped_page_size_is_a_warning() {
    let mut config = SimConfig::default();
    config.metadata.max_page_size = 50;
    let h = start(config).await;
    let client = connect(&h).await;
    let expected = h.state.manifest().counts.fields;
    let p = all_fields(&client, 1000).await.unwrap();
    assert_eq!(p.nodes.len(), expected);
    assert_unique(&field_ids(&p), "fields");
    assert_eq!(p.warnings.len(), 1, "reported once: {:?}", p.warnings);
    assert!(p.warnings[0].starts_with("MAX_PAGE_SIZE_EXCEEDED: "), "{:?}", p.warnings);
    assert_eq!(p.requests as usize, expected.div_ceil(50));
}

#[tokio::test]
async fn graphql_errors_name_the_query() {
    let mut config = SimConfig::default();
    config.metadata.cost_budget = 50;
    let h = start(config).await;
    let client = connect(&h).await;
    let err = client
        .graphql::<Fields>(fields::Variables { first: Some(10), after: Some("not-a-cursor".into()), offset: None })
        .await
        .unwrap_err();
    match &err {
        TableauError::GraphQL { query, messages } => {
            assert_eq!(query, "Fields");
            assert!(messages.iter().any(|m| m.starts_with("INVALID_ARGUMENT: ")), "{messages:?}");
        }
        other => panic!("{other:?}"),
    }
    let err = client.graphql::<Fields>(fields::Variables { first: Some(1000), after: None, offset: None }).await.unwrap_err();
    assert!(matches!(err, TableauError::QueryTimeout { ref query, .. } if query == "Fields"), "{err:?}");
}

async fn all_dashboards(
    client: &Client,
) -> Result<Paged<dashboards::DashboardsDashboardsConnectionNodes>, TableauError> {
    paginate::<Dashboards, _>(
        client,
        queries::START_FIRST,
        |first, after| dashboards::Variables { first: Some(first), after, offset: None },
        |d| {
            let c = d.dashboards_connection;
            (c.nodes, c.page_info.end_cursor, c.page_info.has_next_page)
        },
    )
    .await
}

/// Pages through one query and returns its node ids.
macro_rules! page_ids {
    ($client:expr, $q:ident, $module:ident, $conn:ident, $id:expr) => {{
        let p = paginate::<$q, _>(
            $client,
            queries::START_FIRST,
            |first, after| $module::Variables { first: Some(first), after, offset: None },
            |d| {
                let c = d.$conn;
                (c.nodes, c.page_info.end_cursor, c.page_info.has_next_page)
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", stringify!($q)));
        assert!(p.warnings.is_empty(), "{}: {:?}", stringify!($q), p.warnings);
        let ids: Vec<String> = p.nodes.iter().map($id).collect();
        assert_unique(&ids, stringify!($q));
        (ids, p.nodes)
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_decodes_and_counts_match_the_site() {
    let h = start(SimConfig::default()).await;
    let client = connect(&h).await;
    let c = h.state.manifest().counts;

    let (ids, nodes) = page_ids!(&client, Dashboards, dashboards, dashboards_connection, |n| n.id.clone());
    assert_eq!(ids.len(), c.metadata_dashboards);
    assert!(nodes.iter().all(|n| n.workbook.as_ref().is_some_and(|w| !w.luid.is_empty())));
    let (ids, _) = page_ids!(&client, Sheets, sheets, sheets_connection, |n| n.id.clone());
    assert_eq!(ids.len(), c.metadata_sheets);
    let (ids, nodes) =
        page_ids!(&client, PublishedDatasources, published_datasources, published_datasources_connection, |n| n
            .id
            .clone());
    assert_eq!(ids.len(), c.datasources);
    assert!(nodes.iter().all(|n| !n.luid.is_empty() && !n.owner.luid.is_empty()));
    let (ids, _) =
        page_ids!(&client, EmbeddedDatasources, embedded_datasources, embedded_datasources_connection, |n| n
            .id
            .clone());
    assert_eq!(ids.len(), c.embedded_datasources);
    let (ids, _) = page_ids!(&client, DatabaseServers, database_servers, database_servers_connection, |n| n.id.clone());
    assert_eq!(ids.len(), c.databases);
    let (ids, _) = page_ids!(&client, DatabaseTables, database_tables, database_tables_connection, |n| n.id.clone());
    assert_eq!(ids.len(), c.database_tables);
    let (ids, nodes) =
        page_ids!(&client, CustomSqlTables, custom_sql_tables, custom_sql_tables_connection, |n| n.id.clone());
    assert_eq!(ids.len(), c.custom_sql_tables);
    assert!(nodes.iter().all(|n| n.query.as_deref().is_some_and(|q| !q.is_empty())));
    let (ids, nodes) = page_ids!(&client, Columns, columns, columns_connection, |n| n.id.clone());
    assert_eq!(ids.len(), c.columns);
    assert!(nodes.iter().all(|n| n.table.is_some()));
    let (ids, nodes) =
        page_ids!(&client, DataQualityWarnings, data_quality_warnings, data_quality_warnings_connection, |n| n
            .id
            .clone());
    assert_eq!(ids.len(), c.data_quality_warnings);
    assert!(nodes.iter().all(|n| n.asset.is_some()));
}

// ---------------------------------------------------------------------------
// Secrets

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Serves a site with a layer that records every `X-Tableau-Auth` token it
/// is sent, so the test knows the session tokens to look for. Returns the
/// site's URL and state.
async fn start_recording(config: SimConfig) -> (String, Arc<sim::SimState>, Arc<Mutex<HashSet<String>>>) {
    let tokens: Arc<Mutex<HashSet<String>>> = Arc::default();
    let state = tokio::task::spawn_blocking(move || sim::SimState::new(config)).await.unwrap();
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let _ = state.base_url.set(url.clone());
    let seen = tokens.clone();
    let router = sim::app(state.clone()).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            if let Some(t) = req.headers().get("x-tableau-auth").and_then(|v| v.to_str().ok()) {
                seen.lock().unwrap().insert(t.to_string());
            }
            next.run(req)
        },
    ));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, state, tokens)
}

#[tokio::test]
async fn no_secret_or_token_in_logs_or_errors() {
    use tracing_subscriber::util::SubscriberInitExt as _;
    let secret = "sekret-XYZZY-123";
    let captured = Captured::default();
    let writer = captured.clone();
    let _guard = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish()
        .set_default();
    // Other tests in this binary reach the same log callsites on other
    // threads, where no subscriber is set. One of them registering a callsite
    // while this subscriber is being set can leave "never" cached for it (a
    // tracing-core race), and then this test captures nothing. Rebuilding the
    // cache once this subscriber is in place, and again once the sign-in has
    // registered the client's callsites, makes its interest count.
    tracing::callsite::rebuild_interest_cache();

    let config = SimConfig {
        pat_secret: secret.into(),
        faults: FaultPlan::from_yaml(
            "faults: [{kind: expire_session, after_requests: 4}, {kind: status, status: 503, every: 5}, {kind: truncate, at: [3]}]",
            "plan",
        )
        .unwrap(),
        ..SimConfig::default()
    };
    let (url, state, tokens) = start_recording(config).await;
    let good = Settings { token_secret: Secret::new(secret), ..settings_for(url.clone()) };
    let mut errors: Vec<String> = Vec::new();

    let client = Client::connect_with(&good, fast()).await.unwrap();
    tracing::callsite::rebuild_interest_cache();
    list_everything(&client, &state).await.unwrap();
    let fields = all_fields(&client, 1000).await.unwrap();
    assert_eq!(fields.nodes.len(), state.manifest().counts.fields);
    for e in [
        client.get_json(&client.site_path("nonsense"), &[]).await.unwrap_err(),
        client.graphql::<Fields>(fields::Variables { first: Some(1), after: Some("bad".into()), offset: None }).await.unwrap_err(),
    ] {
        errors.push(format!("{e} | {e:?}"));
    }
    errors.push(format!("{client:?} {:?} {good:?}", client.stats()));
    client.sign_out().await;
    assert!(client.stats().reauthentications >= 1, "{:?}", client.stats());

    let bad = Settings { token_secret: Secret::new(format!("{secret}-wrong")), ..settings_for(url) };
    let e = Client::connect_with(&bad, fast()).await.unwrap_err();
    errors.push(format!("{e} | {e:?}"));

    let logs = captured.text();
    assert!(logs.contains("tableau request"), "debug request logs were captured");
    let tokens = tokens.lock().unwrap().clone();
    assert!(tokens.len() >= 2, "sessions seen: {}", tokens.len());
    for needle in std::iter::once(secret.to_string()).chain(tokens) {
        assert!(!logs.contains(&needle), "a secret or token is in the logs");
        for e in &errors {
            assert!(!e.contains(&needle), "a secret or token is in an error: {e}");
        }
    }
}
