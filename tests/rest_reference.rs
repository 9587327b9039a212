//! TRM's REST parsing proven on real Tableau responses: the XML bodies in
//! `../shared/reference/rest-responses/` (from the official Python client's
//! tests) are served by a stub server, TRM extracts from it with its real
//! streams, and every value in the warehouse is compared with the same
//! file read independently here (roxmltree). The stub knows nothing of
//! TRM: it answers each path with the reference file a scenario names.
//!
//! Without `../shared` the tests skip with a message; under `CI=true` they
//! fail.

#[path = "support/external.rs"]
mod external;
#[path = "support/site.rs"]
mod site;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use trm::config::{Secret, Settings};
use trm::extract::{self, Options};

const NS: &str = "http://tableau.com/api";

fn responses(test: &str) -> Option<PathBuf> {
    external::shared("reference/rest-responses", test)
}

/// Which reference file answers which path. Keys are paths below
/// `/api/{v}/` with the `sites/{id}/` prefix removed and every id written
/// `*` (`groups/*/users`).
struct Scenario {
    dir: PathBuf,
    files: HashMap<String, String>,
}

fn pattern(path: &str) -> String {
    let rest = path.trim_start_matches('/');
    let rest = rest.strip_prefix("api/").unwrap_or(rest);
    let rest = rest.split_once('/').map(|(_, r)| r).unwrap_or("");
    let parts: Vec<&str> = rest.split('/').collect();
    let parts: &[&str] = match parts.as_slice() {
        ["sites", _, tail @ ..] if !tail.is_empty() => tail,
        all => all,
    };
    let is_id = |s: &str| s.len() == 36 && s.bytes().filter(|b| *b == b'-').count() == 4;
    parts.iter().map(|p| if is_id(p) { "*" } else { p }).collect::<Vec<_>>().join("/")
}

async fn answer(State(s): State<Arc<Scenario>>, req: Request) -> Response {
    let key = pattern(req.uri().path());
    let file = match (req.method().as_str(), key.as_str()) {
        ("POST", "auth/signin") => Some("auth_sign_in.xml".to_string()),
        ("POST", "auth/signout") => return Response::builder().status(StatusCode::NO_CONTENT).body(Body::empty()).unwrap(),
        ("GET", "serverinfo") | ("GET", "serverInfo") => Some("server_info_get.xml".to_string()),
        ("GET", k) => s.files.get(k).cloned(),
        _ => None,
    };
    match file {
        Some(f) => Response::builder()
            .header("content-type", "application/xml")
            .body(Body::from(std::fs::read(s.dir.join(f)).expect("reference file")))
            .unwrap(),
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header("content-type", "application/xml")
            .body(Body::from(format!(
                "<tsResponse xmlns=\"{NS}\"><error code=\"404000\"><summary>Not Found</summary><detail>no reference file for {key}</detail></error></tsResponse>"
            )))
            .unwrap(),
    }
}

/// Extracts `streams` from a stub serving `files`; returns the warehouse.
async fn extract_from(dir: &Path, streams: &[&str], files: &[(&str, &str)]) -> duckdb::Connection {
    let scenario = Arc::new(Scenario {
        dir: dir.to_path_buf(),
        files: files.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    });
    let app = axum::Router::new().fallback(answer).with_state(scenario);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let out = site::scratch("rest-reference");
    let settings = Settings {
        profile: "reference".into(),
        server: format!("http://{addr}"),
        site: "Samples".into(),
        api_version: None,
        token_name: "reference".into(),
        token_secret: Secret::new("reference-secret"),
        auth: trm::config::Auth::Pat,
        concurrency: 2,
        max_concurrency: None,
        timeout: Duration::from_secs(20),
        db: out.join("trm.duckdb"),
        parquet: out.join("parquet"),
    };
    let options = Options { only: streams.iter().map(|s| s.to_string()).collect(), parquet: false };
    let outcome = extract::run(&settings, &options, Arc::new(extract::Quiet)).await;
    outcome.unwrap_or_else(|e| panic!("extracting {streams:?} from {files:?} failed: {e:#}"));
    duckdb::Connection::open(&settings.db).unwrap()
}

