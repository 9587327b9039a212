//! Writes the Tableau document behind a generated workbook or published
//! datasource from the site's lineage: the same datasources and
//! connections, the fields (columns, calculations with their formulas,
//! groups, bins, sets, hierarchies), the worksheets that use them and the
//! dashboards that hold the worksheets. Deterministic: the same state gives
//! the same bytes.
//!
//! Field names are the lineage's names (`[Customer Name]`), so formulas
//! read as they do in the Metadata API; the upstream column of a column
//! field is in its `<metadata-record>` (`remote-name`, `parent-name`).

use quick_xml::escape::{escape, partial_escape};

use crate::sim::dataset::docs::ConnRecord;
use crate::sim::dataset::lineage::{bracket, FieldKind, Owner};
use crate::sim::dataset::rng::{mix, Rng};
use crate::sim::dataset::{Dataset, SheetType, Target};

pub const VERSION: &str = "18.1";
const BUILD: &str = "20253.25.1010.1043";
const USER_NS: &str = "http://www.tableausoftware.com/xml/user";

/// A small XML writer with Tableau's layout: single-quoted attributes in the
/// given order, two-space indentation.
pub(crate) struct Xml {
    out: String,
    depth: usize,
}

impl Xml {
    pub fn new() -> Xml {
        Xml { out: format!("<?xml version='1.0' encoding='utf-8' ?>\n\n<!-- build {BUILD}                               -->\n"), depth: 0 }
    }

    fn tag(&mut self, name: &str, attrs: &[(&str, &str)], close: &str) {
        self.out.push_str(&"  ".repeat(self.depth));
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push_str(&format!(" {k}='{}'", escape(*v)));
        }
        self.out.push_str(close);
        self.out.push('\n');
    }

    pub fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.tag(name, attrs, ">");
        self.depth += 1;
    }

    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.tag(name, attrs, " />");
    }

    pub fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.out.push_str(&"  ".repeat(self.depth));
        self.out.push_str(&format!("</{name}>\n"));
    }

    pub fn text(&mut self, name: &str, text: &str) {
        self.out.push_str(&"  ".repeat(self.depth));
        self.out
            .push_str(&format!("<{name}>{}</{name}>\n", partial_escape(text)));
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Where the site is, as documents name it (`sqlproxy` connections,
/// repository locations).
#[derive(Clone, Debug)]
pub struct SiteRef {
    pub host: String,
    pub port: String,
    pub site: String,
}

impl SiteRef {
    pub fn from_base_url(base: &str, site: &str) -> SiteRef {
        let hostport = base
            .split("://")
            .nth(1)
            .unwrap_or(base)
            .trim_end_matches('/');
        let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "80"));
        SiteRef {
            host: host.to_string(),
            port: port.to_string(),
            site: site.to_string(),
        }
    }
}

fn key_of(s: &str) -> u64 {
    s.bytes().fold(0x7d0c_u64, |h, b| mix(h ^ b as u64))
}

/// Tableau's generated datasource and connection names end in 28 base-36
/// characters.
fn suffix(seed: &str) -> String {
    let mut rng = Rng::new(key_of(seed));
    (0..28)
        .map(|_| char::from_digit(rng.below(36) as u32, 36).unwrap_or('0'))
        .collect()
}

pub fn conn_id(item_id: &str, i: usize) -> String {
    Rng::new(mix(key_of(item_id) ^ (i as u64 + 1) << 32)).uuid()
}

fn default_dbname(host: &str) -> String {
    host.split('.').next().unwrap_or(host).replace('-', "_")
}

/// The database a lineage source reads, with its dbname and user.
fn direct_conn(d: &Dataset, tables: &[u32], id: String, ds_name: &str) -> ConnRecord {
    let l = &d.lineage;
    let db = tables
        .first()
        .map(|&t| &l.databases[l.tables[t as usize].database as usize]);
    let (class, server, port) = db.map_or(("textscan", String::new(), String::new()), |db| {
        (db.connection_type, db.name.clone(), db.port.to_string())
    });
    ConnRecord {
        id,
        class: class.to_string(),
        dbname: default_dbname(&server),
        username: format!("svc_{}", class.replace('-', "_")),
        server,
        port,
        embed_password: true,
        published: None,
        datasource_name: ds_name.to_string(),
    }
}

