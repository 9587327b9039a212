//! The lineage check after a promotion: each promoted item's lineage on
//! the target, read through the target's Metadata API, against the
//! source's: the same sheets, dashboards and fields, the same published
//! datasources upstream, and the same upstream tables, on the servers the
//! mapping file sends the source's servers to.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::rewrite::AttrRule;
use crate::tableau::metadata::paginate;
use crate::tableau::queries::{
    promotion_datasources, promotion_workbooks, PromotionDatasources, PromotionWorkbooks,
};
use crate::tableau::Client;

/// What is compared of one item.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lineage {
    pub name: String,
    pub sheets: BTreeSet<String>,
    pub dashboards: BTreeSet<String>,
    pub fields: BTreeSet<String>,
    pub upstream_datasources: BTreeSet<String>,
    /// (connection type, host, schema, table).
    pub tables: BTreeSet<(String, String, String, String)>,
}

impl Lineage {
    /// The source's lineage as it should look on the target: table hosts
    /// moved by the mapping's `server` rules.
    pub fn mapped(&self, rules: &[AttrRule]) -> Lineage {
        let tables = self
            .tables
            .iter()
            .map(|(kind, host, schema, name)| {
                let host = rules
                    .iter()
                    .find(|r| r.attr == "server" && r.class == *kind && r.from == *host)
                    .map(|r| r.to.clone())
                    .unwrap_or_else(|| host.clone());
                (kind.clone(), host, schema.clone(), name.clone())
            })
            .collect();
        Lineage {
            tables,
            ..self.clone()
        }
    }
}

fn strings(v: &Value, key: &str) -> BTreeSet<String> {
    v[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["name"].as_str().map(str::to_string))
        .collect()
}