/// Where an expected value comes from in an item element.
#[derive(Clone, Copy)]
enum Src {
    /// An attribute of the item.
    Attr(&'static str),
    /// An attribute of a child element (`project@id`).
    Child(&'static str, &'static str),
    /// An attribute holding a time, compared as Unix seconds; an invalid
    /// date is expected to be stored as NULL.
    Time(&'static str),
}

/// Every item element named `element` in `file`, as `column → value`
/// (None when absent), read with roxmltree.
fn expected_rows(dir: &Path, file: &str, element: &str, cols: &[(&str, Src)]) -> Vec<BTreeMap<String, Option<String>>> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let secs = |s: Option<&str>| -> Option<String> {
        s.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()).map(|t| t.timestamp().to_string())
    };
    doc.descendants()
        .filter(|n| n.has_tag_name((NS, element)))
        .map(|item| {
            let child = |name: &str| item.children().find(|c| c.has_tag_name((NS, name)));
            cols.iter()
                .map(|(col, src)| {
                    let v = match *src {
                        Src::Attr(a) => item.attribute(a).map(str::to_string),
                        Src::Child(c, a) => child(c).and_then(|n| n.attribute(a)).map(str::to_string),
                        Src::Time(a) => secs(item.attribute(a)),
                    };
                    (col.to_string(), v)
                })
                .collect()
        })
        .collect()
}

