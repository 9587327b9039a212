//! A warehouse written by the previous schema (version 1, before each id
//! space had its own column names) opens, reads and takes new runs: its old
//! rows survive under the new names and count in reports next to new ones.
//!
//! The old warehouse is written here by hand with version 1's DDL, not by
//! TRM, so the test does not lean on the code that migrates it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use duckdb::{AccessMode, Config, Connection};
use trm::extract::{self, Options, Quiet};
use trm::report::{definitions, sql};
use trm::sim::dataset::{day_start, Entity};
use trm::sim::{self, SimConfig};
use trm::warehouse::{read, schema};

#[path = "support/site.rs"]
mod site;
use site::{scratch, settings};

/// Version 1's DDL for the tables this test fills, as TRM wrote it.
const OLD_DDL: &str = r#"
CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY, profile VARCHAR, server VARCHAR, site VARCHAR, api_version VARCHAR,
    started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, as_of TIMESTAMPTZ, snapshot_date DATE,
    status VARCHAR NOT NULL, rows_per_table VARCHAR, warnings VARCHAR, error VARCHAR
);
CREATE TABLE run_tables (run_id VARCHAR NOT NULL, table_name VARCHAR NOT NULL, rows BIGINT NOT NULL, PRIMARY KEY (run_id, table_name));
CREATE TABLE hist_views (
    run_id VARCHAR NOT NULL, view_id VARCHAR NOT NULL, name VARCHAR NOT NULL, content_url VARCHAR,
    workbook_id VARCHAR NOT NULL, owner_id VARCHAR, project_id VARCHAR, sheet_type VARCHAR,
    created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, total_view_count BIGINT NOT NULL
);
CREATE TABLE hist_published_datasources (
    run_id VARCHAR NOT NULL, datasource_id VARCHAR NOT NULL, luid VARCHAR NOT NULL, name VARCHAR,
    project_name VARCHAR, owner_id VARCHAR, has_extracts BOOLEAN, extract_last_refresh_time TIMESTAMPTZ,
    extract_last_update_time TIMESTAMPTZ, is_certified BOOLEAN, has_active_warning BOOLEAN,
    created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ
);
CREATE TABLE hist_findings (
    run_id VARCHAR NOT NULL, finding_id VARCHAR NOT NULL, detector VARCHAR NOT NULL, severity VARCHAR NOT NULL,
    asset_kind VARCHAR NOT NULL, asset_id VARCHAR NOT NULL, asset_name VARCHAR, workbook_id VARCHAR,
    project_name VARCHAR, owner_id VARCHAR, owner_name VARCHAR, reason VARCHAR NOT NULL, evidence VARCHAR NOT NULL
);
CREATE VIEW views AS SELECT view_id, name, content_url, workbook_id, owner_id, project_id, sheet_type, created_at,
    updated_at, total_view_count FROM hist_views;
CREATE VIEW published_datasources AS SELECT * EXCLUDE (run_id) FROM hist_published_datasources;
CREATE VIEW findings AS SELECT * FROM hist_findings;
"#;

const OLD_RUN: &str = "20251201T000000Z-0001";

/// Each row of `sql`'s answer as its cells, cast to text, joined by ` | `
/// (NULL for null).
fn query(conn: &Connection, sql: &str) -> Vec<String> {
    let wrapped = format!("SELECT * FROM ({sql})");
    let mut stmt = conn.prepare(&wrapped).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut rows = stmt.query([]).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        let width = r.as_ref().column_count();
        let cells: Vec<String> = (0..width)
            .map(|i| match r.get_ref(i).unwrap() {
                duckdb::types::ValueRef::Null => "NULL".to_string(),
                duckdb::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                duckdb::types::ValueRef::BigInt(v) => v.to_string(),
                duckdb::types::ValueRef::Int(v) => v.to_string(),
                other => panic!("{sql}: cast column {i} to text or an integer, not {other:?}"),
            })
            .collect();
        out.push(cells.join(" | "));
    }
    out
}

