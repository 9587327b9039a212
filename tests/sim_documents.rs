//! The documents behind the simulated site's workbooks and datasources,
//! over a real loopback socket: every generated document agrees with the
//! dataset model; publishing (single request and chunked) creates content
//! that the REST API and the Metadata API both show; malformed input gets
//! Tableau's 400 and creates nothing; connection edits reach later reads
//! and downloads; the dev and prod environments hold the promotion scenario.
//!
//! Documents are read here with roxmltree and a ZIP reader of this file's
//! own; expectations come from the dataset model.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::net::SocketAddr;

use reqwest::StatusCode;
use serde_json::Value;
use trm::sim::dataset::lineage::{FieldKind, Owner};
use trm::sim::dataset::{SheetType, Target};
use trm::sim::documents::env::Env;
use trm::sim::{self, SimConfig, SimHandle};

const NS: &str = "http://tableau.com/api";

struct Site {
    handle: SimHandle,
    client: reqwest::Client,
    token: String,
}

struct Resp {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    fn attrs(&self, element: &str, attr: &str) -> Vec<String> {
        let text = self.text();
        let doc =
            roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("not XML ({e}): {text}"));
        doc.descendants()
            .filter(|n| n.has_tag_name((NS, element)))
            .filter_map(|n| n.attribute(attr).map(str::to_string))
            .collect()
    }

    fn error_code(&self) -> String {
        self.attrs("error", "code")
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no <error>: {}", self.text()))
    }

    fn expect(self, status: StatusCode) -> Resp {
        assert_eq!(self.status, status, "{}", self.text());
        self
    }
}

impl Site {
    async fn start(config: SimConfig) -> Site {
        let handle = sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("site starts");
        let client = trm::tls::http_client();
        let c = &handle.state.config;
        let body = format!(
            "<tsRequest><credentials personalAccessTokenName=\"{}\" personalAccessTokenSecret=\"{}\"><site contentUrl=\"{}\"/></credentials></tsRequest>",
            c.pat_name, c.pat_secret, c.site_content_url
        );
        let r = client
            .post(format!("{}/api/3.27/auth/signin", handle.url()))
            .body(body)
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let token = doc
            .descendants()
            .find_map(|n| n.attribute("token"))
            .expect("a token")
            .to_string();
        Site {
            handle,
            client,
            token,
        }
    }

    fn path(&self, rest: &str) -> String {
        format!(
            "{}/api/3.27/sites/{}/{rest}",
            self.handle.url(),
            self.handle.state.data().site.id
        )
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let r = req
            .header("X-Tableau-Auth", &self.token)
            .send()
            .await
            .expect("request sent");
        Resp {
            status: r.status(),
            headers: r.headers().clone(),
            bytes: r.bytes().await.unwrap().to_vec(),
        }
    }

    async fn get(&self, rest: &str) -> Resp {
        self.send(self.client.get(self.path(rest))).await
    }

    async fn put(&self, rest: &str, body: &str) -> Resp {
        self.send(self.client.put(self.path(rest)).body(body.to_string()))
            .await
    }

    async fn multipart(
        &self,
        method: reqwest::Method,
        rest: &str,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> Resp {
        let boundary = "trm-test-7d1f0c2a9b";
        let mut body = Vec::new();
        for (name, filename, data) in parts {
            body.extend(format!("--{boundary}\r\n").as_bytes());
            let disp = match filename {
                Some(f) => format!("Content-Disposition: name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"),
                None => format!("Content-Disposition: name=\"{name}\"\r\nContent-Type: text/xml\r\n\r\n"),
            };
            body.extend(disp.as_bytes());
            body.extend(*data);
            body.extend(b"\r\n");
        }
        body.extend(format!("--{boundary}--\r\n").as_bytes());
        let req = self
            .client
            .request(method, self.path(rest))
            .header(
                "Content-Type",
                format!("multipart/mixed; boundary={boundary}"),
            )
            .body(body);
        self.send(req).await
    }

    async fn publish(
        &self,
        kind: &str,
        query: &str,
        payload: &str,
        file: Option<(&str, &[u8])>,
    ) -> Resp {
        let part = if kind == "workbooks" {
            "tableau_workbook"
        } else {
            "tableau_datasource"
        };
        let mut parts: Vec<(&str, Option<&str>, &[u8])> =
            vec![("request_payload", None, payload.as_bytes())];
        if let Some((name, bytes)) = file {
            parts.push((part, Some(name), bytes));
        }
        self.multipart(reqwest::Method::POST, &format!("{kind}?{query}"), &parts)
            .await
    }

    async fn graphql(&self, query: &str) -> Value {
        let r = self
            .client
            .post(format!("{}/api/metadata/graphql", self.handle.url()))
            .header("X-Tableau-Auth", &self.token)
            .json(&serde_json::json!({ "query": query }))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert!(
            v.get("errors")
                .is_none_or(|e| e.as_array().is_none_or(|a| a.is_empty())),
            "{v}"
        );
        v["data"].clone()
    }
}

/// A ZIP reader of the test's own (central directory; stored or deflated).
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]) as usize;
    let u32_at = |i: usize| {
        u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize
    };
    let end = (0..bytes.len() - 21)
        .rev()
        .find(|&i| bytes[i..i + 4] == [0x50, 0x4b, 5, 6])
        .expect("an end record");
    let mut at = u32_at(end + 16);
    let mut out = Vec::new();
    for _ in 0..u16_at(end + 10) {
        let (method, packed, name_len) = (u16_at(at + 10), u32_at(at + 20), u16_at(at + 28));
        let name = String::from_utf8(bytes[at + 46..at + 46 + name_len].to_vec()).unwrap();
        let local = u32_at(at + 42);
        at += 46 + name_len + u16_at(at + 30) + u16_at(at + 32);
        let start = local + 30 + u16_at(local + 26) + u16_at(local + 28);
        let raw = &bytes[start..start + packed];
        let data = if method == 8 {
            let mut v = Vec::new();
            flate2::read::DeflateDecoder::new(raw)
                .read_to_end(&mut v)
                .unwrap();
            v
        } else {
            raw.to_vec()
        };
        out.push((name, data));
    }
    out
}

