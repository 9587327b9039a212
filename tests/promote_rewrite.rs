//! The connection rewrite of `trm promote-content` on every real Tableau
//! document in `../shared/reference/documents/` (Tableau's Document API
//! and its Python client's test assets), and the mapping file's errors.
//!
//! Each document's connections are found with roxmltree (not TRM's
//! quick-xml code), a mapping that moves every server, port, dbname and
//! username of every class is written as YAML and loaded by TRM, and the
//! rewritten document is read back with roxmltree: every mapped value has
//! its new value, and the bytes outside the rewritten attribute values are
//! exactly the original's (for packages: every other entry's compressed
//! bytes too).

#[path = "support/external.rs"]
mod external;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use trm::admin::promote::mapping;
use trm::admin::promote::rewrite::{self, ProxyRebind, Rules};

const FIELDS: [&str; 4] = ["server", "port", "dbname", "username"];

fn documents(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p
                .extension()
                .is_some_and(|x| ["twb", "tds", "twbx", "tdsx"].contains(&x.to_str().unwrap()))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The XML entries of a document: (entry name or "", text).
fn xml_entries(bytes: &[u8]) -> Vec<(String, String)> {
    if !bytes.starts_with(b"PK\x03\x04") {
        return vec![(String::new(), String::from_utf8(bytes.to_vec()).unwrap())];
    }
    let mut z = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        if !name.contains('/') && (name.ends_with(".twb") || name.ends_with(".tds")) {
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            out.push((name, s));
        }
    }
    out
}

/// (class, attribute) → values, for connections other than sqlproxy.
fn connection_values(xml: &str) -> BTreeMap<(String, String), BTreeSet<String>> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for n in doc.descendants().filter(|n| n.has_tag_name("connection")) {
        let class = n.attribute("class").unwrap_or_default();
        if class.is_empty() || class == "sqlproxy" {
            continue;
        }
        for f in FIELDS {
            if let Some(v) = n.attribute(f).filter(|v| !v.is_empty()) {
                out.entry((class.to_string(), f.to_string()))
                    .or_default()
                    .insert(v.to_string());
            }
        }
    }
    out
}

fn new_value(attr: &str, v: &str) -> String {
    match (attr, v.parse::<u32>()) {
        ("port", Ok(n)) => (n + 1000).to_string(),
        // Characters that need escaping, to check quoting is kept right.
        _ => format!("{v}-prod&'\"<x>"),
    }
}

/// A mapping file moving every value found.
fn mapping_yaml(values: &BTreeMap<(String, String), BTreeSet<String>>) -> String {
    let mut by_class: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for ((class, attr), vs) in values {
        for v in vs {
            by_class.entry(class).or_default().push((attr, v));
        }
    }
    // A class entry holds one from/to per attribute, so values beyond the
    // first of an attribute get entries of their own.
    let mut out = String::from("connections:\n");
    for (class, pairs) in by_class {
        let mut rounds: Vec<Vec<(&str, &str)>> = Vec::new();
        for (attr, v) in pairs {
            match rounds
                .iter_mut()
                .find(|r| !r.iter().any(|(a, _)| *a == attr))
            {
                Some(r) => r.push((attr, v)),
                None => rounds.push(vec![(attr, v)]),
            }
        }
        for r in rounds {
            out.push_str(&format!(
                "  - class: {}\n",
                serde_json::to_string(class).unwrap()
            ));
            for (attr, v) in r {
                out.push_str(&format!(
                    "    {attr}: {{from: {}, to: {}}}\n",
                    serde_json::to_string(v).unwrap(),
                    serde_json::to_string(&new_value(attr, v)).unwrap()
                ));
            }
        }
    }
    out
}

/// The text without the value ranges of the attributes `pick` selects on
/// `connection` and `repository-location` elements, found by roxmltree.
fn without_values(xml: &str, pick: &dyn Fn(&roxmltree::Node, &str) -> bool) -> (String, usize) {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let mut ranges = Vec::new();
    for n in doc
        .descendants()
        .filter(|n| n.has_tag_name("connection") || n.has_tag_name("repository-location"))
    {
        for a in n.attributes() {
            if pick(&n, a.name()) {
                ranges.push(a.range_value());
            }
        }
    }
    ranges.sort_by_key(|r| r.start);
    let mut out = String::new();
    let mut at = 0;
    for r in &ranges {
        out.push_str(&xml[at..r.start]);
        out.push('\u{0}');
        at = r.end;
    }
    out.push_str(&xml[at..]);
    (out, ranges.len())
}