fn read_only(db: &Path) -> Connection {
    let config = Config::default().access_mode(AccessMode::ReadOnly).unwrap().enable_autoload_extension(false).unwrap();
    Connection::open_with_flags(db, config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_warehouse_is_migrated_and_keeps_its_rows() {
    let handle = sim::start(SimConfig::default(), SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("site starts");
    let dir = scratch("migration");
    let settings = settings(&handle, &dir);
    let db = settings.db.clone();
    let guard = handle.state.data();
    let d = &*guard;

    // The old warehouse: one succeeded run on day 0 holding every view of
    // the site with its day-0 count (the dataset's usage model), a view
    // since deleted, a published datasource and two findings.
    let as_of = day_start(0);
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(OLD_DDL).unwrap();
        conn.execute(
            "INSERT INTO runs (run_id, site, server, as_of, snapshot_date, status) \
             VALUES (?, 'old', 'http://old', to_timestamp(?), CAST(? AS DATE), 'succeeded')",
            duckdb::params![OLD_RUN, as_of, trm::warehouse::snapshot_date(as_of)],
        )
        .unwrap();
        let mut view = conn
            .prepare(
                "INSERT INTO hist_views (run_id, view_id, name, workbook_id, sheet_type, total_view_count) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .unwrap();
        for v in &d.views {
            let wb = &d.workbooks[v.workbook as usize].id;
            view.execute(duckdb::params![OLD_RUN, v.id, v.name, wb, v.sheet_type.as_str(), v.usage.total_at(0) as i64])
                .unwrap();
        }
        view.execute(duckdb::params![OLD_RUN, "v-gone", "Deleted view", "wb-gone", "sheet", 41i64]).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO hist_published_datasources (run_id, datasource_id, luid, name) VALUES ('{OLD_RUN}', 'pds-old', 'luid-old', 'Old DS');
             INSERT INTO hist_findings VALUES
               ('{OLD_RUN}', 'missing_field:fld-1', 'missing_field', 'high', 'field', 'fld-1', 'Amount', 'wb-1', 'P', 'u-1', 'U', 'gone',
                '{{\"kind\":\"column_without_upstream\",\"datasource_id\":\"pds-old\"}}'),
               ('{OLD_RUN}', 'broken_extract:task-9', 'broken_extract', 'medium', 'datasource', 'luid-old', 'Old DS', NULL, 'P', 'u-1', 'U', 'stale',
                '{{\"task_id\":\"task-9\",\"reasons\":[\"stale\",\"upstream_table_gone\"],\"consecutive_failed_count\":0}}');
             INSERT INTO run_tables VALUES ('{OLD_RUN}', 'views', {}), ('{OLD_RUN}', 'published_datasources', 1), ('{OLD_RUN}', 'findings', 2);",
            d.views.len() + 1
        ))
        .unwrap();
    }

    // A reader opening it first (as `trm report` would) gets the new names.
    {
        let conn = read::open(&db).expect("an old warehouse opens");
        assert_eq!(
            query(&conn, "SELECT datasource_metadata_id, datasource_luid, name FROM published_datasources"),
            vec!["pds-old | luid-old | Old DS"]
        );
    }

    // Then a run extracts the site 30 days later into it.
    handle.state.set_day(30);
    let outcome = extract::run(&settings, &Options { only: Vec::new(), parquet: true }, Arc::new(Quiet))
        .await
        .expect("an extraction into the migrated warehouse succeeds");

    let conn = read_only(&db);
    // The recorded version is the current one, and no column has an old name.
    assert_eq!(query(&conn, "SELECT max(version) FROM schema_version"), vec![schema::VERSION.to_string()]);
    let old_names: BTreeSet<String> = schema::RENAMED.iter().map(|(_, t, old, _)| format!("hist_{t}.{old}")).collect();
    let columns: BTreeSet<String> = query(
        &conn,
        "SELECT table_name || '.' || column_name FROM duckdb_columns() WHERE table_name LIKE 'hist\\_%' ESCAPE '\\'",
    )
    .into_iter()
    .collect();
    assert!(columns.is_disjoint(&old_names), "old names left: {:?}", columns.intersection(&old_names).collect::<Vec<_>>());

    // Every old row survived, under its new name.
    let old_views = query(&conn, &format!("SELECT view_luid, workbook_luid, total_view_count FROM hist_views WHERE run_id = '{OLD_RUN}'"));
    assert_eq!(old_views.len(), d.views.len() + 1);
    assert!(old_views.contains(&"v-gone | wb-gone | 41".to_string()), "{old_views:?}");
    assert_eq!(
        query(&conn, &format!("SELECT datasource_metadata_id, datasource_luid FROM hist_published_datasources WHERE run_id = '{OLD_RUN}'")),
        vec!["pds-old | luid-old"]
    );
    // Old findings name their asset in the right id space, and have the
    // task and reasons their evidence held.
    assert_eq!(
        query(
            &conn,
            &format!(
                "SELECT finding_id, coalesce(asset_luid, '-'), coalesce(asset_metadata_id, '-'), workbook_luid, owner_luid, \
                 coalesce(task_luid, '-'), reason_codes FROM hist_findings WHERE run_id = '{OLD_RUN}' ORDER BY finding_id"
            )
        ),
        vec![
            "broken_extract:task-9 | luid-old | - | NULL | u-1 | task-9 | stale,upstream_table_gone",
            "missing_field:fld-1 | - | fld-1 | wb-1 | u-1 | - | column_without_upstream",
        ]
    );

    // The new run's rows are in the same tables: the views show it.
    let new_views = query(&conn, &format!("SELECT count(*) FROM hist_views WHERE run_id = '{}'", outcome.run_id));
    assert_eq!(new_views, vec![d.views.len().to_string()]);
    // REST and Metadata API views of each published datasource join on the LUID.
    assert_eq!(
        query(&conn, "SELECT count(*) FROM datasources JOIN published_datasources USING (datasource_luid)"),
        vec![d.datasources.len().to_string()]
    );

    // The old run is the usage report's baseline: views in the window are
    // day 30's counts minus day 0's, from the dataset's usage model.
    let usage = definitions::built_in().unwrap().iter().find(|x| x.slug == "usage").unwrap().clone();
    let vars = BTreeMap::from([("unused_days".to_string(), 30i64)]);
    let t = sql::run(&conn, &usage, &vars).expect("the usage report runs over old and new rows");
    let col = |name: &str| t.columns.iter().position(|c| c.name == name).unwrap();
    assert_eq!(t.rows.len(), d.views.len());
    for row in &t.rows {
        let id = row[col("view_luid")].as_str().unwrap();
        let Some(Entity::View(i)) = d.lookup(id) else { panic!("{id} is not a view") };
        let u = d.views[i as usize].usage;
        assert_eq!(row[col("window_views")].as_i64(), Some(u.total_at(30) as i64 - u.total_at(0) as i64), "view {id}");
        assert_eq!(row[col("baseline_date")].as_str(), Some(trm::warehouse::snapshot_date(as_of).as_str()));
    }
    drop(guard);
    handle.stop().await;
}

#[test]
fn a_warehouse_from_a_newer_trm_is_refused() {
    let dir = scratch("migration-newer");
    let db = dir.join("trm.duckdb");
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE schema_version (version BIGINT NOT NULL, migrated_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp);
             INSERT INTO schema_version (version) VALUES ({});",
            schema::VERSION + 1
        ))
        .unwrap();
    }
    let run = trm::warehouse::RunInfo {
        run_id: "r".into(),
        profile: "p".into(),
        server: "s".into(),
        site: String::new(),
        api_version: "3.0".into(),
        started_at: 0,
        as_of: 0,
    };
    let e = trm::warehouse::Writer::start(&db, None, run).err().expect("a newer schema is refused").to_string();
    assert!(e.contains(&format!("schema version {}", schema::VERSION + 1)) && e.contains("newer"), "{e}");
}