/// The document XML of a downloaded file and its other entries.
fn document(bytes: &[u8]) -> (String, Vec<String>) {
    if bytes.starts_with(b"PK") {
        let entries = unzip(bytes);
        let doc = entries
            .iter()
            .find(|(n, _)| n.ends_with(".twb") || n.ends_with(".tds"))
            .expect("a document entry");
        (
            String::from_utf8(doc.1.clone()).unwrap(),
            entries.iter().map(|(n, _)| n.clone()).collect(),
        )
    } else {
        (String::from_utf8(bytes.to_vec()).unwrap(), Vec::new())
    }
}

fn unbracket(s: &str) -> String {
    s.trim_start_matches('[')
        .strip_suffix(']')
        .unwrap_or(s)
        .replace("]]", "]")
}

/// Field names of a `<datasource>` element: its columns (caption first),
/// groups and drill paths.
fn field_names(ds: roxmltree::Node) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for c in ds
        .children()
        .filter(|c| c.has_tag_name("column") || c.has_tag_name("group"))
    {
        names.insert(
            c.attribute("caption")
                .map(str::to_string)
                .unwrap_or_else(|| unbracket(c.attribute("name").unwrap())),
        );
    }
    for p in ds.descendants().filter(|c| c.has_tag_name("drill-path")) {
        names.insert(p.attribute("name").unwrap().to_string());
    }
    names
}

fn leaf_connection<'a>(ds: roxmltree::Node<'a, 'a>) -> roxmltree::Node<'a, 'a> {
    let top = ds
        .children()
        .find(|c| c.has_tag_name("connection"))
        .expect("a connection");
    if top.attribute("class") == Some("federated") {
        top.descendants()
            .find(|c| c.has_tag_name("named-connection"))
            .and_then(|n| n.children().find(|c| c.has_tag_name("connection")))
            .expect("a named connection")
    } else {
        top
    }
}