fn is_mapped(n: &roxmltree::Node, attr: &str) -> bool {
    n.has_tag_name("connection")
        && FIELDS.contains(&attr)
        && n.attribute("class")
            .is_some_and(|c| !c.is_empty() && c != "sqlproxy")
        && n.attribute(attr).is_some_and(|v| !v.is_empty())
}

#[test]
fn every_reference_document_passes_the_connection_rewrite() {
    let Some(root) = external::shared(
        "reference/documents",
        "every_reference_document_passes_the_connection_rewrite",
    ) else {
        return;
    };
    let files = documents(&root);
    assert!(
        files.len() >= 20,
        "expected the reference documents, found {}",
        files.len()
    );
    let mut total_changes = 0;
    for path in &files {
        let name = path.display().to_string();
        let original = std::fs::read(path).unwrap();
        let entries = xml_entries(&original);
        assert!(!entries.is_empty(), "{name}: no document inside");
        let mut values: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for (_, xml) in &entries {
            for (k, v) in connection_values(xml) {
                values.entry(k).or_default().extend(v);
            }
        }
        let yaml = mapping_yaml(&values);
        let m = mapping::parse("promote.yaml", &yaml, &|_| None)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{yaml}"));
        let rules = Rules {
            attrs: m.attr_rules(),
            proxy: None,
        };
        let (out, changes) =
            rewrite::rewrite_document(&name, &original, &rules).unwrap_or_else(|e| panic!("{e}"));
        total_changes += changes.len();

        let new_entries = xml_entries(&out);
        assert_eq!(entries.len(), new_entries.len(), "{name}");
        let mut expected_changes = 0;
        for ((entry, before), (entry2, after)) in entries.iter().zip(&new_entries) {
            assert_eq!(entry, entry2, "{name}");
            // Every mapped value was rewritten, read by an independent parser.
            let b = roxmltree::Document::parse(before).unwrap();
            let a = roxmltree::Document::parse(after)
                .unwrap_or_else(|e| panic!("{name} {entry}: rewritten XML: {e}"));
            let bn: Vec<_> = b
                .descendants()
                .filter(|n| n.has_tag_name("connection"))
                .collect();
            let an: Vec<_> = a
                .descendants()
                .filter(|n| n.has_tag_name("connection"))
                .collect();
            assert_eq!(bn.len(), an.len(), "{name} {entry}");
            for (x, y) in bn.iter().zip(&an) {
                for attr in x.attributes() {
                    let want = if is_mapped(x, attr.name()) {
                        expected_changes += 1;
                        new_value(attr.name(), attr.value())
                    } else {
                        attr.value().to_string()
                    };
                    assert_eq!(
                        y.attribute(attr.name()),
                        Some(want.as_str()),
                        "{name} {entry}: {}",
                        attr.name()
                    );
                }
                assert_eq!(x.attributes().len(), y.attributes().len(), "{name} {entry}");
            }
            // Nothing else changed, byte for byte.
            let (rest_before, n1) = without_values(before, &is_mapped);
            let (rest_after, n2) = without_values(after, &|n, a| {
                // The same attributes, located in the rewritten text.
                n.has_tag_name("connection")
                    && FIELDS.contains(&a)
                    && n.attribute("class")
                        .is_some_and(|c| !c.is_empty() && c != "sqlproxy")
                    && n.attribute(a).is_some_and(|v| !v.is_empty())
            });
            assert_eq!(n1, n2, "{name} {entry}");
            assert!(
                rest_before == rest_after,
                "{name} {entry}: bytes outside the rewritten values changed"
            );
        }
        assert_eq!(changes.len(), expected_changes, "{name}: changes reported");
        if original.starts_with(b"PK") {
            // Other entries keep their compressed bytes; names and order hold.
            let raw = |bytes: &[u8]| -> Vec<(String, Vec<u8>)> {
                let mut z = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
                (0..z.len())
                    .map(|i| {
                        let mut f = z.by_index_raw(i).unwrap();
                        let mut data = Vec::new();
                        f.read_to_end(&mut data).unwrap();
                        (f.name().unwrap().to_string(), data)
                    })
                    .collect()
            };
            let (rb, ra) = (raw(&original), raw(&out));
            assert_eq!(
                rb.iter().map(|x| &x.0).collect::<Vec<_>>(),
                ra.iter().map(|x| &x.0).collect::<Vec<_>>(),
                "{name}"
            );
            for ((n, d1), (_, d2)) in rb.iter().zip(&ra) {
                if !(n.ends_with(".twb") || n.ends_with(".tds")) || expected_changes == 0 {
                    assert!(d1 == d2, "{name}: entry {n} changed");
                }
            }
        }
        if expected_changes == 0 {
            assert!(
                out == original,
                "{name}: nothing to rewrite, yet the bytes changed"
            );
        }
    }
    assert!(
        total_changes > 50,
        "only {total_changes} values rewritten over {} documents",
        files.len()
    );
}