/// Version 2's DDL for the tables `trm access` reads, as TRM wrote it
/// (version 3 added `flows`, the `access_*` tables and the
/// `effective_access` view, and renamed nothing).
const V2_DDL: &str = r#"
CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY, profile VARCHAR, server VARCHAR, site VARCHAR, api_version VARCHAR,
    started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, as_of TIMESTAMPTZ, snapshot_date DATE,
    status VARCHAR NOT NULL, rows_per_table VARCHAR, warnings VARCHAR, error VARCHAR
);
CREATE TABLE run_tables (run_id VARCHAR NOT NULL, table_name VARCHAR NOT NULL, rows BIGINT NOT NULL, PRIMARY KEY (run_id, table_name));
CREATE TABLE schema_version (version BIGINT NOT NULL, migrated_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp);
INSERT INTO schema_version (version) VALUES (2);
CREATE TABLE hist_users (
    run_id VARCHAR NOT NULL, user_luid VARCHAR NOT NULL, name VARCHAR NOT NULL, full_name VARCHAR, email VARCHAR,
    site_role VARCHAR NOT NULL, auth_setting VARCHAR, last_login TIMESTAMPTZ
);
CREATE TABLE hist_groups (run_id VARCHAR NOT NULL, group_luid VARCHAR NOT NULL, name VARCHAR NOT NULL, domain VARCHAR);
CREATE TABLE hist_group_memberships (run_id VARCHAR NOT NULL, group_luid VARCHAR NOT NULL, user_luid VARCHAR NOT NULL);
CREATE TABLE hist_projects (
    run_id VARCHAR NOT NULL, project_luid VARCHAR NOT NULL, name VARCHAR NOT NULL, description VARCHAR,
    parent_project_luid VARCHAR, owner_luid VARCHAR, content_permissions VARCHAR NOT NULL,
    created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ
);
CREATE TABLE hist_workbooks (
    run_id VARCHAR NOT NULL, workbook_luid VARCHAR NOT NULL, name VARCHAR NOT NULL, description VARCHAR,
    content_url VARCHAR, webpage_url VARCHAR, project_luid VARCHAR, project_name VARCHAR, owner_luid VARCHAR,
    show_tabs BOOLEAN, size BIGINT, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ
);
CREATE TABLE hist_permissions (
    run_id VARCHAR NOT NULL, object_type VARCHAR NOT NULL, object_luid VARCHAR NOT NULL, project_luid VARCHAR,
    scope VARCHAR NOT NULL, grantee_type VARCHAR NOT NULL, grantee_luid VARCHAR NOT NULL,
    capability VARCHAR NOT NULL, mode VARCHAR NOT NULL
);
CREATE VIEW users AS SELECT * EXCLUDE (run_id) FROM hist_users;
"#;