#[tokio::test]
async fn every_generated_document_agrees_with_the_dataset_model() {
    let site = Site::start(SimConfig::default()).await;
    let (workbooks, datasources) = {
        let d = site.handle.state.data();
        (
            d.workbooks.iter().map(|w| w.id.clone()).collect::<Vec<_>>(),
            d.datasources
                .iter()
                .map(|x| x.id.clone())
                .collect::<Vec<_>>(),
        )
    };
    let mut checked_fields = 0;
    for (i, id) in datasources.iter().enumerate() {
        let r = site
            .get(&format!("datasources/{id}/content"))
            .await
            .expect(StatusCode::OK);
        let disp = r
            .headers
            .get("content-disposition")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let (xml, entries) = document(&r.bytes);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let d = site.handle.state.data();
        let l = &d.lineage;
        let ds = &d.datasources[i];
        let src = &l.published[i];
        assert_eq!(src.has_extracts, disp.contains(".tdsx"), "{disp}");
        assert_eq!(
            src.has_extracts,
            entries.iter().any(|e| e.ends_with(".hyper")),
            "{entries:?}"
        );
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "datasource");
        assert_eq!(root.attribute("formatted-name"), Some(ds.name.as_str()));
        let conn = leaf_connection(root);
        let db = &l.databases[l.tables[src.tables[0] as usize].database as usize];
        assert_eq!(conn.attribute("class"), Some(db.connection_type));
        assert_eq!(conn.attribute("server"), Some(db.name.as_str()));
        assert_eq!(conn.attribute("port"), Some(db.port.to_string().as_str()));
        assert!(
            !conn.attribute("dbname").unwrap_or_default().is_empty()
                && !conn.attribute("username").unwrap_or_default().is_empty()
        );
        let want: BTreeSet<String> = src
            .fields
            .clone()
            .map(|f| l.fields[f as usize].name.clone())
            .collect();
        assert_eq!(field_names(root), want, "fields of {}", ds.name);
        checked_fields += want.len();
        // Calculations carry the model's formulas; tables are the model's.
        for f in src
            .fields
            .clone()
            .filter(|&f| l.fields[f as usize].kind == FieldKind::Calculated)
        {
            let field = &l.fields[f as usize];
            let el = root
                .children()
                .find(|c| {
                    c.has_tag_name("column")
                        && c.attribute("name").map(unbracket).as_deref()
                            == Some(field.name.as_str())
                })
                .unwrap();
            let calc = el
                .children()
                .find(|c| c.has_tag_name("calculation"))
                .unwrap();
            assert_eq!(calc.attribute("formula"), field.formula.as_deref());
        }
        let tables: BTreeSet<String> = root
            .descendants()
            .filter(|n| {
                n.has_tag_name("relation")
                    && matches!(n.attribute("type"), Some("table") | Some("text"))
                    && n.attribute("connection").is_some()
            })
            .map(|n| {
                n.attribute("table")
                    .map(str::to_string)
                    .unwrap_or_else(|| "Custom SQL Query".into())
            })
            .collect();
        let want: BTreeSet<String> = src
            .tables
            .iter()
            .map(|&t| {
                let t = &l.tables[t as usize];
                if t.query.is_some() {
                    "Custom SQL Query".to_string()
                } else {
                    t.full_name()
                }
            })
            .collect();
        assert_eq!(tables, want);
    }
    for (w, id) in workbooks.iter().enumerate() {
        let r = site
            .get(&format!("workbooks/{id}/content"))
            .await
            .expect(StatusCode::OK);
        let (xml, entries) = document(&r.bytes);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let d = site.handle.state.data();
        let l = &d.lineage;
        let wb = &d.workbooks[w];
        let root = doc.root_element();
        let sources: Vec<roxmltree::Node> = root
            .children()
            .filter(|c| c.has_tag_name("datasources"))
            .flat_map(|c| c.children().filter(|c| c.has_tag_name("datasource")))
            .collect();
        assert_eq!(sources.len(), wb.embedded_datasources.len());
        let mut internal: HashMap<String, u32> = HashMap::new();
        for (k, e) in wb.embedded_datasources.clone().enumerate() {
            let emb = &d.embedded_datasources[e as usize];
            let ds = sources[k];
            assert_eq!(ds.attribute("caption"), Some(emb.name.as_str()));
            internal.insert(ds.attribute("name").unwrap().to_string(), e);
            let conn = leaf_connection(ds);
            match emb.published {
                Some(p) => {
                    assert_eq!(conn.attribute("class"), Some("sqlproxy"));
                    assert_eq!(
                        conn.attribute("dbname"),
                        Some(d.datasources[p as usize].content_url.as_str())
                    );
                }
                None => {
                    let t = l.embedded[e as usize].tables[0];
                    assert_eq!(
                        conn.attribute("server"),
                        Some(
                            l.databases[l.tables[t as usize].database as usize]
                                .name
                                .as_str()
                        )
                    );
                }
            }
            let want: BTreeSet<String> = l.embedded[e as usize]
                .fields
                .clone()
                .map(|f| l.fields[f as usize].name.clone())
                .collect();
            assert_eq!(field_names(ds), want);
            checked_fields += want.len();
            assert_eq!(
                l.embedded[e as usize].has_extracts,
                entries.contains(&format!(
                    "Data/Extracts/{}.hyper",
                    emb.name.replace(['/', '\\', ':'], "_")
                ))
            );
        }
        let sheets: Vec<roxmltree::Node> = root
            .descendants()
            .filter(|n| n.has_tag_name("worksheet"))
            .collect();
        let views: Vec<u32> = wb
            .views
            .clone()
            .filter(|&v| d.views[v as usize].sheet_type == SheetType::Worksheet)
            .collect();
        assert_eq!(
            sheets
                .iter()
                .map(|s| s.attribute("name").unwrap())
                .collect::<Vec<_>>(),
            views
                .iter()
                .map(|&v| d.views[v as usize].name.as_str())
                .collect::<Vec<_>>()
        );
        for (s, &v) in sheets.iter().zip(&views) {
            let mut used = BTreeSet::new();
            for dep in s
                .descendants()
                .filter(|n| n.has_tag_name("datasource-dependencies"))
            {
                let e = internal[dep.attribute("datasource").unwrap()];
                for c in dep.children().filter(|c| c.has_tag_name("column-instance")) {
                    used.insert((e, unbracket(c.attribute("column").unwrap())));
                }
            }
            let sheet = &l.sheets[l.view_sheet[v as usize].unwrap() as usize];
            let want: BTreeSet<(u32, String)> = sheet
                .fields
                .iter()
                .map(|&f| {
                    let Owner::Embedded(e) = l.fields[f as usize].owner else {
                        panic!("a sheet field of a published source")
                    };
                    (e, l.fields[f as usize].name.clone())
                })
                .collect();
            assert_eq!(used, want, "sheet {}", d.views[v as usize].name);
        }
        let dashboards: Vec<String> = root
            .descendants()
            .filter(|n| n.has_tag_name("dashboard"))
            .map(|n| n.attribute("name").unwrap().to_string())
            .collect();
        let want: Vec<String> = wb
            .views
            .clone()
            .filter(|&v| d.views[v as usize].sheet_type != SheetType::Worksheet)
            .map(|v| d.views[v as usize].name.clone())
            .collect();
        assert_eq!(dashboards, want);
    }
    assert!(checked_fields > 200, "only {checked_fields} fields checked");
    // includeExtract=false leaves the extract out of a package.
    let with_extract = {
        let d = site.handle.state.data();
        d.workbooks
            .iter()
            .find(|w| w.has_extracts)
            .map(|w| w.id.clone())
            .expect("a workbook with an extract")
    };
    let full = site
        .get(&format!("workbooks/{with_extract}/content"))
        .await
        .expect(StatusCode::OK);
    let lean = site
        .get(&format!(
            "workbooks/{with_extract}/content?includeExtract=False"
        ))
        .await
        .expect(StatusCode::OK);
    assert!(unzip(&full.bytes)
        .iter()
        .any(|(n, _)| n.ends_with(".hyper")));
    assert!(!unzip(&lean.bytes)
        .iter()
        .any(|(n, _)| n.ends_with(".hyper")));
    // The same state gives the same bytes.
    assert_eq!(
        site.get(&format!("workbooks/{with_extract}/content"))
            .await
            .bytes,
        full.bytes
    );
    site.handle.stop().await;
}