/// The connections of a workbook (one per embedded datasource) or of a
/// published datasource: those recorded by a publish or an edit, else the
/// lineage's.
pub fn connections(d: &Dataset, target: Target, site: &SiteRef) -> Vec<ConnRecord> {
    if let Some(c) = d.docs.conns.get(&target) {
        return c.clone();
    }
    match target {
        Target::Datasource(x) => {
            let ds = &d.datasources[x as usize];
            vec![direct_conn(
                d,
                &d.lineage.published[x as usize].tables,
                conn_id(&ds.id, 0),
                &ds.name,
            )]
        }
        Target::Workbook(w) => {
            let wb = &d.workbooks[w as usize];
            wb.embedded_datasources
                .clone()
                .enumerate()
                .map(|(i, e)| {
                    let emb = &d.embedded_datasources[e as usize];
                    match emb.published {
                        Some(p) => ConnRecord {
                            id: conn_id(&wb.id, i),
                            class: "sqlproxy".into(),
                            server: site.host.clone(),
                            port: site.port.clone(),
                            dbname: d.datasources[p as usize].content_url.clone(),
                            username: String::new(),
                            embed_password: false,
                            published: Some(p),
                            datasource_name: emb.name.clone(),
                        },
                        None => direct_conn(
                            d,
                            &d.lineage.embedded[e as usize].tables,
                            conn_id(&wb.id, i),
                            &emb.name,
                        ),
                    }
                })
                .collect()
        }
    }
}

fn doc_type(t: &str) -> &'static str {
    match t {
        "INTEGER" => "integer",
        "REAL" => "real",
        "DATE" => "date",
        "DATETIME" => "datetime",
        "BOOLEAN" => "boolean",
        _ => "string",
    }
}

fn remote_code(t: &str) -> &'static str {
    match t {
        "I8" => "20",
        "I4" => "3",
        "R8" => "5",
        "DBDATE" => "133",
        "DBTIMESTAMP" => "135",
        "BOOL" => "11",
        _ => "130",
    }
}

/// The attributes every `<column>` has.
fn column_attrs(d: &Dataset, f: u32) -> Vec<(&'static str, String)> {
    let field = &d.lineage.fields[f as usize];
    let dt = doc_type(field.data_type);
    let measure = field.role == "MEASURE";
    let ty = if measure {
        "quantitative"
    } else if matches!(dt, "date" | "datetime") {
        "ordinal"
    } else {
        "nominal"
    };
    let mut a = vec![
        ("datatype", dt.to_string()),
        ("name", bracket(&field.name)),
        (
            "role",
            if measure { "measure" } else { "dimension" }.to_string(),
        ),
        ("type", ty.to_string()),
    ];
    if field.hidden {
        a.push(("hidden", "true".into()));
    }
    a
}