const V2_RUN: &str = "20260101T000000Z-0002";

/// A version-2 warehouse (before effective access) opens for `trm access`:
/// the reader brings it to version 3, and access is computed from its old
/// run: a Viewer reads the workbook through a group, may not overwrite it,
/// and its owner may.
#[test]
fn a_version_2_warehouse_opens_and_answers_access() {
    let dir = scratch("migration-v2");
    let db = dir.join("trm.duckdb");
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(V2_DDL).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO runs (run_id, site, server, as_of, snapshot_date, status)
               VALUES ('{V2_RUN}', 'old', 'http://old', to_timestamp(1767225600), DATE '2026-01-01', 'succeeded');
             INSERT INTO hist_users VALUES
               ('{V2_RUN}', 'u-viewer', 'viewer@example.com', 'Vi Ewer', NULL, 'Viewer', NULL, NULL),
               ('{V2_RUN}', 'u-owner', 'owner@example.com', 'Oh Wner', NULL, 'Creator', NULL, NULL);
             INSERT INTO hist_groups VALUES ('{V2_RUN}', 'g-sales', 'Sales', 'local');
             INSERT INTO hist_group_memberships VALUES ('{V2_RUN}', 'g-sales', 'u-viewer');
             INSERT INTO hist_projects VALUES ('{V2_RUN}', 'p-1', 'Sales', NULL, NULL, 'u-owner', 'ManagedByOwner', NULL, NULL);
             INSERT INTO hist_workbooks VALUES
               ('{V2_RUN}', 'wb-1', 'Pipeline', NULL, NULL, NULL, 'p-1', 'Sales', 'u-owner', true, NULL, NULL, NULL);
             INSERT INTO hist_permissions VALUES
               ('{V2_RUN}', 'workbook', 'wb-1', 'p-1', 'item', 'group', 'g-sales', 'Read', 'Allow'),
               ('{V2_RUN}', 'workbook', 'wb-1', 'p-1', 'item', 'group', 'g-sales', 'Write', 'Allow');
             INSERT INTO run_tables VALUES ('{V2_RUN}', 'users', 2), ('{V2_RUN}', 'groups', 1),
               ('{V2_RUN}', 'group_memberships', 1), ('{V2_RUN}', 'projects', 1), ('{V2_RUN}', 'workbooks', 1),
               ('{V2_RUN}', 'permissions', 2);"
        ))
        .unwrap();
    }
    let (conn, computed) = trm::access::query::open_computed(&db, None).expect("a version-2 warehouse opens");
    assert!(computed, "access was computed for the old run");
    assert_eq!(query(&conn, "SELECT max(version) FROM schema_version"), vec![schema::VERSION.to_string()]);
    assert_eq!(query(&conn, "SELECT count(*) FROM flows"), vec!["0"], "the new table exists, empty");
    let answers = |user: &str| {
        query(
            &conn,
            &format!(
                "SELECT capability || ' ' || CAST(allowed AS VARCHAR) || ' ' || reason FROM effective_access \
                 WHERE user_luid = '{user}' AND item_luid = 'wb-1' AND capability IN ('Read', 'Write') ORDER BY capability"
            ),
        )
    };
    assert_eq!(answers("u-viewer"), vec!["Read true group_allow", "Write false site_role_cap"]);
    assert_eq!(answers("u-owner"), vec!["Read true project_owner", "Write true project_owner"]);
    // The old rows are still the old run's.
    assert_eq!(query(&conn, &format!("SELECT count(*) FROM hist_permissions WHERE run_id = '{V2_RUN}'")), vec!["2"]);
}