fn payload(kind: &str, name: &str, project: &str, extra: &str) -> String {
    format!("<tsRequest><{kind} name=\"{name}\" showTabs=\"true\" description=\"published in a test\"><project id=\"{project}\"/>{extra}</{kind}></tsRequest>")
}

#[tokio::test]
async fn a_published_workbook_is_as_real_as_a_generated_one() {
    let site = Site::start(SimConfig {
        env: Some(Env::Dev),
        ..SimConfig::default()
    })
    .await;
    let (hr, source_id, target_project) = {
        let d = site.handle.state.data();
        let hr = d
            .workbooks
            .iter()
            .find(|w| w.name == "Attrition Analysis")
            .unwrap()
            .id
            .clone();
        let src = d
            .workbooks
            .iter()
            .find(|w| !w.has_extracts && w.embedded_datasources.len() == 2)
            .unwrap()
            .id
            .clone();
        (hr, src, d.projects[0].id.clone())
    };
    let file = site
        .get(&format!("workbooks/{source_id}/content"))
        .await
        .expect(StatusCode::OK);
    site.handle.state.calls.clear();
    let before = site.handle.state.data().workbooks.len();
    let r = site
        .publish(
            "workbooks",
            "workbookType=twb&skipConnectionCheck=true",
            &payload("workbook", "Copied Book", &target_project, ""),
            Some(("Copied Book.twb", &file.bytes)),
        )
        .await
        .expect(StatusCode::CREATED);
    let new_id = r.attrs("workbook", "id")[0].clone();
    let published_views = r.attrs("view", "name");
    {
        let d = site.handle.state.data();
        assert_eq!(d.workbooks.len(), before + 1);
        let src = d.workbooks.iter().find(|w| w.id == source_id).unwrap();
        let names: Vec<&str> = src
            .views
            .clone()
            .map(|v| d.views[v as usize].name.as_str())
            .collect();
        assert_eq!(published_views, names);
        let new = d.workbooks.last().unwrap();
        assert_eq!(new.id, new_id);
        assert!(new.show_tabs);
        assert_eq!(new.description, "published in a test");
        // Each embedded datasource reads the same published datasource or tables.
        let l = &d.lineage;
        let shape = |w: &trm::sim::dataset::Workbook| -> Vec<(Option<u32>, Vec<String>, usize)> {
            w.embedded_datasources
                .clone()
                .map(|e| {
                    let tables = l.embedded[e as usize]
                        .tables
                        .iter()
                        .map(|&t| l.tables[t as usize].full_name())
                        .collect();
                    (
                        d.embedded_datasources[e as usize].published,
                        tables,
                        l.embedded[e as usize].fields.len(),
                    )
                })
                .collect()
        };
        assert_eq!(shape(new), shape(src));
    }
    let calls = site.handle.state.calls.snapshot();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (
            calls[0].method.as_str(),
            calls[0].path.as_str(),
            calls[0].status
        ),
        ("POST", "/workbooks", 201)
    );

    // REST reads: views and connections.
    let views = site
        .get(&format!("workbooks/{new_id}/views"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(views.attrs("view", "name"), published_views);
    let conns = site
        .get(&format!("workbooks/{new_id}/connections"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(conns.attrs("connection", "id").len(), 2);

    // The Metadata API: sheets, dashboards, fields and upstream tables.
    let q = format!(
        "{{ workbooks(filter: {{luid: \"{new_id}\"}}) {{ name sheets {{ name datasourceFields {{ name }} }} dashboards {{ name }} \
         upstreamTables {{ fullName database {{ name }} }} upstreamDatasources {{ name }} }} }}"
    );
    let v = site.graphql(&q).await;
    let wb = &v["workbooks"][0];
    assert_eq!(wb["name"], "Copied Book");
    let d = site.handle.state.data();
    let src = d.workbooks.iter().find(|w| w.id == source_id).unwrap();
    let want_sheets: BTreeSet<String> = src
        .views
        .clone()
        .filter(|&v| d.views[v as usize].sheet_type == SheetType::Worksheet)
        .map(|v| d.views[v as usize].name.clone())
        .collect();
    let got_sheets: BTreeSet<String> = wb["sheets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got_sheets, want_sheets);
    let want_dash = src
        .views
        .clone()
        .filter(|&v| d.views[v as usize].sheet_type == SheetType::Dashboard)
        .count();
    assert_eq!(wb["dashboards"].as_array().unwrap().len(), want_dash);
    let servers: BTreeSet<&str> = wb["upstreamTables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["database"]["name"].as_str().unwrap())
        .collect();
    assert!(!servers.is_empty());
    let l = &d.lineage;
    let want_servers: BTreeSet<&str> = src
        .embedded_datasources
        .clone()
        .flat_map(|e| {
            let tables = match d.embedded_datasources[e as usize].published {
                Some(p) => l.published[p as usize].tables.clone(),
                None => l.embedded[e as usize].tables.clone(),
            };
            tables
                .into_iter()
                .map(|t| {
                    l.databases[l.tables[t as usize].database as usize]
                        .name
                        .as_str()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(servers, want_servers);
    drop(d);

    // Overwrite replaces: the HR workbook's document under the copy's name.
    let hr_file = site
        .get(&format!("workbooks/{hr}/content"))
        .await
        .expect(StatusCode::OK);
    let views_before = site.handle.state.data().views.len();
    let r = site
        .publish(
            "workbooks",
            "workbookType=twbx",
            &payload("workbook", "Copied Book", &target_project, ""),
            Some(("Copied Book.twbx", &hr_file.bytes)),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::CONFLICT, "409005".to_string())
    );
    let r = site
        .publish(
            "workbooks",
            "workbookType=twbx&overwrite=true",
            &payload("workbook", "Copied Book", &target_project, ""),
            Some(("Copied Book.twbx", &hr_file.bytes)),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(r.attrs("workbook", "id"), [new_id.clone()]);
    assert_eq!(
        r.attrs("view", "name"),
        [
            "Attrition by Department",
            "Exit Reasons",
            "Attrition Dashboard"
        ]
    );
    let d = site.handle.state.data();
    assert_eq!(d.views.len(), views_before - published_views.len() + 3);
    let w = d.workbooks.iter().position(|w| w.id == new_id).unwrap();
    assert!(d.workbooks[w].has_extracts);
    for (v, view) in d.views.iter().enumerate() {
        assert_eq!(
            d.lookup(&view.id),
            Some(trm::sim::dataset::Entity::View(v as u32))
        );
        let wb = &d.workbooks[view.workbook as usize];
        assert!(
            wb.views.contains(&(v as u32)),
            "view {} outside its workbook's range",
            view.name
        );
    }
    for s in &d.lineage.sheets {
        assert_eq!(
            d.lineage.view_sheet[s.view as usize].map(|x| &d.lineage.sheets[x as usize].id),
            Some(&s.id)
        );
    }
    drop(d);
    let v = site.graphql(&format!("{{ workbooks(filter: {{luid: \"{new_id}\"}}) {{ sheets {{ name }} upstreamDatasources {{ name }} }} }}")).await;
    let names: BTreeSet<&str> = v["workbooks"][0]["sheets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["Attrition by Department", "Exit Reasons"])
    );
    assert_eq!(
        v["workbooks"][0]["upstreamDatasources"][0]["name"],
        "HR Core"
    );
    site.handle.stop().await;
}

#[tokio::test]
async fn malformed_documents_and_bodies_get_400_and_create_nothing() {
    let site = Site::start(SimConfig::default()).await;
    let project = site.handle.state.data().projects[0].id.clone();
    let count = |s: &Site| {
        let d = s.handle.state.data();
        (
            d.workbooks.len(),
            d.views.len(),
            d.datasources.len(),
            d.lineage.fields.len(),
            d.lineage.tables.len(),
        )
    };
    let before = count(&site);
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "workbooks",
            "bad.twb",
            b"<workbook><datasources><datasource".to_vec(),
            "400011",
        ),
        (
            "workbooks",
            "bad.twbx",
            b"PK\x03\x04 definitely not a zip".to_vec(),
            "400011",
        ),
        (
            "workbooks",
            "empty.twb",
            b"<?xml version='1.0'?><workbook/>".to_vec(),
            "400011",
        ),
        ("workbooks", "a.tds", b"<datasource/>".to_vec(), "400005"),
        (
            "datasources",
            "wb.tds",
            b"<workbook><worksheets><worksheet name='x'/></worksheets></workbook>".to_vec(),
            "400011",
        ),
    ];
    for (kind, name, bytes, code) in cases {
        let elem = if kind == "workbooks" {
            "workbook"
        } else {
            "datasource"
        };
        let r = site
            .publish(
                kind,
                "",
                &payload(elem, "Broken", &project, ""),
                Some((name, &bytes)),
            )
            .await;
        assert_eq!(
            (r.status, r.error_code()),
            (StatusCode::BAD_REQUEST, code.to_string()),
            "{name}"
        );
    }
    // Not multipart; no payload; no file.
    let r = site
        .send(
            site.client
                .post(site.path("workbooks"))
                .header("Content-Type", "text/xml")
                .body("<tsRequest/>"),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::BAD_REQUEST, "400000".to_string())
    );
    let r = site
        .multipart(
            reqwest::Method::POST,
            "workbooks",
            &[("tableau_workbook", Some("a.twb"), b"<workbook/>")],
        )
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::BAD_REQUEST, "400000".to_string())
    );
    let r = site
        .publish(
            "workbooks",
            "",
            &payload("workbook", "Broken", &project, ""),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::BAD_REQUEST, "400000".to_string())
    );
    let r = site
        .publish(
            "workbooks",
            "uploadSessionId=nope&workbookType=twb",
            &payload("workbook", "Broken", &project, ""),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::NOT_FOUND, "404024".to_string())
    );
    assert_eq!(count(&site), before);
    site.handle.stop().await;
}

#[tokio::test]
async fn chunked_uploads_publish_and_are_counted_in_the_call_log() {
    let site = Site::start(SimConfig {
        env: Some(Env::Dev),
        ..SimConfig::default()
    })
    .await;
    let (ds_id, project) = {
        let d = site.handle.state.data();
        let x = d.datasources.iter().find(|x| x.name == "HR Core").unwrap();
        (x.id.clone(), d.projects[0].id.clone())
    };
    let file = site
        .get(&format!("datasources/{ds_id}/content"))
        .await
        .expect(StatusCode::OK);
    assert!(file.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("filename=\"HR Core.tds\""));
    site.handle.state.calls.clear();
    let r = site
        .send(site.client.post(site.path("fileUploads")))
        .await
        .expect(StatusCode::CREATED);
    let upload = r.attrs("fileUpload", "uploadSessionId")[0].clone();
    let chunks: Vec<&[u8]> = file.bytes.chunks(file.bytes.len() / 3 + 1).collect();
    assert_eq!(chunks.len(), 3);
    for c in &chunks {
        site.multipart(
            reqwest::Method::PUT,
            &format!("fileUploads/{upload}"),
            &[
                ("request_payload", None, b""),
                ("tableau_file", Some("file"), c),
            ],
        )
        .await
        .expect(StatusCode::OK);
    }
    let r = site
        .publish(
            "datasources",
            &format!("uploadSessionId={upload}&datasourceType=tds"),
            &payload(
                "datasource",
                "HR Core Copy",
                &project,
                "<connectionCredentials name=\"svc\" password=\"s3cret\" embed=\"true\"/>",
            ),
            None,
        )
        .await
        .expect(StatusCode::CREATED);
    let new_id = r.attrs("datasource", "id")[0].clone();
    let calls = site.handle.state.calls.snapshot();
    let shape: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c.method.as_str(), c.path.split('/').nth(1).unwrap_or("")))
        .collect();
    assert_eq!(
        shape,
        [
            ("POST", "fileUploads"),
            ("PUT", "fileUploads"),
            ("PUT", "fileUploads"),
            ("PUT", "fileUploads"),
            ("POST", "datasources")
        ]
    );
    // The document arrived whole: downloading gives back what was uploaded.
    let back = site
        .get(&format!("datasources/{new_id}/content"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(back.bytes, file.bytes);
    let conns = site
        .get(&format!("datasources/{new_id}/connections"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(conns.attrs("connection", "userName"), ["svc"]);
    assert_eq!(conns.attrs("connection", "embedPassword"), ["true"]);
    assert!(!conns.text().contains("s3cret"));
    // An upload session is used once.
    let r = site
        .publish(
            "datasources",
            &format!("uploadSessionId={upload}&datasourceType=tds"),
            &payload("datasource", "Again", &project, ""),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    site.handle.stop().await;
}

#[tokio::test]
async fn connection_edits_reach_reads_and_downloads() {
    let site = Site::start(SimConfig {
        env: Some(Env::Dev),
        ..SimConfig::default()
    })
    .await;
    let (generated, published) = {
        let d = site.handle.state.data();
        let g = d
            .workbooks
            .iter()
            .find(|w| {
                w.embedded_datasources
                    .clone()
                    .any(|e| d.embedded_datasources[e as usize].published.is_none())
                    && !d.docs.stored.contains_key(&Target::Workbook(0))
            })
            .unwrap()
            .id
            .clone();
        let p = d
            .datasources
            .iter()
            .find(|x| x.name == "HR Core")
            .unwrap()
            .id
            .clone();
        (g, p)
    };
    for (kind, id) in [("workbooks", &generated), ("datasources", &published)] {
        let conns = site
            .get(&format!("{kind}/{id}/connections"))
            .await
            .expect(StatusCode::OK);
        let types = conns.attrs("connection", "type");
        let k = types
            .iter()
            .position(|t| t != "sqlproxy")
            .expect("a direct connection");
        let cid = conns.attrs("connection", "id")[k].clone();
        let old_server = conns.attrs("connection", "serverAddress")[k].clone();
        let body = "<tsRequest><connection serverAddress=\"db.prod.example.com\" serverPort=\"6543\" userName=\"prod_reader\" password=\"pw\" embedPassword=\"true\"/></tsRequest>";
        let r = site
            .put(&format!("{kind}/{id}/connections/{cid}"), body)
            .await
            .expect(StatusCode::OK);
        assert_eq!(
            r.attrs("connection", "serverAddress"),
            ["db.prod.example.com"]
        );
        let conns = site
            .get(&format!("{kind}/{id}/connections"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(
            conns.attrs("connection", "serverAddress")[k],
            "db.prod.example.com"
        );
        assert_eq!(conns.attrs("connection", "serverPort")[k], "6543");
        assert_eq!(conns.attrs("connection", "userName")[k], "prod_reader");
        let file = site
            .get(&format!("{kind}/{id}/content"))
            .await
            .expect(StatusCode::OK);
        let (xml, _) = document(&file.bytes);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let servers: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("connection"))
            .filter_map(|n| n.attribute("server"))
            .collect();
        assert!(servers.contains(&"db.prod.example.com"), "{servers:?}");
        assert!(!servers.contains(&old_server.as_str()), "{servers:?}");
        let r = site
            .put(
                &format!("{kind}/{id}/connections/00000000-0000-4000-8000-000000000000"),
                body,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    // The lineage follows: HR Core's tables now sit under the new server,
    // with the same names and column fields.
    let v = site
        .graphql("{ publishedDatasources(filter: {name: \"HR Core\"}) { upstreamTables { name database { name } } fields { ... on ColumnField { name upstreamColumns { name } } } } }")
        .await;
    let ds = &v["publishedDatasources"][0];
    let tables: BTreeSet<(&str, &str)> = ds["upstreamTables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["database"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tables,
        BTreeSet::from([
            ("departments", "db.prod.example.com"),
            ("employees", "db.prod.example.com")
        ])
    );
    let column_fields: Vec<&Value> = ds["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("upstreamColumns").is_some())
        .collect();
    assert!(
        column_fields.len() >= 10,
        "{} column fields",
        column_fields.len()
    );
    for f in column_fields {
        assert_eq!(f["upstreamColumns"].as_array().unwrap().len(), 1, "{f}");
    }
    site.handle.stop().await;
}

#[tokio::test]
async fn dev_and_prod_hold_the_promotion_scenario() {
    let dev = Site::start(SimConfig {
        env: Some(Env::Dev),
        ..SimConfig::default()
    })
    .await;
    let prod = Site::start(SimConfig {
        env: Some(Env::Prod),
        ..SimConfig::default()
    })
    .await;
    {
        let d = dev.handle.state.data();
        let hr = d
            .projects
            .iter()
            .position(|p| p.name == "HR Dashboards" && p.parent.is_none())
            .unwrap() as u32;
        let core = d
            .datasources
            .iter()
            .position(|x| x.name == "HR Core" && x.project == hr)
            .unwrap() as u32;
        let users: Vec<&str> = d
            .workbooks
            .iter()
            .enumerate()
            .filter(|(_, w)| {
                w.project == hr
                    && w.embedded_datasources
                        .clone()
                        .any(|e| d.embedded_datasources[e as usize].published == Some(core))
            })
            .map(|(_, w)| w.name.as_str())
            .collect();
        assert_eq!(
            users,
            [
                "Headcount Overview",
                "Attrition Analysis",
                "Compensation Review"
            ]
        );
        let attrition = d
            .workbooks
            .iter()
            .find(|w| w.name == "Attrition Analysis")
            .unwrap();
        assert!(attrition.has_extracts && !attrition.tags.is_empty());
        assert!(d
            .projects
            .iter()
            .any(|p| p.name == "Archive" && p.parent == Some(hr)));
        let p = d
            .projects
            .iter()
            .position(|p| p.name == "HR Dashboards")
            .unwrap() as u32;
        let pd = prod.handle.state.data();
        let php = pd
            .projects
            .iter()
            .position(|p| p.name == "HR Dashboards")
            .unwrap() as u32;
        let in_prod: Vec<&str> = pd
            .workbooks
            .iter()
            .filter(|w| w.project == php)
            .map(|w| w.name.as_str())
            .collect();
        assert_eq!(in_prod, ["Headcount Overview"]);
        assert!(!pd
            .datasources
            .iter()
            .any(|x| x.name == "HR Core" && x.project == php));
        assert!(
            pd.datasources.iter().any(|x| x.name == "HR Core"),
            "a clashing name in another project"
        );
        assert_ne!(d.site.id, pd.site.id);
        assert_ne!(d.workbooks[0].id, pd.workbooks[0].id);
        let _ = p;
    }
    let id = dev
        .handle
        .state
        .data()
        .workbooks
        .iter()
        .find(|w| w.name == "Attrition Analysis")
        .unwrap()
        .id
        .clone();
    let r = dev
        .get(&format!("workbooks/{id}/content"))
        .await
        .expect(StatusCode::OK);
    assert!(r.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("Attrition Analysis.twbx"));
    assert!(unzip(&r.bytes)
        .iter()
        .any(|(n, b)| n == "Data/Extracts/Exit Interviews.hyper" && b.len() > 1000));
    let v = dev.graphql("{ publishedDatasources(filter: {name: \"HR Core\"}) { name downstreamWorkbooks { name } upstreamTables { name database { name } } } }").await;
    let ds = &v["publishedDatasources"][0];
    let wbs: BTreeSet<&str> = ds["downstreamWorkbooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        wbs,
        BTreeSet::from([
            "Attrition Analysis",
            "Compensation Review",
            "Headcount Overview"
        ])
    );
    let dbs: BTreeSet<&str> = ds["upstreamTables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["database"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(dbs, BTreeSet::from(["hr-db.dev.example.com"]));
    dev.handle.stop().await;
    prod.handle.stop().await;
}

#[path = "support/external.rs"]
mod external;

/// The document XML and the sheets a file's workbook has: its top-level
/// worksheets and dashboards, read with roxmltree.
fn reference_views(xml: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let root = doc.root_element();
    let under = |list: &str, item: &str| -> Vec<String> {
        root.children()
            .filter(|c| c.has_tag_name(list))
            .flat_map(|c| {
                c.children()
                    .filter(|x| x.has_tag_name(item))
                    .map(|x| x.attribute("name").unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let mut v = under("worksheets", "worksheet");
    v.extend(under("dashboards", "dashboard"));
    v
}

#[tokio::test]
async fn every_reference_document_publishes_as_tableau_would() {
    let Some(dir) = external::shared(
        "reference/documents",
        "every_reference_document_publishes_as_tableau_would",
    ) else {
        return;
    };
    let site = Site::start(SimConfig::default()).await;
    let project = site.handle.state.data().projects[0].id.clone();
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).into_iter().flatten())
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("twb" | "twbx" | "tds" | "tdsx")
            )
        })
        .collect();
    files.sort();
    let (mut published, mut refused) = (0, 0);
    for (i, path) in files.iter().enumerate() {
        let bytes = std::fs::read(path).unwrap();
        let ext = path.extension().unwrap().to_str().unwrap();
        let workbook = ext.starts_with("twb");
        let (xml, _) = document(&bytes);
        let name = format!("Reference {i}");
        let file = path.file_name().unwrap().to_str().unwrap();
        let (kind, elem) = if workbook {
            ("workbooks", "workbook")
        } else {
            ("datasources", "datasource")
        };
        let r = site
            .publish(
                kind,
                &format!("{elem}Type={ext}"),
                &payload(elem, &name, &project, ""),
                Some((file, &bytes)),
            )
            .await;
        let views = reference_views(&xml);
        if workbook && views.is_empty() {
            assert_eq!(
                (r.status, r.error_code()),
                (StatusCode::BAD_REQUEST, "400011".to_string()),
                "{file}"
            );
            refused += 1;
            continue;
        }
        let r = r.expect(StatusCode::CREATED);
        published += 1;
        let id = r.attrs(elem, "id")[0].clone();
        if workbook {
            assert_eq!(r.attrs("view", "name"), views, "{file}");
        }
        // Connections: every leaf connection of the document, in order.
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let sources: Vec<roxmltree::Node> = if workbook {
            doc.root_element()
                .children()
                .filter(|c| c.has_tag_name("datasources"))
                .flat_map(|c| {
                    c.children()
                        .filter(|d| d.has_tag_name("datasource"))
                        .collect::<Vec<_>>()
                })
                .filter(|d| {
                    d.attribute("hasconnection") != Some("false")
                        && d.attribute("name") != Some("Parameters")
                })
                .collect()
        } else {
            vec![doc.root_element()]
        };
        let mut want = Vec::new();
        for s in sources {
            let Some(top) = s.children().find(|c| c.has_tag_name("connection")) else {
                continue;
            };
            if top.attribute("class") == Some("federated") {
                for nc in top
                    .descendants()
                    .filter(|n| n.has_tag_name("named-connection"))
                {
                    if let Some(leaf) = nc.children().find(|c| c.has_tag_name("connection")) {
                        want.push((
                            leaf.attribute("class").unwrap_or_default().to_string(),
                            leaf.attribute("server").unwrap_or_default().to_string(),
                        ));
                    }
                }
            } else {
                want.push((
                    top.attribute("class").unwrap_or_default().to_string(),
                    top.attribute("server").unwrap_or_default().to_string(),
                ));
            }
        }
        let conns = site
            .get(&format!("{kind}/{id}/connections"))
            .await
            .expect(StatusCode::OK);
        let got: Vec<(String, String)> = conns
            .attrs("connection", "type")
            .into_iter()
            .zip(conns.attrs("connection", "serverAddress"))
            .collect();
        assert_eq!(got, want, "{file}");
        // Downloads give back the published bytes.
        assert_eq!(
            site.get(&format!("{kind}/{id}/content"))
                .await
                .expect(StatusCode::OK)
                .bytes,
            bytes,
            "{file}"
        );
    }
    assert!(
        published >= 15 && refused >= 3,
        "{published} published, {refused} refused"
    );
    site.handle.stop().await;
}