fn tables(v: &Value) -> BTreeSet<(String, String, String, String)> {
    v["upstreamTables"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let db = &t["database"];
            let host = db["hostName"]
                .as_str()
                .or(db["name"].as_str())
                .unwrap_or_default();
            (
                db["connectionType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                host.to_string(),
                t["schema"].as_str().unwrap_or_default().to_string(),
                t["name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Reads a `workbooksConnection` node (pure).
pub fn workbook_lineage(node: &Value) -> Lineage {
    let mut l = Lineage {
        name: node["name"].as_str().unwrap_or_default().to_string(),
        sheets: strings(node, "sheets"),
        dashboards: strings(node, "dashboards"),
        ..Lineage::default()
    };
    for e in node["embeddedDatasources"].as_array().into_iter().flatten() {
        l.fields.extend(strings(e, "fields"));
        l.upstream_datasources
            .extend(strings(e, "upstreamDatasources"));
        l.tables.extend(tables(e));
    }
    l
}

/// Reads a `publishedDatasourcesConnection` node (pure).
pub fn datasource_lineage(node: &Value) -> Lineage {
    Lineage {
        name: node["name"].as_str().unwrap_or_default().to_string(),
        fields: strings(node, "fields"),
        tables: tables(node),
        ..Lineage::default()
    }
}

/// The lineage of the workbooks with these LUIDs, by LUID.
pub async fn workbooks(
    client: &Client,
    luids: &[String],
) -> anyhow::Result<BTreeMap<String, Lineage>> {
    if luids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let wanted: Vec<Option<String>> = luids.iter().cloned().map(Some).collect();
    let paged = paginate::<PromotionWorkbooks, Value>(
        client,
        100,
        |first, after| promotion_workbooks::Variables {
            first: Some(first),
            after,
            luids: Some(wanted.clone()),
        },
        |data| page_of(&data, "workbooksConnection"),
    )
    .await?;
    Ok(by_luid(&paged.nodes, workbook_lineage))
}

/// The lineage of the published datasources with these LUIDs, by LUID.
pub async fn datasources(
    client: &Client,
    luids: &[String],
) -> anyhow::Result<BTreeMap<String, Lineage>> {
    if luids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let wanted: Vec<Option<String>> = luids.iter().cloned().map(Some).collect();
    let paged = paginate::<PromotionDatasources, Value>(
        client,
        100,
        |first, after| promotion_datasources::Variables {
            first: Some(first),
            after,
            luids: Some(wanted.clone()),
        },
        |data| page_of(&data, "publishedDatasourcesConnection"),
    )
    .await?;
    Ok(by_luid(&paged.nodes, datasource_lineage))
}

/// One page of a root connection: its nodes, end cursor and whether more follow.
fn page_of(data: &impl serde::Serialize, connection: &str) -> (Vec<Value>, Option<String>, bool) {
    let v = serde_json::to_value(data).unwrap_or(Value::Null);
    let c = &v[connection];
    (
        c["nodes"].as_array().cloned().unwrap_or_default(),
        c["pageInfo"]["endCursor"].as_str().map(str::to_string),
        c["pageInfo"]["hasNextPage"].as_bool().unwrap_or(false),
    )
}

/// Each node's lineage, keyed by its `luid`.
fn by_luid(nodes: &[Value], lineage: fn(&Value) -> Lineage) -> BTreeMap<String, Lineage> {
    nodes
        .iter()
        .filter_map(|n| Some((n["luid"].as_str()?.to_string(), lineage(n))))
        .collect()
}

/// What differs between the expected lineage (the source's, mapped) and
/// the target's, one line per difference; empty when they match.
pub fn compare(item: &str, expected: &Lineage, actual: &Lineage) -> Vec<String> {
    let mut out = Vec::new();
    let mut set = |what: &str, e: &BTreeSet<String>, a: &BTreeSet<String>| {
        let missing: Vec<&String> = e.difference(a).collect();
        let extra: Vec<&String> = a.difference(e).collect();
        if !missing.is_empty() {
            out.push(format!(
                "{item}: {what} missing on the target: {}",
                join(&missing)
            ));
        }
        if !extra.is_empty() {
            out.push(format!(
                "{item}: {what} only on the target: {}",
                join(&extra)
            ));
        }
    };
    set("sheets", &expected.sheets, &actual.sheets);
    set("dashboards", &expected.dashboards, &actual.dashboards);
    set("fields", &expected.fields, &actual.fields);
    set(
        "published datasources upstream",
        &expected.upstream_datasources,
        &actual.upstream_datasources,
    );
    let show = |t: &(String, String, String, String)| {
        let table = if t.2.is_empty() {
            t.3.clone()
        } else {
            format!("{}.{}", t.2, t.3)
        };
        format!("{table} on {} ({})", t.1, t.0)
    };
    let e: BTreeSet<String> = expected.tables.iter().map(show).collect();
    let a: BTreeSet<String> = actual.tables.iter().map(show).collect();
    set("upstream tables", &e, &a);
    out
}

fn join(items: &[&String]) -> String {
    const SHOWN: usize = 8;
    let mut s = items
        .iter()
        .take(SHOWN)
        .map(|x| x.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_move_to_the_mapped_server_and_differences_are_named() {
        let node = json!({
            "name": "Sales", "sheets": [{"name": "S1"}], "dashboards": [{"name": "D"}],
            "embeddedDatasources": [{"name": "e", "fields": [{"name": "Amount"}], "upstreamDatasources": [{"name": "HR"}],
                "upstreamTables": [{"name": "orders", "schema": "public", "database": {"__typename": "DatabaseServer", "name": "dev.db", "hostName": "dev.db", "connectionType": "postgres"}}]}]
        });
        let source = workbook_lineage(&node);
        let rules = vec![AttrRule {
            class: "postgres".into(),
            attr: "server".into(),
            from: "dev.db".into(),
            to: "prod.db".into(),
        }];
        let expected = source.mapped(&rules);
        assert!(compare("Sales", &expected, &source)
            .iter()
            .any(|d| d.contains("public.orders on prod.db (postgres)")));
        let mut target = expected.clone();
        assert!(compare("Sales", &expected, &target).is_empty());
        target.sheets.insert("S2".into());
        assert_eq!(
            compare("Sales", &expected, &target),
            vec!["Sales: sheets only on the target: S2".to_string()]
        );
    }
}