/// The table's rows as the same maps: times as Unix seconds, everything
/// else as text.
fn warehouse_rows(conn: &duckdb::Connection, table: &str, cols: &[(&str, Src)]) -> Vec<BTreeMap<String, Option<String>>> {
    let select: Vec<String> = cols
        .iter()
        .map(|(c, src)| match src {
            Src::Time(_) => format!("(epoch_us({c}) // 1000000)::VARCHAR"),
            _ => format!("{c}::VARCHAR"),
        })
        .collect();
    let sql = format!("SELECT {} FROM {table}", select.join(", "));
    let mut stmt = conn.prepare(&sql).unwrap();
    let rows = stmt
        .query_map([], |r| {
            let mut m = BTreeMap::new();
            for (i, (c, _)) in cols.iter().enumerate() {
                m.insert(c.to_string(), r.get::<_, Option<String>>(i)?);
            }
            Ok(m)
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn sorted(mut rows: Vec<BTreeMap<String, Option<String>>>) -> Vec<BTreeMap<String, Option<String>>> {
    rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    rows
}

/// Values from the file equal the table's rows, one for one.
fn assert_table(conn: &duckdb::Connection, dir: &Path, file: &str, element: &str, table: &str, cols: &[(&str, Src)]) {
    let want = sorted(expected_rows(dir, file, element, cols));
    let got = sorted(warehouse_rows(conn, table, cols));
    assert_eq!(got, want, "{table} from {file}");
}

/// `(asset_luid, tag)` pairs of `element`s in `file`.
fn expected_tags(dir: &Path, file: &str, element: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let mut out: Vec<(String, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name((NS, element)))
        .flat_map(|item| {
            let id = item.attribute("id").unwrap().to_string();
            item.descendants()
                .filter(|t| t.has_tag_name((NS, "tag")))
                .map(move |t| (id.clone(), t.attribute("label").unwrap().to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out
}

fn tags_in(conn: &duckdb::Connection, asset_type: &str) -> Vec<(String, String)> {
    let mut stmt = conn.prepare("SELECT asset_luid, tag FROM tags WHERE asset_type = ? ORDER BY 1, 2").unwrap();
    stmt.query_map([asset_type], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

fn count(conn: &duckdb::Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap()
}

const WORKBOOK_COLS: &[(&str, Src)] = &[
    ("workbook_luid", Src::Attr("id")),
    ("name", Src::Attr("name")),
    ("description", Src::Attr("description")),
    ("content_url", Src::Attr("contentUrl")),
    ("webpage_url", Src::Attr("webpageUrl")),
    ("show_tabs", Src::Attr("showTabs")),
    ("size", Src::Attr("size")),
    ("created_at", Src::Time("createdAt")),
    ("updated_at", Src::Time("updatedAt")),
    ("project_luid", Src::Child("project", "id")),
    ("project_name", Src::Child("project", "name")),
    ("owner_luid", Src::Child("owner", "id")),
];

#[tokio::test]
async fn workbooks_and_their_tags() {
    let Some(dir) = responses("workbooks_and_their_tags") else { return };
    // `tags` is written only when every stream that fills it runs.
    let conn = extract_from(
        &dir,
        &["workbooks", "views", "datasources"],
        &[("workbooks", "workbook_get.xml"), ("views", "view_get_usage.xml"), ("datasources", "datasource_get_empty.xml")],
    )
    .await;
    assert_eq!(count(&conn, "workbooks"), 2);
    assert_table(&conn, &dir, "workbook_get.xml", "workbook", "workbooks", WORKBOOK_COLS);
    assert_eq!(tags_in(&conn, "workbook"), expected_tags(&dir, "workbook_get.xml", "workbook"));
    assert_eq!(tags_in(&conn, "workbook").len(), 2);
}

#[tokio::test]
async fn a_workbook_with_an_invalid_date_keeps_its_other_values() {
    let Some(dir) = responses("a_workbook_with_an_invalid_date_keeps_its_other_values") else { return };
    let conn = extract_from(&dir, &["workbooks"], &[("workbooks", "workbook_get_invalid_date.xml")]).await;
    assert_table(&conn, &dir, "workbook_get_invalid_date.xml", "workbook", "workbooks", WORKBOOK_COLS);
    // 2016-06-31 does not exist: stored as NULL, not as 07-01 and not a failure.
    let created: Option<i64> = conn.query_row("SELECT epoch_us(created_at) FROM workbooks", [], |r| r.get(0)).unwrap();
    assert_eq!(created, None);
}

#[tokio::test]
async fn empty_listings_give_empty_tables() {
    let Some(dir) = responses("empty_listings_give_empty_tables") else { return };
    let conn = extract_from(
        &dir,
        &["workbooks", "datasources", "users", "schedules"],
        &[
            ("workbooks", "workbook_get_empty.xml"),
            ("datasources", "datasource_get_empty.xml"),
            ("users", "user_get_empty.xml"),
            ("schedules", "schedule_get_empty.xml"),
        ],
    )
    .await;
    for table in ["workbooks", "datasources", "users", "schedules", "tags"] {
        assert_eq!(count(&conn, table), 0, "{table}");
    }
}

const DATASOURCE_COLS: &[(&str, Src)] = &[
    ("datasource_luid", Src::Attr("id")),
    ("name", Src::Attr("name")),
    ("description", Src::Attr("description")),
    ("content_url", Src::Attr("contentUrl")),
    ("webpage_url", Src::Attr("webpageUrl")),
    ("type", Src::Attr("type")),
    ("size", Src::Attr("size")),
    ("has_extracts", Src::Attr("hasExtracts")),
    ("encrypt_extracts", Src::Attr("encryptExtracts")),
    ("created_at", Src::Time("createdAt")),
    ("updated_at", Src::Time("updatedAt")),
    ("project_luid", Src::Child("project", "id")),
    ("project_name", Src::Child("project", "name")),
    ("owner_luid", Src::Child("owner", "id")),
];

#[tokio::test]
async fn datasources_with_and_without_owner() {
    let Some(dir) = responses("datasources_with_and_without_owner") else { return };
    for file in ["datasource_get.xml", "datasource_get_no_owner.xml"] {
        let conn = extract_from(
            &dir,
            &["workbooks", "views", "datasources"],
            &[("workbooks", "workbook_get_empty.xml"), ("views", "view_get_usage.xml"), ("datasources", file)],
        )
        .await;
        assert_eq!(count(&conn, "datasources"), 2, "{file}");
        assert_table(&conn, &dir, file, "datasource", "datasources", DATASOURCE_COLS);
        assert_eq!(tags_in(&conn, "datasource"), expected_tags(&dir, file, "datasource"), "{file}");
    }
}

#[tokio::test]
async fn views_with_usage() {
    let Some(dir) = responses("views_with_usage") else { return };
    let conn = extract_from(
        &dir,
        &["views"],
        &[("views", "view_get_usage.xml"), ("workbooks", "workbook_get.xml")],
    )
    .await;
    assert_table(
        &conn,
        &dir,
        "view_get_usage.xml",
        "view",
        "views",
        &[
            ("view_luid", Src::Attr("id")),
            ("name", Src::Attr("name")),
            ("content_url", Src::Attr("contentUrl")),
            ("sheet_type", Src::Attr("sheetType")),
            ("created_at", Src::Time("createdAt")),
            ("updated_at", Src::Time("updatedAt")),
            ("workbook_luid", Src::Child("workbook", "id")),
            ("owner_luid", Src::Child("owner", "id")),
            ("total_view_count", Src::Child("usage", "totalViewCount")),
        ],
    );
}

#[tokio::test]
async fn users_groups_and_memberships() {
    let Some(dir) = responses("users_groups_and_memberships") else { return };
    let conn = extract_from(
        &dir,
        &["users", "groups"],
        &[("users", "user_get.xml"), ("groups", "group_get.xml"), ("groups/*/users", "group_populate_users.xml")],
    )
    .await;
    assert_table(
        &conn,
        &dir,
        "user_get.xml",
        "user",
        "users",
        &[
            ("user_luid", Src::Attr("id")),
            ("name", Src::Attr("name")),
            ("full_name", Src::Attr("fullName")),
            ("email", Src::Attr("email")),
            ("site_role", Src::Attr("siteRole")),
            ("last_login", Src::Time("lastLogin")),
        ],
    );
    assert_table(
        &conn,
        &dir,
        "group_get.xml",
        "group",
        "groups",
        &[("group_luid", Src::Attr("id")), ("name", Src::Attr("name")), ("domain", Src::Child("domain", "name"))],
    );
    // The stub answers every group's members with the same file: each group
    // holds its one user.
    let member = expected_rows(&dir, "group_populate_users.xml", "user", &[("user_luid", Src::Attr("id"))]);
    let member = member[0]["user_luid"].clone().unwrap();
    let mut stmt = conn.prepare("SELECT group_luid, user_luid FROM group_memberships ORDER BY 1").unwrap();
    let got: Vec<(String, String)> = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    let mut want: Vec<(String, String)> = expected_rows(&dir, "group_get.xml", "group", &[("id", Src::Attr("id"))])
        .into_iter()
        .map(|g| (g["id"].clone().unwrap(), member.clone()))
        .collect();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn projects_with_parents_and_owners() {
    let Some(dir) = responses("projects_with_parents_and_owners") else { return };
    let conn = extract_from(&dir, &["projects"], &[("projects", "project_get.xml")]).await;
    assert_table(
        &conn,
        &dir,
        "project_get.xml",
        "project",
        "projects",
        &[
            ("project_luid", Src::Attr("id")),
            ("name", Src::Attr("name")),
            ("parent_project_luid", Src::Attr("parentProjectId")),
            ("content_permissions", Src::Attr("contentPermissions")),
            ("owner_luid", Src::Child("owner", "id")),
        ],
    );
}

const SCHEDULE_COLS: &[(&str, Src)] = &[
    ("schedule_luid", Src::Attr("id")),
    ("name", Src::Attr("name")),
    ("state", Src::Attr("state")),
    ("type", Src::Attr("type")),
    ("frequency", Src::Attr("frequency")),
    ("priority", Src::Attr("priority")),
    ("created_at", Src::Time("createdAt")),
    ("updated_at", Src::Time("updatedAt")),
    ("next_run_at", Src::Time("nextRunAt")),
];

#[tokio::test]
async fn schedules_and_jobs() {
    let Some(dir) = responses("schedules_and_jobs") else { return };
    let conn = extract_from(&dir, &["schedules", "jobs"], &[("schedules", "schedule_get.xml"), ("jobs", "job_get.xml")]).await;
    assert_eq!(count(&conn, "schedules"), 4);
    assert_table(&conn, &dir, "schedule_get.xml", "schedule", "schedules", SCHEDULE_COLS);
    assert_table(
        &conn,
        &dir,
        "job_get.xml",
        "backgroundJob",
        "jobs",
        &[
            ("job_luid", Src::Attr("id")),
            ("status", Src::Attr("status")),
            ("job_type", Src::Attr("jobType")),
            ("priority", Src::Attr("priority")),
            ("created_at", Src::Time("createdAt")),
            ("started_at", Src::Time("startedAt")),
            ("ended_at", Src::Time("endedAt")),
        ],
    );
}

/// `(task_luid, schedule_luid, target_type, target_luid, priority,
/// consecutive_failed_count, task_type)` of the extract refresh tasks in a
/// file that name a target.
fn expected_tasks(dir: &Path, file: &str) -> Vec<Vec<Option<String>>> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let mut out: Vec<Vec<Option<String>>> = doc
        .descendants()
        .filter(|n| n.has_tag_name((NS, "extractRefresh")))
        .filter_map(|t| {
            let child = |name: &str| t.children().find(|c| c.has_tag_name((NS, name)));
            let (kind, target) = ["workbook", "datasource"].into_iter().find_map(|k| Some((k, child(k)?)))?;
            Some(vec![
                t.attribute("id").map(str::to_string),
                child("schedule").and_then(|s| s.attribute("id")).map(str::to_string),
                Some(kind.to_string()),
                target.attribute("id").map(str::to_string),
                t.attribute("priority").map(str::to_string),
                Some(t.attribute("consecutiveFailedCount").unwrap_or("0").to_string()),
                t.attribute("type").map(str::to_string),
            ])
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn extract_refresh_tasks_in_every_shape() {
    let Some(dir) = responses("extract_refresh_tasks_in_every_shape") else { return };
    for (file, n) in [
        ("tasks_with_workbook.xml", 1),
        ("tasks_with_datasource.xml", 1),
        ("tasks_with_workbook_and_datasource.xml", 3),
        ("tasks_with_interval.xml", 1),
        ("tasks_without_schedule.xml", 1),
        // A data acceleration task is not an extract refresh.
        ("tasks_with_dataacceleration_task.xml", 0),
        // Tasks whose content is gone are skipped with a warning.
        ("tasks_no_workbook_or_datasource.xml", 0),
    ] {
        let conn = extract_from(&dir, &["extract_tasks"], &[("tasks/extractRefreshes", file)]).await;
        let mut stmt = conn
            .prepare(
                "SELECT task_luid, schedule_luid, target_type, target_luid, priority::VARCHAR, \
                 consecutive_failed_count::VARCHAR, task_type FROM extract_tasks ORDER BY 1",
            )
            .unwrap();
        let mut got: Vec<Vec<Option<String>>> = stmt
            .query_map([], |r| (0..7).map(|i| r.get::<_, Option<String>>(i)).collect::<Result<Vec<_>, _>>())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        got.sort();
        assert_eq!(got.len(), n, "{file}");
        assert_eq!(got, expected_tasks(&dir, file), "{file}");
    }
}

/// `(grantee_type, grantee_luid, capability, mode)` of a permissions file.
fn expected_grants(dir: &Path, file: &str) -> Vec<(String, String, String, String)> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let mut out = Vec::new();
    for g in doc.descendants().filter(|n| n.has_tag_name((NS, "granteeCapabilities"))) {
        let grantee = g.children().find(|c| c.has_tag_name((NS, "user")) || c.has_tag_name((NS, "group"))).unwrap();
        for c in g.descendants().filter(|n| n.has_tag_name((NS, "capability"))) {
            out.push((
                grantee.tag_name().name().to_string(),
                grantee.attribute("id").unwrap().to_string(),
                c.attribute("name").unwrap().to_string(),
                c.attribute("mode").unwrap().to_string(),
            ));
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn permissions_of_every_kind() {
    let Some(dir) = responses("permissions_of_every_kind") else { return };
    let conn = extract_from(
        &dir,
        &["permissions"],
        &[
            ("projects", "project_get.xml"),
            ("workbooks", "workbook_get.xml"),
            ("datasources", "datasource_get.xml"),
            ("views", "view_get_usage.xml"),
            ("projects/*/permissions", "project_populate_permissions.xml"),
            ("views/*/permissions", "view_populate_permissions.xml"),
            ("workbooks/*/permissions", "workbook_populate_permissions.xml"),
            ("datasources/*/permissions", "datasource_populate_permissions.xml"),
            ("projects/*/default-permissions/workbooks", "project_populate_workbook_default_permissions.xml"),
            ("projects/*/default-permissions/datasources", "project_populate_workbook_default_permissions.xml"),
        ],
    )
    .await;
    let grants = |object_type: &str, scope: &str| -> BTreeMap<String, Vec<(String, String, String, String)>> {
        let mut stmt = conn
            .prepare(
                "SELECT object_luid, grantee_type, grantee_luid, capability, mode FROM permissions \
                 WHERE object_type = ? AND scope = ? ORDER BY 1, 2, 3, 4, 5",
            )
            .unwrap();
        let mut by_object: BTreeMap<String, Vec<_>> = BTreeMap::new();
        for row in stmt
            .query_map([object_type, scope], |r| {
                Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            })
            .unwrap()
        {
            let (object, grant) = row.unwrap();
            by_object.entry(object).or_default().push(grant);
        }
        by_object
    };
    // Every item of a kind answers with the same file, so each holds exactly
    // its grants. (Flows and their default rules are not in the scenario:
    // the stub's 404 is a server without flows.)
    for (object_type, scope, items_file, element, file) in [
        ("project", "item", "project_get.xml", "project", "project_populate_permissions.xml"),
        ("workbook", "item", "workbook_get.xml", "workbook", "workbook_populate_permissions.xml"),
        ("datasource", "item", "datasource_get.xml", "datasource", "datasource_populate_permissions.xml"),
        ("view", "item", "view_get_usage.xml", "view", "view_populate_permissions.xml"),
        ("project", "default_workbooks", "project_get.xml", "project", "project_populate_workbook_default_permissions.xml"),
    ] {
        let got = grants(object_type, scope);
        let ids = expected_rows(&dir, items_file, element, &[("id", Src::Attr("id"))]);
        assert_eq!(got.len(), ids.len(), "{object_type} {scope}: one entry per item");
        let want = expected_grants(&dir, file);
        assert!(!want.is_empty());
        for id in ids {
            let id = id["id"].clone().unwrap();
            assert_eq!(got.get(&id), Some(&want), "{object_type} {id} {scope}");
        }
    }
}

#[test]
fn error_bodies_from_the_reference_are_read() {
    let Some(dir) = responses("error_bodies_from_the_reference_are_read") else { return };
    let text = std::fs::read_to_string(dir.join("auth_sign_in_error.xml")).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let error = doc.descendants().find(|n| n.has_tag_name((NS, "error"))).unwrap();
    let v = trm::tableau::xml::to_value(text.as_bytes()).unwrap();
    assert_eq!(v["error"]["code"].as_str(), error.attribute("code"));
    let summary = error.children().find(|n| n.has_tag_name((NS, "summary"))).and_then(|n| n.text()).unwrap();
    assert_eq!(v["error"]["summary"].as_str(), Some(summary.trim()));
}