fn refs<'a>(a: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    a.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A `<column>` (or `<group>`) element for one field, calculation included.
fn write_field(x: &mut Xml, d: &Dataset, f: u32) {
    let l = &d.lineage;
    let field = &l.fields[f as usize];
    let attrs = column_attrs(d, f);
    let first_ref = field
        .refs
        .first()
        .map(|&r| bracket(&l.fields[r as usize].name))
        .unwrap_or_default();
    match field.kind {
        FieldKind::Column | FieldKind::Datasource => x.empty("column", &refs(&attrs)),
        FieldKind::Calculated => {
            x.open("column", &refs(&attrs));
            x.empty(
                "calculation",
                &[
                    ("class", "tableau"),
                    ("formula", field.formula.as_deref().unwrap_or("")),
                ],
            );
            x.close("column");
        }
        FieldKind::Group => {
            x.open("column", &refs(&attrs));
            x.open(
                "calculation",
                &[
                    ("class", "categorical-bin"),
                    ("column", &first_ref),
                    ("new-bin", "true"),
                ],
            );
            x.empty("bin", &[("default-name", "true"), ("value", "\"Other\"")]);
            x.close("calculation");
            x.close("column");
        }
        FieldKind::Bin => {
            x.open("column", &refs(&attrs));
            x.empty(
                "calculation",
                &[
                    ("class", "bin"),
                    ("decimals", "0"),
                    ("formula", &first_ref),
                    ("peg", "0"),
                    ("size", "10"),
                ],
            );
            x.close("column");
        }
        FieldKind::Set => {
            let name = bracket(&field.name);
            x.open(
                "group",
                &[
                    ("name", &name),
                    ("name-style", "unqualified"),
                    ("user:ui-builder", "filter-group"),
                ],
            );
            x.empty(
                "groupfilter",
                &[("function", "level-members"), ("level", &first_ref)],
            );
            x.close("group");
        }
        // Written with the drill paths, after the columns.
        FieldKind::Hierarchy => {}
    }
}

fn write_drill_paths(x: &mut Xml, d: &Dataset, fields: &[u32]) {
    let l = &d.lineage;
    let paths: Vec<u32> = fields
        .iter()
        .copied()
        .filter(|&f| l.fields[f as usize].kind == FieldKind::Hierarchy)
        .collect();
    if paths.is_empty() {
        return;
    }
    x.open("drill-paths", &[]);
    for f in paths {
        x.open("drill-path", &[("name", &l.fields[f as usize].name)]);
        for &r in &l.fields[f as usize].refs {
            x.text("field", &bracket(&l.fields[r as usize].name));
        }
        x.close("drill-path");
    }
    x.close("drill-paths");
}

/// Relation names, unique within one datasource as Tableau keeps them.
fn relation_names(d: &Dataset, tables: &[u32]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    tables
        .iter()
        .map(|&t| {
            let base = d.lineage.tables[t as usize].name.clone();
            let mut name = base.clone();
            let mut n = 1;
            while !seen.insert(name.clone()) {
                n += 1;
                name = format!("{base} ({n})");
            }
            name
        })
        .collect()
}

