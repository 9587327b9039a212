//! Every site of a server in one warehouse: a three-site simulated server
//! extracts into one warehouse in one run, each site's rows equal its own
//! ground truth, the views show every site, a later run of one site
//! changes only that site's rows, a site that fails leaves the others
//! committed and its own previous rows visible; the server side
//! (`GET sites`, `auth/switchSite`, the site-scoped token, the Metadata API
//! per site) and connected-app sessions side by side.
//!
//! Ground truth comes from each site's dataset model (`SimState::data()`,
//! `manifest()`), never from TRM.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use duckdb::Connection;
use trm::config::{Auth, ConnectedApp, Secret, Settings, READ_SCOPES};
use trm::extract::{self, Options, Quiet, Sites};
use trm::sim::faults::{Fault, FaultKind, FaultPlan};
use trm::sim::{self, SimConfig, SimHandle, SimState};
use trm::warehouse::read;

#[path = "support/site.rs"]
mod site;
use site::{scratch, settings};

const SITES: [&str; 3] = ["analytics", "finance", "ops"];

fn three_sites() -> SimConfig {
    SimConfig { sites: SITES.iter().map(|s| s.to_string()).collect(), ..SimConfig::default() }
}

async fn start(config: SimConfig) -> SimHandle {
    sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("site starts")
}

fn options() -> Options {
    Options { only: Vec::new(), parquet: true }
}

async fn extract_sites(settings: &Settings, sites: &Sites) -> extract::Outcome {
    extract::run_sites(settings, sites, &options(), Arc::new(Quiet)).await.expect("the run commits")
}

fn named(names: &[&str]) -> Sites {
    Sites::Named(names.iter().map(|s| s.to_string()).collect())
}

fn site_of(handle: &SimHandle, content_url: &str) -> Arc<SimState> {
    handle.state.site(content_url).unwrap_or_else(|| panic!("the server has site {content_url}"))
}

fn luid(handle: &SimHandle, content_url: &str) -> String {
    site_of(handle, content_url).data().site.id.clone()
}

fn query_i64(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Rows of each view (latest per site) for one site.
fn view_rows(conn: &Connection, table: &str, site_luid: &str) -> i64 {
    query_i64(conn, &format!("SELECT count(*) FROM {table} WHERE site_luid = '{site_luid}'"))
}

/// What the views must hold for a site, from its manifest.
fn expected(st: &SimState) -> BTreeMap<&'static str, i64> {
    let c = st.manifest().counts;
    BTreeMap::from([
        ("projects", c.projects as i64),
        ("workbooks", c.workbooks as i64),
        ("views", c.views as i64),
        ("datasources", c.datasources as i64),
        ("users", c.users as i64),
        ("groups", c.groups as i64),
        ("group_memberships", c.group_memberships as i64),
        ("extract_tasks", c.extract_refresh_tasks as i64),
        ("sheets", c.sheets as i64),
        ("dashboards", c.dashboards as i64),
        ("sites", 1),
    ])
}

fn actual(conn: &Connection, site_luid: &str) -> BTreeMap<&'static str, i64> {
    let tables = ["projects", "workbooks", "views", "datasources", "users", "groups", "group_memberships", "extract_tasks", "sheets", "dashboards", "sites"];
    tables.into_iter().map(|t| (t, view_rows(conn, t, site_luid))).collect()
}