/// Version 3's DDL for the tables the version-4 test fills (before sites:
/// no `site_luid`, no `run_sites`).
const V3_DDL: &str = r#"
CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY, profile VARCHAR, server VARCHAR, site VARCHAR, api_version VARCHAR,
    started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, as_of TIMESTAMPTZ, snapshot_date DATE,
    status VARCHAR NOT NULL, rows_per_table VARCHAR, warnings VARCHAR, error VARCHAR
);
CREATE TABLE run_tables (run_id VARCHAR NOT NULL, table_name VARCHAR NOT NULL, rows BIGINT NOT NULL, PRIMARY KEY (run_id, table_name));
CREATE TABLE schema_version (version BIGINT NOT NULL, migrated_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp);
INSERT INTO schema_version (version) VALUES (3);
CREATE TABLE hist_sites (run_id VARCHAR NOT NULL, site_luid VARCHAR NOT NULL, name VARCHAR NOT NULL, content_url VARCHAR NOT NULL);
CREATE TABLE hist_workbooks (
    run_id VARCHAR NOT NULL, workbook_luid VARCHAR NOT NULL, name VARCHAR NOT NULL, description VARCHAR,
    content_url VARCHAR, webpage_url VARCHAR, project_luid VARCHAR, project_name VARCHAR, owner_luid VARCHAR,
    show_tabs BOOLEAN, size BIGINT, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ
);
CREATE VIEW workbooks AS SELECT * EXCLUDE (run_id) FROM hist_workbooks;
"#;