/// The `<connection>` of one datasource, relations and metadata records
/// included.
fn write_connection(x: &mut Xml, d: &Dataset, owner: Owner, conn: &ConnRecord, site: &SiteRef) {
    let l = &d.lineage;
    let src = l.source(owner);
    let fields: Vec<u32> = src.fields.clone().collect();
    if conn.class == "sqlproxy" {
        x.open(
            "connection",
            &[
                ("channel", "http"),
                ("class", "sqlproxy"),
                ("dbname", &conn.dbname),
                ("directory", "/dataserver"),
                ("port", &conn.port),
                ("server", &conn.server),
                ("username", ""),
            ],
        );
        x.empty(
            "relation",
            &[
                ("name", "sqlproxy"),
                ("table", "[sqlproxy]"),
                ("type", "table"),
            ],
        );
        x.open("metadata-records", &[]);
        for (i, &f) in fields
            .iter()
            .filter(|&&f| l.fields[f as usize].kind == FieldKind::Datasource)
            .enumerate()
        {
            let field = &l.fields[f as usize];
            x.open("metadata-record", &[("class", "column")]);
            x.text("remote-name", &field.name);
            x.text("remote-type", "130");
            x.text("local-name", &bracket(&field.name));
            x.text("parent-name", "[sqlproxy]");
            x.text("ordinal", &i.to_string());
            x.text("local-type", doc_type(field.data_type));
            x.close("metadata-record");
        }
        x.close("metadata-records");
        x.close("connection");
        let _ = site;
        return;
    }
    let named = format!("{}.{}", conn.class, suffix(&conn.id));
    x.open("connection", &[("class", "federated")]);
    x.open("named-connections", &[]);
    x.open(
        "named-connection",
        &[("caption", &conn.server), ("name", &named)],
    );
    x.empty(
        "connection",
        &[
            ("authentication", "username-password"),
            ("class", &conn.class),
            ("dbname", &conn.dbname),
            ("odbc-native-protocol", "yes"),
            ("port", &conn.port),
            ("server", &conn.server),
            ("username", &conn.username),
        ],
    );
    x.close("named-connection");
    x.close("named-connections");
    let names = relation_names(d, &src.tables);
    let rel = |x: &mut Xml, i: usize, t: u32| {
        let table = &l.tables[t as usize];
        match &table.query {
            Some(q) => {
                x.out.push_str(&"  ".repeat(x.depth));
                x.out.push_str(&format!(
                    "<relation connection='{}' name='{}' type='text'>{}</relation>\n",
                    escape(named.as_str()),
                    escape(names[i].as_str()),
                    partial_escape(q.as_str())
                ));
            }
            None => x.empty(
                "relation",
                &[
                    ("connection", &named),
                    ("name", &names[i]),
                    ("table", &table.full_name()),
                    ("type", "table"),
                ],
            ),
        }
    };
    if src.tables.len() > 1 {
        x.open("relation", &[("join", "inner"), ("type", "join")]);
        let left = format!("[{}].[id]", names[0]);
        for (i, &t) in src.tables.iter().enumerate().skip(1) {
            x.open("clause", &[("type", "join")]);
            x.open("expression", &[("op", "=")]);
            x.empty("expression", &[("op", &left)]);
            x.empty("expression", &[("op", &format!("[{}].[id]", names[i]))]);
            x.close("expression");
            x.close("clause");
            let _ = t;
        }
        for (i, &t) in src.tables.iter().enumerate() {
            rel(x, i, t);
        }
        x.close("relation");
    } else if let Some(&t) = src.tables.first() {
        rel(x, 0, t);
    }
    x.open("metadata-records", &[]);
    for (i, &f) in fields.iter().enumerate() {
        let field = &l.fields[f as usize];
        let (FieldKind::Column, Some(c)) = (field.kind, field.column) else {
            continue;
        };
        let col = &l.columns[c as usize];
        let Some(ti) = src.tables.iter().position(|&t| t == col.table) else {
            continue;
        };
        x.open("metadata-record", &[("class", "column")]);
        x.text("remote-name", &col.name);
        x.text("remote-type", remote_code(col.remote_type));
        x.text("local-name", &bracket(&field.name));
        x.text("parent-name", &format!("[{}]", names[ti]));
        x.text("remote-alias", &col.name);
        x.text("ordinal", &i.to_string());
        x.text("local-type", doc_type(field.data_type));
        x.text("contains-null", if col.nullable { "true" } else { "false" });
        x.close("metadata-record");
    }
    x.close("metadata-records");
    x.close("connection");
}

fn write_extract(x: &mut Xml, file: &str) {
    x.open(
        "extract",
        &[("count", "-1"), ("enabled", "true"), ("units", "records")],
    );
    x.open(
        "connection",
        &[
            ("class", "hyper"),
            ("dbname", file),
            ("default-settings", "yes"),
            ("schema", "Extract"),
            ("tablename", "Extract"),
        ],
    );
    x.empty(
        "relation",
        &[
            ("name", "Extract"),
            ("table", "[Extract].[Extract]"),
            ("type", "table"),
        ],
    );
    x.close("connection");
    x.close("extract");
}

/// `Data/Extracts/<name>.hyper`, as Tableau names a packaged extract.
pub fn extract_path(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | ':') {
                '_'
            } else {
                c
            }
        })
        .collect();
    format!("Data/Extracts/{clean}.hyper")
}

/// Stand-in bytes for an extract file: a fixed header and content derived
/// from the item, so the package has a real entry of a plausible size.
pub fn extract_bytes(seed: &str, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(key_of(seed));
    let mut out = b"HyPe\x00\x02trm-sim-extract\n".to_vec();
    while out.len() < len {
        out.extend(rng.below(u64::MAX).to_le_bytes());
    }
    out.truncate(len.max(24));
    out
}