/// `view_luid → total_view_count` of one site in the `views` view.
fn view_counts(conn: &Connection, site_luid: &str) -> BTreeMap<String, i64> {
    let mut stmt = conn
        .prepare(&format!("SELECT view_luid, total_view_count FROM views WHERE site_luid = '{site_luid}'"))
        .unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

/// The same from the dataset model on `day`.
fn model_view_counts(st: &SimState, day: i64) -> BTreeMap<String, i64> {
    let d = st.data();
    d.views.iter().map(|v| (v.id.clone(), v.usage.total_at(day) as i64)).collect()
}

fn run_sites_rows(conn: &Connection, run_id: &str) -> Vec<(String, String)> {
    let mut stmt = conn
        .prepare("SELECT content_url, status FROM run_sites WHERE run_id = ? ORDER BY content_url")
        .unwrap();
    let rows = stmt.query_map([run_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

fn open(db: &Path) -> Connection {
    read::open(db).expect("the warehouse opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_sites_extract_into_one_warehouse_and_one_site_is_refreshed_alone() {
    let handle = start(three_sites()).await;
    let dir = scratch("multisite-three");
    let settings = settings(&handle, &dir);

    // The sites differ in content and size, from the seed and their names.
    let counts: Vec<usize> = SITES.iter().map(|s| site_of(&handle, s).data().workbooks.len()).collect();
    assert!(counts[0] != counts[1] || counts[1] != counts[2], "sites of one server should differ: {counts:?}");
    assert_ne!(luid(&handle, "analytics"), luid(&handle, "finance"));

    // A personal access token reads them in turn, switching site.
    let first = extract_sites(&settings, &named(&SITES)).await;
    assert_eq!(first.sites.len(), 3);
    assert!(first.sites.iter().all(|s| s.error.is_none()), "{:?}", first.sites);
    {
        let conn = open(&settings.db);
        for s in SITES {
            let st = site_of(&handle, s);
            let id = st.data().site.id.clone();
            assert_eq!(actual(&conn, &id), expected(&st), "site {s}");
            assert_eq!(view_counts(&conn, &id), model_view_counts(&st, 0), "site {s}: views and their counts");
        }
        // The views hold the three sites and nothing else.
        let total: i64 = SITES.iter().map(|s| expected(&site_of(&handle, s))["workbooks"]).sum();
        assert_eq!(query_i64(&conn, "SELECT count(*) FROM workbooks"), total);
        assert_eq!(query_i64(&conn, "SELECT count(DISTINCT site_luid) FROM views"), 3);
        let sites: Vec<(String, String)> = run_sites_rows(&conn, &first.run_id);
        assert_eq!(
            sites,
            SITES.iter().map(|s| (s.to_string(), "succeeded".to_string())).collect::<Vec<_>>()
        );
    }
    // Lineage reads every site; names may carry their site.
    {
        let conn = open(&settings.db);
        let run = read::resolve_run(&conn, &settings.db, None).unwrap();
        let (graph, _) = trm::lineage::load(&conn, &settings.db, &run).expect("the lineage loads");
        let finance = site_of(&handle, "finance");
        let (wb_id, wb_name) = {
            let d = finance.data();
            (d.workbooks[0].id.clone(), d.workbooks[0].name.clone())
        };
        for typed in [format!("finance:workbook:{wb_name}"), format!("finance:{wb_name}"), format!("FINANCE:workbook:\"{wb_name}\"")] {
            let ix = graph.find(&typed).unwrap_or_else(|e| panic!("{typed}: {e}"));
            assert_eq!(&*graph.node(ix).id, wb_id.as_str(), "{typed}");
            assert_eq!(graph.site_of(ix), Some("finance"));
        }
        // Every site has a Default project: unqualified, the name is ambiguous.
        let e = graph.find("project:Default").err().expect("three Default projects").to_string();
        assert!(SITES.iter().all(|s| e.contains(&format!("on site {s}"))), "{e}");
        let ix = graph.find("ops:project:Default").unwrap();
        assert_eq!(graph.site_of(ix), Some("ops"));
        assert!(graph.find("nowhere:project:Default").is_err());
    }
    // Parquet is partitioned by site.
    for s in SITES {
        let dir = settings.parquet.join("workbooks").join(format!("site={s}"));
        assert!(dir.is_dir(), "{} is missing", dir.display());
    }

    // Ten days later only finance is read again (a one-site run).
    handle.state.set_day(10);
    let finance = Settings { site: "finance".into(), ..settings.clone() };
    let second = extract::run(&finance, &options(), Arc::new(Quiet)).await.expect("finance alone commits");
    assert_eq!(second.sites.len(), 1);
    let conn = open(&settings.db);
    for s in SITES {
        let st = site_of(&handle, s);
        let id = st.data().site.id.clone();
        let day = if s == "finance" { 10 } else { 0 };
        assert_eq!(view_counts(&conn, &id), model_view_counts(&st, day), "site {s} after finance's run");
        assert_eq!(actual(&conn, &id), expected(&st), "site {s} after finance's run");
    }
    let changed = model_view_counts(&site_of(&handle, "finance"), 10) != model_view_counts(&site_of(&handle, "finance"), 0);
    assert!(changed, "ten days of usage should change finance's counts");
    assert_eq!(run_sites_rows(&conn, &second.run_id), vec![("finance".to_string(), "succeeded".to_string())]);
    // The history keeps both runs of finance.
    let finance_id = luid(&handle, "finance");
    assert_eq!(
        query_i64(&conn, &format!("SELECT count(DISTINCT run_id) FROM hist_views WHERE site_luid = '{finance_id}'")),
        2
    );
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_site_keeps_its_previous_rows_and_the_others_commit() {
    let dir = scratch("multisite-fault");
    // Day 0: every site, listed by the server (the PAT's user administers it).
    let clean = start(three_sites()).await;
    let ops = luid(&clean, "ops");
    let first = extract_sites(&settings(&clean, &dir), &Sites::All).await;
    assert_eq!(first.sites.iter().map(|s| s.content_url.as_str()).collect::<Vec<_>>(), SITES);
    clean.stop().await;

    // Day 7, the same server (same seed), but every workbook list of ops
    // answers 403: a permanent error, so the ops site fails.
    let fault = Fault::new(FaultKind::Status { status: 403, retry_after_secs: None }).path(format!("/sites/{ops}/workbooks"));
    let handle = start(SimConfig { day: 7, faults: FaultPlan::new(0, vec![fault]), ..three_sites() }).await;
    assert_eq!(luid(&handle, "ops"), ops, "the same seed gives the same sites");
    let settings = settings(&handle, &dir);
    let second = extract_sites(&settings, &Sites::All).await;
    let failed: Vec<&str> = second.failed_sites().map(|s| s.content_url.as_str()).collect();
    assert_eq!(failed, vec!["ops"]);
    assert!(second.sites.iter().find(|s| s.content_url == "ops").unwrap().error.as_deref().unwrap().contains("403"));

    let conn = open(&settings.db);
    assert_eq!(
        run_sites_rows(&conn, &second.run_id),
        vec![
            ("analytics".to_string(), "succeeded".to_string()),
            ("finance".to_string(), "succeeded".to_string()),
            ("ops".to_string(), "failed".to_string()),
        ]
    );
    // None of the failed site's rows of the run were kept.
    assert_eq!(
        query_i64(&conn, &format!("SELECT count(*) FROM hist_users WHERE run_id = '{}' AND site_luid = '{ops}'", second.run_id)),
        0
    );
    assert!(!settings.parquet.join("users").join("site=ops").join(format!("snapshot_date={}", trm::warehouse::snapshot_date(trm::sim::dataset::day_start(7)))).exists());
    for s in SITES {
        let st = site_of(&handle, s);
        let id = st.data().site.id.clone();
        // The failed site shows day 0's rows, the others day 7's.
        let day = if s == "ops" { 0 } else { 7 };
        assert_eq!(view_counts(&conn, &id), model_view_counts(&st, day), "site {s}");
        assert_eq!(actual(&conn, &id), expected(&st), "site {s}");
    }
    handle.stop().await;
}

/// What a raw client sees of the server's sites.
struct Raw {
    http: reqwest::Client,
    base: String,
}

impl Raw {
    async fn post(&self, path: &str, token: Option<&str>, body: serde_json::Value) -> (u16, serde_json::Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).header("Accept", "application/json").json(&body);
        if let Some(t) = token {
            req = req.header("X-Tableau-Auth", t);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or_default())
    }

    async fn get(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("Accept", "application/json")
            .header("X-Tableau-Auth", token)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or_default())
    }
}

fn credentials(v: &serde_json::Value) -> (String, String) {
    let c = &v["credentials"];
    (c["token"].as_str().unwrap().to_string(), c["site"]["id"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_site_scoped_and_switch_site_moves_them() {
    let handle = start(three_sites()).await;
    let raw = Raw { http: reqwest::Client::new(), base: format!("{}/api/3.27", handle.url()) };
    let c = &handle.state.config;
    let pat = |site: &str| {
        serde_json::json!({"credentials": {"personalAccessTokenName": c.pat_name, "personalAccessTokenSecret": c.pat_secret, "site": {"contentUrl": site}}})
    };
    let (analytics, finance) = (luid(&handle, "analytics"), luid(&handle, "finance"));

    // Signing in names the site; the token is for that site only.
    let (status, body) = raw.post("/auth/signin", None, pat("finance")).await;
    assert_eq!(status, 200, "{body}");
    let (token, site) = credentials(&body);
    assert_eq!(site, finance);
    let (status, body) = raw.get(&format!("/sites/{analytics}/workbooks"), &token).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "403000", "{body}");
    let (status, body) = raw.get(&format!("/sites/{finance}/workbooks?pageSize=1000"), &token).await;
    assert_eq!(status, 200, "{body}");
    let finance_workbooks = site_of(&handle, "finance").data().workbooks.len();
    assert_eq!(body["workbooks"]["workbook"].as_array().map_or(0, Vec::len), finance_workbooks);

    // A server administrator lists every site.
    let (status, body) = raw.get("/sites", &token).await;
    assert_eq!(status, 200, "{body}");
    let mut listed: Vec<&str> = body["sites"]["site"].as_array().unwrap().iter().map(|s| s["contentUrl"].as_str().unwrap()).collect();
    listed.sort_unstable();
    assert_eq!(listed, SITES);

    // switchSite: a new token on the other site; the old one is over.
    let (status, body) = raw.post("/auth/switchSite", Some(&token), serde_json::json!({"site": {"contentUrl": "analytics"}})).await;
    assert_eq!(status, 200, "{body}");
    let (switched, site) = credentials(&body);
    assert_eq!(site, analytics);
    assert_eq!(raw.get(&format!("/sites/{finance}/workbooks"), &token).await.0, 401);
    assert_eq!(raw.get(&format!("/sites/{finance}/workbooks"), &switched).await.0, 403);
    let (status, body) = raw.get(&format!("/sites/{analytics}/workbooks?pageSize=1000"), &switched).await;
    assert_eq!(status, 200);
    let analytics_workbooks = site_of(&handle, "analytics").data().workbooks.len();
    assert_eq!(body["workbooks"]["workbook"].as_array().map_or(0, Vec::len), analytics_workbooks);
    // An unknown site is not found.
    let (status, _) = raw.post("/auth/switchSite", Some(&switched), serde_json::json!({"site": {"contentUrl": "nowhere"}})).await;
    assert_eq!(status, 404);

    // The Metadata API answers for the session's site.
    let gql = |token: String| {
        let http = raw.http.clone();
        let url = format!("{}/api/metadata/graphql", handle.url());
        async move {
            let resp = http
                .post(url)
                .header("X-Tableau-Auth", token)
                .json(&serde_json::json!({"query": "query Workbooks { workbooks { luid } }"}))
                .send()
                .await
                .unwrap();
            let v: serde_json::Value = resp.json().await.unwrap();
            v["data"]["workbooks"].as_array().map_or(usize::MAX, Vec::len)
        }
    };
    assert_eq!(gql(switched.clone()).await, analytics_workbooks);
    let (_, body) = raw.post("/auth/signin", None, pat("finance")).await;
    assert_eq!(gql(credentials(&body).0).await, finance_workbooks);

    // A connected app's session belongs to its site: no switching.
    let app = &c.connected_app;
    let settings = jwt_settings(&handle, &scratch("multisite-raw"));
    let Auth::Jwt(ref jwt_app) = settings.auth else { unreachable!() };
    assert_eq!(jwt_app.client_id, app.client_id);
    let jwt = mint(jwt_app);
    let (status, body) =
        raw.post("/auth/signin", None, serde_json::json!({"credentials": {"jwt": jwt, "site": {"contentUrl": "ops"}}})).await;
    assert_eq!(status, 200, "{body}");
    let (jwt_token, site) = credentials(&body);
    assert_eq!(site, luid(&handle, "ops"));
    let (status, body) = raw.post("/auth/switchSite", Some(&jwt_token), serde_json::json!({"site": {"contentUrl": "finance"}})).await;
    assert_eq!(status, 403, "{body}");
    handle.stop().await;
}

/// A connected-app token, minted here (not by TRM) for the raw client.
fn mint(app: &ConnectedApp) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(app.secret_id.clone());
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let claims = serde_json::json!({
        "iss": app.client_id, "aud": "tableau", "sub": app.username,
        "exp": nanos.as_secs() + 300, "jti": format!("multisite-{}", nanos.as_nanos()), "scp": app.scopes,
    });
    jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(app.secret.expose().as_bytes())).unwrap()
}

fn jwt_settings(handle: &SimHandle, dir: &Path) -> Settings {
    let app = &handle.state.config.connected_app;
    let username = handle.state.data().users[0].name.clone();
    Settings {
        token_name: String::new(),
        token_secret: Secret::new(""),
        auth: Auth::Jwt(ConnectedApp {
            client_id: app.client_id.clone(),
            secret_id: app.secret_id.clone(),
            username,
            secret: Secret::new(app.secret.clone()),
            scopes: READ_SCOPES.iter().map(|s| s.to_string()).collect(),
        }),
        ..settings(handle, dir)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_app_reads_the_sites_side_by_side() {
    let handle = start(three_sites()).await;
    let dir = scratch("multisite-jwt");
    let settings = jwt_settings(&handle, &dir);
    handle.state.calls.clear();
    let out = extract_sites(&settings, &named(&SITES)).await;
    assert!(out.sites.iter().all(|s| s.error.is_none()), "{:?}", out.sites);
    // No session was switched: each site had a sign-in of its own.
    assert!(
        !handle.state.calls.snapshot().iter().any(|c| c.path.contains("switchSite")),
        "a connected app cannot switch site"
    );
    let conn = open(&settings.db);
    for s in SITES {
        let st = site_of(&handle, s);
        let id = st.data().site.id.clone();
        assert_eq!(actual(&conn, &id), expected(&st), "site {s}");
    }
    handle.stop().await;
}

/// `SELECT col FROM findings WHERE …` of one site, sorted.
fn finding_column(conn: &Connection, column: &str, detector: &str, site_luid: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {column} FROM findings WHERE detector = ? AND site_luid = ? ORDER BY {column}"
        ))
        .unwrap();
    let rows = stmt.query_map([detector, site_luid], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// Data rows of a CSV report, read with an independent CSV reader.
fn csv_rows(path: &Path) -> usize {
    let mut reader = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader.records().map(|r| r.expect("a CSV record")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_and_the_reports_keep_each_site_apart() {
    let handle = start(three_sites()).await;
    let dir = scratch("multisite-audit");
    let settings = settings(&handle, &dir);
    let run = extract_sites(&settings, &named(&SITES)).await;
    assert!(run.sites.iter().all(|s| s.error.is_none()), "{:?}", run.sites);

    let t = trm::config::Thresholds::default();
    let audited = trm::audit::run(&settings.db, Some(&settings.parquet), None, &t).expect("the audit runs");
    let mut audited_sites: Vec<&str> = audited.sites.iter().map(|(_, cu)| cu.as_str()).collect();
    audited_sites.sort_unstable();
    assert_eq!(audited_sites, SITES.to_vec());
    let conn = open(&settings.db);
    assert_eq!(
        query_i64(&conn, "SELECT count(*) FROM findings") as usize,
        audited.findings.len()
    );
    // Each finding is stored under its asset's site: per site, exactly the
    // broken tasks and missing fields that site's model planted.
    for s in SITES {
        let st = site_of(&handle, s);
        let id = st.data().site.id.clone();
        let m = st.manifest();
        let mut tasks: Vec<String> = m.planted.broken_extracts.iter().map(|b| b.task_id.clone()).collect();
        tasks.sort();
        assert!(!tasks.is_empty(), "site {s} plants broken extracts");
        assert_eq!(finding_column(&conn, "task_luid", "broken_extract", &id), tasks, "site {s}: broken extracts");
        let mut fields: Vec<String> = m.planted.missing_fields.iter().map(|f| f.field_id.clone()).collect();
        fields.sort();
        assert_eq!(finding_column(&conn, "asset_metadata_id", "missing_field", &id), fields, "site {s}: missing fields");
        let dir = settings.parquet.join("findings").join(format!("site={s}"));
        assert!(dir.is_dir(), "{} is missing", dir.display());
    }
    let placed = query_i64(
        &conn,
        &format!(
            "SELECT count(*) FROM findings WHERE site_luid IN ({})",
            SITES.iter().map(|s| format!("'{}'", luid(&handle, s))).collect::<Vec<_>>().join(", ")
        ),
    );
    assert_eq!(placed as usize, audited.findings.len(), "every finding is on one of the three sites");
    drop(conn);

    // The reports: one page for all sites and one per site, each site's
    // CSVs holding its own rows only.
    let out = dir.join("report");
    let options = trm::report::generate::Options {
        db: &settings.db,
        out_dir: &out,
        extra_reports: None,
        thresholds: &t,
        site: None,
    };
    let g = trm::report::generate::generate(&options).expect("the reports are written");
    assert_eq!(g.site_pages.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), SITES.to_vec());
    let mut users = 0;
    for s in SITES {
        let st = site_of(&handle, s);
        let m = st.manifest();
        let site_dir = out.join("sites").join(s);
        assert_eq!(csv_rows(&site_dir.join("users_and_groups.csv")), m.counts.users, "site {s}: users");
        assert_eq!(
            csv_rows(&site_dir.join("broken_extracts.csv")),
            m.planted.broken_extracts.len(),
            "site {s}: broken extracts"
        );
        // minijinja writes '/' in attributes as an entity.
        let page = std::fs::read_to_string(site_dir.join("index.html")).unwrap().replace("&#x2f;", "/");
        assert!(page.contains(r#"href="../../index.html""#), "site {s}'s page links to all sites");
        for other in SITES.iter().filter(|o| **o != s) {
            assert!(page.contains(&format!(r#"href="../../sites/{other}/index.html""#)), "site {s}'s page links to {other}");
        }
        users += m.counts.users;
    }
    assert_eq!(csv_rows(&out.join("users_and_groups.csv")), users, "all sites: users");

    // One site alone, by name; an unknown site is an error naming the known ones.
    let only = dir.join("report-ops");
    let g = trm::report::generate::generate(&trm::report::generate::Options { out_dir: &only, site: Some("ops"), ..options })
        .expect("the ops reports are written");
    assert!(g.site_pages.is_empty());
    assert_eq!(csv_rows(&only.join("users_and_groups.csv")), site_of(&handle, "ops").manifest().counts.users);
    let e = trm::report::generate::generate(&trm::report::generate::Options {
        out_dir: &dir.join("report-none"),
        site: Some("nowhere"),
        ..options
    })
    .err()
    .expect("an unknown site fails");
    let e = format!("{e:#}");
    assert!(e.contains("nowhere") && SITES.iter().all(|s| e.contains(s)), "{e}");
    handle.stop().await;
}

/// A server of several sites waits its latency model on every request, as
/// a one-site server does, and keeps one latency log for all its sites.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_of_several_sites_applies_its_latency_model() {
    let latency_model = trm::sim::latency::LatencyModel::parse("rest=30ms,metadata=60ms").unwrap();
    let handle = start(SimConfig { latency_model, ..three_sites() }).await;
    let dir = scratch("multisite-latency");
    let settings = Settings { site: "finance".into(), ..settings(&handle, &dir) };
    let started = std::time::Instant::now();
    let outcome = extract::run(&settings, &Options { only: vec!["users".into()], parquet: false }, Arc::new(Quiet))
        .await
        .expect("finance's users are read");
    let wall = started.elapsed();
    let s = handle.state.latency_log.summary();
    assert_eq!(s.requests as u64, outcome.stats.requests, "every request of the run waited");
    assert!((s.rest_ms - 30.0 * s.rest_requests as f64).abs() < 1.0, "{} ms for {} requests", s.rest_ms, s.rest_requests);
    // Sign-in, then the user pages one after another at least.
    assert!(wall.as_secs_f64() * 1000.0 >= s.longest_chain_ms && s.longest_chain_ms >= 60.0, "{s:?}");
    handle.stop().await;
}