/// A version-3 warehouse (one site, before sites were recorded) opens: each
/// old run belongs to the site it read (its own `sites` row, or another
/// run's of the same content URL), `run_sites` says so with the run's
/// status, and later runs of that site and of another site sit beside it:
/// the other site's run hides nothing, the same site's run replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_3_warehouse_gets_its_site_and_takes_other_sites() {
    let config = SimConfig { sites: vec!["analytics".into(), "finance".into()], ..SimConfig::default() };
    let handle = sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("site starts");
    let analytics = handle.state.site("analytics").unwrap();
    let finance = handle.state.site("finance").unwrap();
    let (luid, finance_luid) = (analytics.data().site.id.clone(), finance.data().site.id.clone());
    let dir = scratch("migration-v3");
    let settings = settings(&handle, &dir);
    let db = settings.db.clone();
    {
        // R0: read before `sites` was extracted; R1: the latest, with its
        // sites row; R2: failed afterwards.
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(V3_DDL).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO runs (run_id, site, server, as_of, snapshot_date, status, error) VALUES
               ('r0', 'analytics', 'http://old', to_timestamp(1735689600), DATE '2025-01-01', 'succeeded', NULL),
               ('r1', 'analytics', 'http://old', to_timestamp(1735776000), DATE '2025-01-02', 'succeeded', NULL),
               ('r2', 'analytics', 'http://old', to_timestamp(1735862400), DATE '2025-01-03', 'failed', 'boom');
             INSERT INTO hist_sites VALUES ('r1', '{luid}', 'Analytics', 'analytics');
             INSERT INTO hist_workbooks (run_id, workbook_luid, name) VALUES
               ('r0', 'wb-0', 'Zero'), ('r1', 'wb-old-1', 'One'), ('r1', 'wb-old-2', 'Two');
             INSERT INTO run_tables VALUES ('r0', 'workbooks', 1), ('r1', 'workbooks', 2), ('r1', 'sites', 1);"
        ))
        .unwrap();
    }
    {
        let conn = read::open(&db).expect("a version-3 warehouse opens");
        assert_eq!(query(&conn, "SELECT max(version) FROM schema_version"), vec![schema::VERSION.to_string()]);
        assert_eq!(
            query(&conn, "SELECT run_id, site_luid, content_url, status FROM run_sites ORDER BY run_id"),
            vec![
                format!("r0 | {luid} | analytics | succeeded"),
                format!("r1 | {luid} | analytics | succeeded"),
                format!("r2 | {luid} | analytics | failed"),
            ]
        );
        assert_eq!(
            query(&conn, "SELECT run_id, workbook_luid, site_luid FROM hist_workbooks ORDER BY workbook_luid"),
            vec![format!("r0 | wb-0 | {luid}"), format!("r1 | wb-old-1 | {luid}"), format!("r1 | wb-old-2 | {luid}")]
        );
        assert_eq!(
            query(&conn, "SELECT site_luid, workbook_luid FROM workbooks ORDER BY workbook_luid"),
            vec![format!("{luid} | wb-old-1"), format!("{luid} | wb-old-2")]
        );
    }

    // Another site's run keeps the old site's rows in the view.
    let options = Options { only: vec!["workbooks".into()], parquet: false };
    let finance_settings = trm::config::Settings { site: "finance".into(), ..settings.clone() };
    extract::run(&finance_settings, &options, Arc::new(Quiet)).await.expect("finance extracts");
    let finance_count = finance.data().workbooks.len();
    {
        let conn = read_only(&db);
        assert_eq!(
            query(&conn, &format!("SELECT count(*) FROM workbooks WHERE site_luid = '{finance_luid}'")),
            vec![finance_count.to_string()]
        );
        assert_eq!(
            query(&conn, &format!("SELECT workbook_luid FROM workbooks WHERE site_luid = '{luid}' ORDER BY 1")),
            vec!["wb-old-1", "wb-old-2"]
        );
    }
    // The old site's own run replaces its old rows.
    extract::run(&settings, &options, Arc::new(Quiet)).await.expect("analytics extracts");
    let conn = read_only(&db);
    assert_eq!(query(&conn, "SELECT count(*) FROM workbooks WHERE workbook_luid LIKE 'wb-old%'"), vec!["0"]);
    assert_eq!(
        query(&conn, "SELECT count(*) FROM workbooks"),
        vec![(finance_count + analytics.data().workbooks.len()).to_string()]
    );
    handle.stop().await;
}