/// The body of one `<datasource>`: connection, extract, columns.
fn write_source_body(
    x: &mut Xml,
    d: &Dataset,
    owner: Owner,
    conn: &ConnRecord,
    extract: Option<&str>,
    site: &SiteRef,
) {
    let l = &d.lineage;
    if let (Owner::Embedded(e), Some(p)) = (owner, conn.published) {
        let cu = &d.datasources[p as usize].content_url;
        let path = format!("/t/{}/datasources", site.site);
        let derived = format!("http://{}:{}{}/{}?rev=1.0", site.host, site.port, path, cu);
        x.empty(
            "repository-location",
            &[
                ("derived-from", &derived),
                ("id", cu),
                ("path", &path),
                ("revision", "1.0"),
                ("site", &site.site),
            ],
        );
        let _ = e;
    }
    write_connection(x, d, owner, conn, site);
    if let Some(file) = extract {
        write_extract(x, file);
    }
    x.empty("aliases", &[("enabled", "yes")]);
    let fields: Vec<u32> = l.source(owner).fields.clone().collect();
    for &f in &fields {
        write_field(x, d, f);
    }
    write_drill_paths(x, d, &fields);
    x.empty(
        "layout",
        &[
            ("dim-ordering", "alphabetic"),
            ("measure-ordering", "alphabetic"),
            ("show-structure", "true"),
        ],
    );
}

/// The internal name of an embedded datasource (`federated.…`/`sqlproxy.…`).
fn internal_name(d: &Dataset, e: u32, conn: &ConnRecord) -> String {
    let kind = if conn.class == "sqlproxy" {
        "sqlproxy"
    } else {
        "federated"
    };
    format!("{kind}.{}", suffix(&d.embedded_datasources[e as usize].id))
}

/// A column instance's name: `[sum:Amount:qk]`.
fn instance(d: &Dataset, f: u32) -> (String, &'static str, &'static str) {
    let field = &d.lineage.fields[f as usize];
    let measure = field.role == "MEASURE";
    let (deriv, short, ty) = if measure {
        ("Sum", "sum", "qk")
    } else {
        ("None", "none", "nk")
    };
    (
        format!("[{short}:{}:{ty}]", field.name.replace(']', "]]")),
        deriv,
        if measure { "quantitative" } else { "nominal" },
    )
}

