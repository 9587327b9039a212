//! From a finding to the asset in one click: the warehouse keeps each
//! workbook's, view's and published datasource's page on the Tableau
//! server, and the reports carry it as a `*_url` column beside the name.
//!
//! Expected pages come from the dataset: workbooks and datasources as the
//! site lists them (`webpageUrl`), views as Tableau's web client shows them,
//! `<server>/#/site/<site>/views/<workbook content URL>/<view URL name>`
//! (the REST API lists no page for a view).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use trm::extract::{self, Options, Quiet};
use trm::report::definitions;
use trm::report::model::ReportTable;
use trm::sim::dataset::Entity;
use trm::sim::{self, SimConfig};
use trm::warehouse::read;

#[path = "support/site.rs"]
mod site;
use site::{scratch, settings};

fn cell<'a>(t: &'a ReportTable, row: &'a [Value], name: &str) -> &'a Value {
    let i = t.columns.iter().position(|c| c.name == name).unwrap_or_else(|| panic!("{}: no column {name}", t.slug));
    &row[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_link_each_asset_to_its_page() {
    let handle = sim::start(SimConfig::default(), SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("site starts");
    let dir = scratch("asset-pages");
    let settings = settings(&handle, &dir);
    extract::run(&settings, &Options { only: Vec::new(), parquet: false }, Arc::new(Quiet)).await.expect("extracts");
    let guard = handle.state.data();
    let d = &*guard;
    let site = format!("{}/#/site/{}", handle.url(), d.site.content_url);
    let workbook_page = |i: usize| format!("{site}/workbooks/{}", i + 1);
    let datasource_page = |i: usize| format!("{site}/datasources/{}", i + 1);

    let conn = read::open(&settings.db).unwrap();
    let defs = definitions::built_in().unwrap();
    let out = dir.join("csv");
    let tables = trm::report::write_all(&conn, &defs, &BTreeMap::new(), &out).expect("every report runs");
    let by_slug: HashMap<&str, &ReportTable> = tables.iter().map(|t| (t.slug.as_str(), t)).collect();

    // Usage: every view and its workbook, each with its page.
    let t = by_slug["usage"];
    assert_eq!(t.rows.len(), d.views.len());
    for row in &t.rows {
        let id = cell(t, row, "view_luid").as_str().unwrap();
        let Some(Entity::View(i)) = d.lookup(id) else { panic!("{id} is not a view") };
        let v = &d.views[i as usize];
        let w = &d.workbooks[v.workbook as usize];
        assert_eq!(cell(t, row, "view_url"), &Value::from(format!("{site}/views/{}/{}", w.content_url, v.url_name)), "view {id}");
        assert_eq!(cell(t, row, "workbook_url"), &Value::from(workbook_page(v.workbook as usize)), "view {id}");
    }

    // The datasource inventory: every published datasource's page.
    let t = by_slug["datasource_inventory"];
    assert_eq!(t.rows.len(), d.datasources.len());
    for row in &t.rows {
        let id = cell(t, row, "datasource_luid").as_str().unwrap();
        let Some(Entity::Datasource(i)) = d.lookup(id) else { panic!("{id} is not a datasource") };
        assert_eq!(cell(t, row, "datasource_url"), &Value::from(datasource_page(i as usize)), "datasource {id}");
    }

    // The CSV files keep the URL columns, beside the names.
    let header = std::fs::read_to_string(out.join("usage.csv")).unwrap().lines().next().unwrap().to_string();
    assert!(header.contains("workbook_name,workbook_url,workbook_luid"), "{header}");
    assert!(header.contains("view_name,view_url,view_luid"), "{header}");
    readme_warehouse_examples_run(&conn);
    drop(guard);
    handle.stop().await;
}

/// Every SQL example in the README's warehouse section runs and returns
/// rows on a freshly extracted site.
fn readme_warehouse_examples_run(conn: &duckdb::Connection) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("### The warehouse").expect("a warehouse section");
    let section = &readme[start..];
    let section = &section[..section[4..].find("\n#").map_or(section.len(), |e| e + 4)];
    let mut ran = 0;
    for block in section.split("```sql").skip(1) {
        let sql = &block[..block.find("```").unwrap()];
        for statement in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
            let mut stmt = conn.prepare(statement).unwrap_or_else(|e| panic!("README example fails: {e}\n{statement}"));
            let mut rows = stmt.query([]).unwrap_or_else(|e| panic!("README example fails: {e}\n{statement}"));
            assert!(rows.next().unwrap().is_some(), "README example returns nothing:\n{statement}");
            ran += 1;
        }
    }
    assert!(ran >= 3, "{ran} README examples");
}