#[test]
fn published_datasource_references_are_repointed() {
    let Some(root) = external::shared(
        "reference/documents",
        "published_datasource_references_are_repointed",
    ) else {
        return;
    };
    let path = root.join("document-api-python/multiple_connections.twb");
    let original = std::fs::read_to_string(&path).unwrap();
    let mut ids = BTreeMap::new();
    ids.insert("xyTestV1".to_string(), "xyTestV1_prod".to_string());
    let rules = Rules {
        attrs: vec![],
        proxy: Some(ProxyRebind {
            host: "tableau.prod".into(),
            port: "443".into(),
            channel: "https".into(),
            site: "hr".into(),
            ids,
        }),
    };
    let (out, changes) =
        rewrite::rewrite_document("multiple_connections.twb", original.as_bytes(), &rules).unwrap();
    let out = String::from_utf8(out).unwrap();
    let doc = roxmltree::Document::parse(&out).unwrap();
    let proxy = doc
        .descendants()
        .find(|n| n.has_tag_name("connection") && n.attribute("class") == Some("sqlproxy"))
        .unwrap();
    assert_eq!(proxy.attribute("server"), Some("tableau.prod"));
    assert_eq!(proxy.attribute("port"), Some("443"));
    assert_eq!(proxy.attribute("channel"), Some("https"));
    assert_eq!(proxy.attribute("dbname"), Some("xyTestV1_prod"));
    let loc = doc
        .descendants()
        .find(|n| {
            n.has_tag_name("repository-location")
                && n.attribute("path")
                    .is_some_and(|p| p.ends_with("/datasources"))
        })
        .unwrap();
    assert_eq!(loc.attribute("id"), Some("xyTestV1_prod"));
    assert_eq!(loc.attribute("path"), Some("/t/hr/datasources"));
    assert_eq!(changes.len(), 6, "{changes:?}");
    // The other connections are untouched.
    let mysql = doc
        .descendants()
        .find(|n| n.has_tag_name("connection") && n.attribute("class") == Some("mysql"))
        .unwrap();
    assert_eq!(mysql.attribute("server"), Some("mysql55"));
}

#[test]
fn mapping_file_errors_name_file_key_and_line() {
    let env = |k: &str| (k == "SET").then(|| "pw".to_string());
    let e = mapping::parse("p.yaml", "connections:\n  - class: postgres\n    server: {from: a, to: b}\n    credentials: {password_env: NOT_SET_ANYWHERE}\n", &env)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "p.yaml:4: connections[0].credentials.password_env: the environment variable NOT_SET_ANYWHERE is not set"
    );
    let e = mapping::parse(
        "p.yaml",
        "connections:\n  - class: postgres\n    servr: {from: a, to: b}\n",
        &env,
    )
    .unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    let e = mapping::parse(
        "p.yaml",
        "connections:\n  - class: postgres\n    server: {from: a, to: b}\n    server: {from: c, to: d}\n",
        &env,
    )
    .unwrap_err();
    assert!(e.to_string().contains("p.yaml:"), "{e}");
    let e = mapping::parse("p.yaml", "connections:\n  - class: postgres\n    server: {from: a, to: b}\n  - class: postgres\n    server: {from: a, to: c}\n", &env)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "p.yaml:4: connections[1].server.from: postgres server \"a\" is mapped twice"
    );
    let e = mapping::parse(
        "p.yaml",
        "connections:\n  - class: sqlproxy\n    server: {from: a, to: b}\n",
        &env,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("p.yaml:2: connections[0].class: sqlproxy"),
        "{e}"
    );
    // A class no promoted document uses.
    let m = mapping::parse("p.yaml", "connections:\n  - class: postgres\n    server: {from: a, to: b}\n  - class: postgress\n    server: {from: a, to: b}\n    credentials: {password_env: SET}\n", &env)
        .unwrap();
    let e = m
        .check_classes(&["postgres".to_string(), "hyper".to_string()].into())
        .unwrap_err()
        .to_string();
    assert_eq!(e, "p.yaml:4: connections[1].class: no connection of class \"postgress\" in the content being promoted (classes found: hyper, postgres)");
    // The credential's value is never shown.
    assert!(!format!("{m:?}").contains("pw"));
}