/// The `.twb` XML of a generated workbook.
pub fn workbook_xml(d: &Dataset, w: u32, site: &SiteRef) -> String {
    let l = &d.lineage;
    let wb = &d.workbooks[w as usize];
    let conns = connections(d, Target::Workbook(w), site);
    let mut x = Xml::new();
    x.open(
        "workbook",
        &[
            ("original-version", VERSION),
            ("source-build", "2025.3.0 (20253.25.1010.1043)"),
            ("source-platform", "linux"),
            ("version", VERSION),
            ("xmlns:user", USER_NS),
        ],
    );
    let path = format!("/t/{}/workbooks", site.site);
    x.empty(
        "repository-location",
        &[
            ("id", &wb.content_url),
            ("path", &path),
            ("revision", "1.0"),
            ("site", &site.site),
        ],
    );
    let embedded: Vec<u32> = wb.embedded_datasources.clone().collect();
    let internal: Vec<String> = embedded
        .iter()
        .zip(&conns)
        .map(|(&e, c)| internal_name(d, e, c))
        .collect();
    x.open("datasources", &[]);
    for (i, &e) in embedded.iter().enumerate() {
        let emb = &d.embedded_datasources[e as usize];
        let conn = &conns[i];
        x.open(
            "datasource",
            &[
                ("caption", &emb.name),
                ("inline", "true"),
                ("name", &internal[i]),
                ("version", VERSION),
            ],
        );
        let extract = l.embedded[e as usize]
            .has_extracts
            .then(|| extract_path(&emb.name));
        write_source_body(
            &mut x,
            d,
            Owner::Embedded(e),
            conn,
            extract.as_deref(),
            site,
        );
        x.close("datasource");
    }
    x.close("datasources");

    let owner_ds = |f: u32| match l.fields[f as usize].owner {
        Owner::Embedded(e) => embedded.iter().position(|&x| x == e),
        Owner::Published(_) => None,
    };
    x.open("worksheets", &[]);
    for v in wb.views.clone() {
        let view = &d.views[v as usize];
        if view.sheet_type != SheetType::Worksheet {
            continue;
        }
        let used: Vec<u32> = l.view_sheet[v as usize]
            .map(|s| l.sheets[s as usize].fields.clone())
            .unwrap_or_default();
        x.open("worksheet", &[("name", &view.name)]);
        x.open("table", &[]);
        x.open("view", &[]);
        x.open("datasources", &[]);
        for (i, &e) in embedded.iter().enumerate() {
            if used.iter().any(|&f| owner_ds(f) == Some(i)) {
                x.empty(
                    "datasource",
                    &[
                        ("caption", &d.embedded_datasources[e as usize].name),
                        ("name", &internal[i]),
                    ],
                );
            }
        }
        x.close("datasources");
        let (mut rows, mut cols) = (Vec::new(), Vec::new());
        for (i, _) in embedded.iter().enumerate() {
            let mine: Vec<u32> = used
                .iter()
                .copied()
                .filter(|&f| owner_ds(f) == Some(i))
                .collect();
            if mine.is_empty() {
                continue;
            }
            x.open("datasource-dependencies", &[("datasource", &internal[i])]);
            for &f in &mine {
                write_field(&mut x, d, f);
            }
            for &f in &mine {
                let (name, deriv, ty) = instance(d, f);
                x.empty(
                    "column-instance",
                    &[
                        ("column", &bracket(&l.fields[f as usize].name)),
                        ("derivation", deriv),
                        ("name", &name),
                        ("pivot", "key"),
                        ("type", ty),
                    ],
                );
                let shelf = format!("[{}].{}", internal[i], name);
                if ty == "quantitative" {
                    cols.push(shelf)
                } else {
                    rows.push(shelf)
                }
            }
            x.close("datasource-dependencies");
        }
        x.close("view");
        let shelf = |v: &[String]| {
            if v.len() > 1 {
                format!("({})", v.join(" / "))
            } else {
                v.concat()
            }
        };
        x.text("rows", &shelf(&rows));
        x.text("cols", &shelf(&cols));
        x.close("table");
        x.close("worksheet");
    }
    x.close("worksheets");

    x.open("dashboards", &[]);
    for v in wb.views.clone() {
        let view = &d.views[v as usize];
        match view.sheet_type {
            SheetType::Worksheet => continue,
            SheetType::Story => {
                x.open("dashboard", &[("name", &view.name), ("type", "storyboard")]);
                x.empty(
                    "size",
                    &[
                        ("maxheight", "964"),
                        ("maxwidth", "1016"),
                        ("minheight", "964"),
                        ("minwidth", "1016"),
                    ],
                );
                x.close("dashboard");
            }
            SheetType::Dashboard => {
                x.open("dashboard", &[("name", &view.name)]);
                x.empty(
                    "size",
                    &[
                        ("maxheight", "800"),
                        ("maxwidth", "1000"),
                        ("minheight", "800"),
                        ("minwidth", "1000"),
                    ],
                );
                x.open("zones", &[]);
                x.open(
                    "zone",
                    &[
                        ("h", "100000"),
                        ("id", "1"),
                        ("type-v2", "layout-basic"),
                        ("w", "100000"),
                        ("x", "0"),
                        ("y", "0"),
                    ],
                );
                let held = l.view_dashboard[v as usize]
                    .map(|m| l.dashboards[m as usize].sheets.clone())
                    .unwrap_or_default();
                let n = held.len().max(1);
                for (k, s) in held.iter().enumerate() {
                    let name = &d.views[l.sheets[*s as usize].view as usize].name;
                    let (id, h, y) = (
                        (k + 2).to_string(),
                        (100_000 / n).to_string(),
                        (k * 100_000 / n).to_string(),
                    );
                    x.empty(
                        "zone",
                        &[
                            ("h", &h),
                            ("id", &id),
                            ("name", name),
                            ("w", "100000"),
                            ("x", "0"),
                            ("y", &y),
                        ],
                    );
                }
                x.close("zone");
                x.close("zones");
                x.close("dashboard");
            }
        }
    }
    x.close("dashboards");
    x.open("windows", &[("source-height", "30")]);
    for v in wb.views.clone() {
        let view = &d.views[v as usize];
        let class = if view.sheet_type == SheetType::Worksheet {
            "worksheet"
        } else {
            "dashboard"
        };
        x.empty("window", &[("class", class), ("name", &view.name)]);
    }
    x.close("windows");
    x.close("workbook");
    x.finish()
}

/// The `.tds` XML of a generated published datasource.
pub fn datasource_xml(d: &Dataset, i: u32, site: &SiteRef) -> String {
    let ds = &d.datasources[i as usize];
    let conn = connections(d, Target::Datasource(i), site)
        .into_iter()
        .next();
    let conn = conn.unwrap_or_else(|| direct_conn(d, &[], conn_id(&ds.id, 0), &ds.name));
    let mut x = Xml::new();
    x.open(
        "datasource",
        &[
            ("formatted-name", &ds.name),
            ("inline", "true"),
            ("source-platform", "linux"),
            ("version", VERSION),
            ("xmlns:user", USER_NS),
        ],
    );
    let path = format!("/t/{}/datasources", site.site);
    x.empty(
        "repository-location",
        &[
            ("id", &ds.content_url),
            ("path", &path),
            ("revision", "1.0"),
            ("site", &site.site),
        ],
    );
    let extract = d.lineage.published[i as usize]
        .has_extracts
        .then(|| extract_path(&ds.name));
    write_source_body(
        &mut x,
        d,
        Owner::Published(i),
        &conn,
        extract.as_deref(),
        site,
    );
    x.close("datasource");
    x.finish()
}

fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | ':' | '"') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The file a generated item downloads as: `.twb`/`.tds`, or a package
/// with its extracts (left out when `include_extract` is false).
pub fn generated(
    d: &Dataset,
    target: Target,
    site: &SiteRef,
    include_extract: bool,
) -> (String, Vec<u8>) {
    let l = &d.lineage;
    match target {
        Target::Workbook(w) => {
            let wb = &d.workbooks[w as usize];
            let xml = workbook_xml(d, w, site);
            let extracts: Vec<String> = wb
                .embedded_datasources
                .clone()
                .filter(|&e| l.embedded[e as usize].has_extracts)
                .map(|e| d.embedded_datasources[e as usize].name.clone())
                .collect();
            if extracts.is_empty() {
                return (format!("{}.twb", file_stem(&wb.name)), xml.into_bytes());
            }
            let mut entries = vec![(format!("{}.twb", file_stem(&wb.name)), xml.into_bytes())];
            if include_extract {
                for name in extracts {
                    entries.push((
                        extract_path(&name),
                        extract_bytes(
                            &format!("{}/{name}", wb.id),
                            4096 + (wb.size_mb as usize % 7) * 512,
                        ),
                    ));
                }
            }
            (
                format!("{}.twbx", file_stem(&wb.name)),
                super::zip::write(&entries),
            )
        }
        Target::Datasource(i) => {
            let ds = &d.datasources[i as usize];
            let xml = datasource_xml(d, i, site);
            if !l.published[i as usize].has_extracts {
                return (format!("{}.tds", file_stem(&ds.name)), xml.into_bytes());
            }
            let mut entries = vec![(format!("{}.tds", file_stem(&ds.name)), xml.into_bytes())];
            if include_extract {
                entries.push((extract_path(&ds.name), extract_bytes(&ds.id, 4096)));
            }
            (
                format!("{}.tdsx", file_stem(&ds.name)),
                super::zip::write(&entries),
            )
        }
    }
}
