//! Turns a published document into site content: the workbook or
//! datasource, its views, embedded datasources, fields, sheets, dashboards
//! and upstream databases, tables and columns, so a published item is as
//! real as a generated one in both the REST API and the Metadata API.
//!
//! The dataset keeps related entities in contiguous index ranges (a
//! workbook's views, a source's fields, a database's tables, a table's
//! columns). An overwrite therefore removes the old parts and renumbers
//! what follows, and a new table or column is inserted at the end of its
//! parent's range with later indexes shifted.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Mutex;

use super::parse::{Doc, DocKind, Source};
use super::write::{conn_id, SiteRef};
use crate::sim::dataset::docs::{ConnRecord, StoredDoc};
use crate::sim::dataset::lineage::{
    bracket, Column, Database, Field, FieldKind, MetaDashboard, Owner, Sheet, SourceLineage, Table,
};
use crate::sim::dataset::rng::{mix, Rng};
use crate::sim::dataset::{
    Dataset, Datasource, EmbeddedDatasource, Entity, SheetType, Target, Usage, View, Workbook, DAY,
    EPOCH,
};

/// Credentials the publish request gave for a connection.
#[derive(Clone, Debug, Default)]
pub struct Credential {
    /// `serverAddress`/`serverPort` of a `<connection>`; empty for the
    /// single `<connectionCredentials>` that applies to every connection.
    pub server: String,
    pub port: String,
    pub username: String,
    pub password: String,
    pub embed: bool,
}

pub struct Publish<'a> {
    pub kind: DocKind,
    pub name: String,
    pub project: u32,
    pub owner: u32,
    pub description: Option<String>,
    pub show_tabs: Option<bool>,
    pub tags: Vec<String>,
    pub overwrite: bool,
    pub filename: String,
    pub bytes: Vec<u8>,
    pub credentials: Vec<Credential>,
    pub now: i64,
    pub site: &'a SiteRef,
}

#[derive(Debug)]
pub enum Refusal {
    /// An item of that name is in the project and `overwrite` was not set.
    Exists(String),
    /// The document cannot become the item.
    Invalid(String),
}

/// Connection classes as `'static` names: the dataset stores them so.
pub fn intern(class: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "postgres",
        "snowflake",
        "sqlserver",
        "redshift",
        "bigquery",
        "mysql",
        "excel-direct",
        "textscan",
        "sqlproxy",
        "hyper",
        "dataengine",
        "federated",
        "oracle",
        "teradata",
        "databricks",
        "sqlite",
    ];
    if let Some(k) = KNOWN.iter().find(|k| **k == class) {
        return k;
    }
    static MORE: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut more = MORE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = more.iter().find(|k| **k == class) {
        return k;
    }
    let leaked: &'static str = Box::leak(class.to_string().into_boxed_str());
    more.push(leaked);
    leaked
}

fn data_type(doc_type: &str, remote_code: &str) -> &'static str {
    match doc_type {
        "integer" => "INTEGER",
        "real" => "REAL",
        "date" => "DATE",
        "datetime" => "DATETIME",
        "boolean" => "BOOLEAN",
        "string" => "STRING",
        _ => match remote_code {
            "2" | "3" | "16" | "17" | "18" | "19" | "20" | "21" => "INTEGER",
            "4" | "5" | "6" | "131" => "REAL",
            "7" | "133" => "DATE",
            "135" => "DATETIME",
            "11" => "BOOLEAN",
            _ => "STRING",
        },
    }
}

fn remote_type(data_type: &str) -> &'static str {
    match data_type {
        "INTEGER" => "I8",
        "REAL" => "R8",
        "DATE" => "DBDATE",
        "DATETIME" => "DBTIMESTAMP",
        "BOOLEAN" => "BOOL",
        _ => "WSTR",
    }
}

fn role(doc_role: &str, data_type: &str, name: &str) -> &'static str {
    match doc_role {
        "measure" => "MEASURE",
        "dimension" => "DIMENSION",
        _ if matches!(data_type, "INTEGER" | "REAL") && !name.eq_ignore_ascii_case("id") => {
            "MEASURE"
        }
        _ => "DIMENSION",
    }
}

/// Tableau derives content URLs from names: alphanumerics only.
fn url_name(name: &str) -> String {
    let s: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    if s.is_empty() {
        "Untitled".into()
    } else {
        s
    }
}

fn unique(taken: &HashSet<String>, base: String, sep: &str) -> String {
    if !taken.contains(&base.to_ascii_lowercase()) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}{sep}{n}"))
        .find(|c| !taken.contains(&c.to_ascii_lowercase()))
        .expect("a free name")
}

struct Ids(Rng);

impl Ids {
    fn new(d: &Dataset, salt: &str) -> Ids {
        let key = salt.bytes().fold(
            mix(d.seed ^ 0x5eed_d0c5 ^ d.version.rotate_left(23) ^ d.by_id_len() as u64),
            |h, b| mix(h ^ b as u64),
        );
        Ids(Rng::new(key))
    }

    fn uuid(&mut self, d: &Dataset) -> String {
        loop {
            let id = self.0.uuid();
            if d.lookup(&id).is_none() {
                return id;
            }
        }
    }
}

// --- renumbering ------------------------------------------------------------

/// `prefix[i]` = how many of the first `i` items are kept.
fn prefix(n: usize, dead: impl Fn(usize) -> bool) -> Vec<u32> {
    let mut p = Vec::with_capacity(n + 1);
    let mut k = 0u32;
    p.push(0);
    for i in 0..n {
        if !dead(i) {
            k += 1;
        }
        p.push(k);
    }
    p
}

fn remap_range(r: &Range<u32>, p: &[u32]) -> Range<u32> {
    p[r.start as usize]..p[r.end as usize]
}

fn remove_fields(d: &mut Dataset, dead: &HashSet<u32>) {
    if dead.is_empty() {
        return;
    }
    let l = &mut d.lineage;
    let p = prefix(l.fields.len(), |i| dead.contains(&(i as u32)));
    let map = |i: u32| (!dead.contains(&i)).then(|| p[i as usize]);
    let mut i = 0u32;
    l.fields.retain(|_| {
        i += 1;
        !dead.contains(&(i - 1))
    });
    for f in l.fields.iter_mut() {
        f.refs = f.refs.iter().filter_map(|&r| map(r)).collect();
        f.remote = f.remote.and_then(map);
    }
    for s in l.sheets.iter_mut() {
        s.fields = s.fields.iter().filter_map(|&f| map(f)).collect();
    }
    for src in l.published.iter_mut().chain(l.embedded.iter_mut()) {
        src.fields = remap_range(&src.fields, &p);
    }
}

/// Removes a contiguous range of views with their sheets and dashboards.
fn remove_views(d: &mut Dataset, r: Range<u32>) {
    let n = r.end - r.start;
    if n == 0 {
        return;
    }
    let vmap = |v: u32| {
        if v < r.start {
            Some(v)
        } else if v >= r.end {
            Some(v - n)
        } else {
            None
        }
    };
    d.views.drain(r.start as usize..r.end as usize);
    for w in d.workbooks.iter_mut() {
        if w.views.start >= r.end {
            w.views = w.views.start - n..w.views.end - n;
        }
    }
    let by_id: Vec<(String, Entity)> = d
        .by_id
        .iter()
        .filter(|(_, e)| matches!(e, Entity::View(_)))
        .map(|(k, e)| (k.clone(), *e))
        .collect();
    for (k, e) in by_id {
        let Entity::View(v) = e else { continue };
        match vmap(v) {
            Some(nv) => d.index_id(&k, Entity::View(nv)),
            None => d.unindex_id(&k),
        }
    }
    d.access_cases.retain_mut(|c| match c.content {
        Entity::View(v) => match vmap(v) {
            Some(nv) => {
                c.content = Entity::View(nv);
                true
            }
            None => false,
        },
        _ => true,
    });
    let l = &mut d.lineage;
    l.view_sheet.drain(r.start as usize..r.end as usize);
    l.view_dashboard.drain(r.start as usize..r.end as usize);
    let dead_s: Vec<bool> = l.sheets.iter().map(|s| r.contains(&s.view)).collect();
    let dead_m: Vec<bool> = l.dashboards.iter().map(|m| r.contains(&m.view)).collect();
    let ps = prefix(dead_s.len(), |i| dead_s[i]);
    let pm = prefix(dead_m.len(), |i| dead_m[i]);
    let smap = |s: u32| (!dead_s[s as usize]).then(|| ps[s as usize]);
    let mmap = |m: u32| (!dead_m[m as usize]).then(|| pm[m as usize]);
    let mut i = 0;
    l.sheets.retain(|_| {
        i += 1;
        !dead_s[i - 1]
    });
    let mut i = 0;
    l.dashboards.retain(|_| {
        i += 1;
        !dead_m[i - 1]
    });
    for s in l.sheets.iter_mut() {
        s.view = vmap(s.view).expect("a kept sheet's view is kept");
        s.dashboards = s.dashboards.iter().filter_map(|&m| mmap(m)).collect();
    }
    for m in l.dashboards.iter_mut() {
        m.view = vmap(m.view).expect("a kept dashboard's view is kept");
        m.sheets = m.sheets.iter().filter_map(|&s| smap(s)).collect();
    }
    for v in l.view_sheet.iter_mut() {
        *v = v.and_then(smap);
    }
    for v in l.view_dashboard.iter_mut() {
        *v = v.and_then(mmap);
    }
}

fn remove_embedded(d: &mut Dataset, r: Range<u32>) {
    let n = r.end - r.start;
    if n == 0 {
        return;
    }
    d.embedded_datasources
        .drain(r.start as usize..r.end as usize);
    d.lineage.embedded.drain(r.start as usize..r.end as usize);
    for w in d.workbooks.iter_mut() {
        if w.embedded_datasources.start >= r.end {
            w.embedded_datasources =
                w.embedded_datasources.start - n..w.embedded_datasources.end - n;
        }
    }
    for f in d.lineage.fields.iter_mut() {
        if let Owner::Embedded(e) = f.owner {
            if e >= r.end {
                f.owner = Owner::Embedded(e - n);
            }
        }
    }
}

/// The database server for a connection, created when new.
fn database(d: &mut Dataset, ids: &mut Ids, class: &str, server: &str, port: &str) -> u32 {
    let l = &d.lineage;
    if let Some(i) = l
        .databases
        .iter()
        .position(|db| db.connection_type == class && db.name.eq_ignore_ascii_case(server))
    {
        return i as u32;
    }
    let at = d.lineage.tables.len() as u32;
    let (id, luid) = (ids.uuid(d), ids.uuid(d));
    let port = port.parse().unwrap_or(match class {
        "postgres" | "redshift" => 5432,
        "sqlserver" => 1433,
        "mysql" => 3306,
        _ => 443,
    });
    d.lineage.databases.push(Database {
        id,
        luid,
        name: server.to_string(),
        port,
        connection_type: intern(class),
        tables: at..at,
    });
    d.lineage.databases.len() as u32 - 1
}

/// The table `schema.name` (or the custom SQL `query`) in a database,
/// inserted at the end of the database's tables when new.
fn table(
    d: &mut Dataset,
    ids: &mut Ids,
    db: u32,
    schema: &str,
    name: &str,
    query: Option<&str>,
) -> (u32, bool) {
    let l = &d.lineage;
    let range = l.databases[db as usize].tables.clone();
    if let Some(t) = range.clone().find(|&t| {
        let x = &l.tables[t as usize];
        match query {
            Some(q) => x.query.as_deref() == Some(q),
            None => {
                x.query.is_none()
                    && x.name.eq_ignore_ascii_case(name)
                    && (schema.is_empty() || x.schema.eq_ignore_ascii_case(schema))
            }
        }
    }) {
        return (t, false);
    }
    let pos = range.end;
    let (id, luid) = (ids.uuid(d), ids.uuid(d));
    let l = &mut d.lineage;
    let at = l.columns.len() as u32;
    let schema: &'static str = match schema {
        "" => "public",
        s => intern(s),
    };
    l.tables.insert(
        pos as usize,
        Table {
            id,
            luid,
            name: name.to_string(),
            schema,
            database: db,
            query: query.map(str::to_string),
            columns: at..at,
            gone: false,
        },
    );
    for c in l.columns.iter_mut() {
        if c.table >= pos {
            c.table += 1;
        }
    }
    for (i, x) in l.databases.iter_mut().enumerate() {
        if i as u32 == db {
            x.tables.end += 1;
        } else if x.tables.start >= pos {
            x.tables = x.tables.start + 1..x.tables.end + 1;
        }
    }
    for src in l.published.iter_mut().chain(l.embedded.iter_mut()) {
        for t in src.tables.iter_mut() {
            if *t >= pos {
                *t += 1;
            }
        }
    }
    (pos, true)
}

/// The column `name` of a table, inserted at the end of its columns when new.
fn column(
    d: &mut Dataset,
    ids: &mut Ids,
    t: u32,
    name: &str,
    data_type: &'static str,
) -> (u32, bool) {
    let l = &d.lineage;
    let range = l.tables[t as usize].columns.clone();
    if let Some(c) = range
        .clone()
        .find(|&c| l.columns[c as usize].name.eq_ignore_ascii_case(name))
    {
        return (c, false);
    }
    let pos = range.end;
    let id = ids.uuid(d);
    let l = &mut d.lineage;
    l.columns.insert(
        pos as usize,
        Column {
            id,
            name: name.to_string(),
            remote_type: remote_type(data_type),
            nullable: true,
            table: t,
            dropped: false,
        },
    );
    for (i, x) in l.tables.iter_mut().enumerate() {
        if i as u32 == t {
            x.columns.end += 1;
        } else if x.columns.start >= pos {
            x.columns = x.columns.start + 1..x.columns.end + 1;
        }
    }
    for f in l.fields.iter_mut() {
        if let Some(c) = f.column.as_mut() {
            if *c >= pos {
                *c += 1;
            }
        }
    }
    (pos, true)
}

// --- building ---------------------------------------------------------------

/// Fields, tables and extract flag of one parsed source, appended to the
/// lineage under `owner`.
fn build_source(
    d: &mut Dataset,
    ids: &mut Ids,
    src: &Source,
    owner: Owner,
    published: Option<u32>,
    packaged_extract: bool,
) -> SourceLineage {
    // Tables first: inserting them renumbers nothing of this source yet.
    let mut rel_tables: Vec<(String, u32)> = Vec::new();
    if published.is_none() && src.conns.first().is_some_and(|c| c.class != "sqlproxy") {
        for r in &src.relations {
            let conn = r
                .conn
                .as_ref()
                .and_then(|n| src.conns.iter().find(|c| c.named.as_deref() == Some(n)))
                .or(src.conns.first())
                .cloned()
                .unwrap_or_default();
            let db = database(d, ids, &conn.class, &conn.server, &conn.port);
            let (t, inserted) = table(d, ids, db, &r.schema, &r.table, r.query.as_deref());
            for (_, prev) in rel_tables.iter_mut().filter(|_| inserted) {
                if *prev >= t {
                    *prev += 1;
                }
            }
            rel_tables.push((r.name.clone(), t));
        }
    }
    // Columns of those tables, from the metadata records.
    let mut upstream: HashMap<String, u32> = HashMap::new();
    for rec in &src.records {
        let parent = rec.parent.trim_start_matches('[').trim_end_matches(']');
        let Some(&(_, t)) = rel_tables
            .iter()
            .find(|(n, _)| n == parent)
            .or(rel_tables.first())
        else {
            continue;
        };
        let field = src.fields.iter().find(|f| f.internal == rec.local_name);
        let dt = data_type(field.map_or("", |f| f.datatype.as_str()), &rec.remote_type);
        let remote = if rec.remote_name.is_empty() {
            rec.local_name
                .trim_matches(|c| c == '[' || c == ']')
                .to_string()
        } else {
            rec.remote_name.clone()
        };
        let (c, inserted) = column(d, ids, t, &remote, dt);
        for v in upstream.values_mut().filter(|_| inserted) {
            if *v >= c {
                *v += 1;
            }
        }
        upstream.insert(rec.local_name.clone(), c);
    }
    let tables: Vec<u32> = {
        let mut v: Vec<u32> = rel_tables.iter().map(|(_, t)| *t).collect();
        v.dedup();
        v
    };

    let first = d.lineage.fields.len() as u32;
    let remote_fields: Vec<(u32, String, &'static str, &'static str)> = published
        .map(|p| {
            let l = &d.lineage;
            l.published[p as usize]
                .fields
                .clone()
                .map(|f| {
                    (
                        f,
                        l.fields[f as usize].name.clone(),
                        l.fields[f as usize].data_type,
                        l.fields[f as usize].role,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let is_proxy = src.conns.first().is_some_and(|c| c.class == "sqlproxy");
    for f in &src.fields {
        let rec = src.records.iter().find(|r| r.local_name == f.internal);
        let dt = data_type(&f.datatype, rec.map_or("", |r| r.remote_type.as_str()));
        let mut field = Field {
            id: ids.uuid(d),
            name: f.name.clone(),
            kind: f.kind,
            owner,
            data_type: dt,
            role: role(&f.role, dt, &f.name),
            formula: f.formula.clone(),
            column: None,
            refs: Vec::new(),
            remote: None,
            hidden: f.hidden,
            renamed: false,
        };
        if f.kind == FieldKind::Column && is_proxy {
            field.kind = FieldKind::Datasource;
            if let Some((r, _, rdt, rrole)) = remote_fields.iter().find(|(_, n, _, _)| *n == f.name)
            {
                field.remote = Some(*r);
                if f.datatype.is_empty() {
                    field.data_type = rdt;
                    field.role = rrole;
                }
            }
        } else if f.kind == FieldKind::Column {
            field.column = upstream.get(&f.internal).copied();
        }
        d.lineage.fields.push(field);
    }
    let end = d.lineage.fields.len() as u32;
    // References by internal name or by caption, within the source.
    for (k, f) in src.fields.iter().enumerate() {
        let refs: Vec<u32> = f
            .refs
            .iter()
            .filter_map(|r| {
                src.fields
                    .iter()
                    .position(|o| &o.internal == r || bracket(&o.name) == *r)
                    .map(|i| first + i as u32)
            })
            .collect();
        let mut refs = refs;
        refs.dedup();
        d.lineage.fields[(first + k as u32) as usize].refs = refs;
    }
    SourceLineage {
        fields: first..end,
        tables,
        has_extracts: !is_proxy && (src.extract || packaged_extract),
    }
}

/// The connections a document states, with the request's credentials.
fn conn_records(
    doc: &Doc,
    item_id: &str,
    d: &Dataset,
    creds: &[Credential],
    passwords: &mut Vec<(String, String)>,
) -> Vec<ConnRecord> {
    let mut out = Vec::new();
    for src in &doc.sources {
        for c in &src.conns {
            let i = out.len();
            let published = if c.class == "sqlproxy" {
                src.published.as_ref().and_then(|cu| {
                    d.datasources
                        .iter()
                        .position(|x| x.content_url.eq_ignore_ascii_case(cu))
                        .map(|p| p as u32)
                })
            } else {
                None
            };
            let mut rec = ConnRecord {
                id: conn_id(item_id, i),
                class: c.class.clone(),
                server: c.server.clone(),
                port: c.port.clone(),
                dbname: c.dbname.clone(),
                username: c.username.clone(),
                embed_password: false,
                published,
                datasource_name: src.caption.clone(),
            };
            let cred = creds
                .iter()
                .find(|k| {
                    !k.server.is_empty()
                        && k.server.eq_ignore_ascii_case(&c.server)
                        && (k.port.is_empty() || k.port == c.port)
                })
                .or_else(|| creds.iter().find(|k| k.server.is_empty()));
            if let Some(k) = cred.filter(|_| c.class != "sqlproxy") {
                if !k.username.is_empty() {
                    rec.username = k.username.clone();
                }
                rec.embed_password = k.embed;
                if !k.password.is_empty() {
                    passwords.push((rec.id.clone(), k.password.clone()));
                }
            }
            out.push(rec);
        }
    }
    out
}

fn check_sources(doc: &Doc, kind: DocKind) -> Result<(), Refusal> {
    if doc.kind != kind {
        let (want, got) = match kind {
            DocKind::Workbook => ("a workbook (.twb or .twbx)", "a datasource"),
            DocKind::Datasource => ("a datasource (.tds or .tdsx)", "a workbook"),
        };
        return Err(Refusal::Invalid(format!(
            "The file is {got}; this endpoint publishes {want}."
        )));
    }
    if kind == DocKind::Workbook && doc.worksheets.is_empty() && doc.dashboards.is_empty() {
        return Err(Refusal::Invalid("The workbook has no worksheets or dashboards; Tableau publishes workbooks with at least one sheet.".into()));
    }
    if kind == DocKind::Datasource && doc.sources.first().is_none_or(|s| s.conns.is_empty()) {
        return Err(Refusal::Invalid("The datasource has no connection.".into()));
    }
    Ok(())
}

fn project_rules(d: &Dataset, project: u32, kind: DocKind) -> Vec<crate::sim::dataset::Rule> {
    let p = &d.projects[project as usize];
    match kind {
        DocKind::Workbook => p.default_workbook_rules.clone(),
        DocKind::Datasource => p.default_datasource_rules.clone(),
    }
}

/// Publishes a parsed document. Nothing changes when it is refused.
pub fn publish(d: &mut Dataset, p: Publish<'_>, doc: &Doc) -> Result<Target, Refusal> {
    check_sources(doc, p.kind)?;
    let target = match p.kind {
        DocKind::Workbook => publish_workbook(d, &p, doc)?,
        DocKind::Datasource => publish_datasource(d, &p, doc)?,
    };
    let item_id = match target {
        Target::Workbook(w) => d.workbooks[w as usize].id.clone(),
        Target::Datasource(x) => d.datasources[x as usize].id.clone(),
    };
    let mut passwords = Vec::new();
    let records = conn_records(doc, &item_id, d, &p.credentials, &mut passwords);
    d.docs.passwords.extend(passwords);
    d.docs.stored.insert(
        target,
        StoredDoc {
            filename: p.filename.clone(),
            bytes: p.bytes.clone(),
            original: records.clone(),
        },
    );
    d.docs.conns.insert(target, records);
    d.docs.lineage_epoch += 1;
    Ok(target)
}

fn publish_workbook(d: &mut Dataset, p: &Publish<'_>, doc: &Doc) -> Result<Target, Refusal> {
    let existing = (0..d.workbooks.len() as u32).find(|&w| {
        d.workbooks[w as usize].project == p.project
            && d.workbooks[w as usize].name.eq_ignore_ascii_case(&p.name)
    });
    if existing.is_some() && !p.overwrite {
        return Err(Refusal::Exists(format!(
            "A workbook named '{}' already exists in project '{}'; publish with overwrite=true to replace it.",
            p.name, d.projects[p.project as usize].name
        )));
    }
    let mut ids = Ids::new(d, &format!("workbook {} {}", p.name, p.bytes.len()));
    // Views people tagged, shared or used keep their id and history across an overwrite.
    let mut kept: HashMap<String, View> = HashMap::new();
    let w = match existing {
        Some(w) => {
            let wb = &d.workbooks[w as usize];
            let (views, embedded) = (wb.views.clone(), wb.embedded_datasources.clone());
            let dead: HashSet<u32> = embedded
                .clone()
                .flat_map(|e| d.lineage.embedded[e as usize].fields.clone())
                .collect();
            for v in views.clone() {
                let v = &d.views[v as usize];
                kept.insert(
                    v.name.to_lowercase(),
                    View {
                        id: v.id.clone(),
                        name: v.name.clone(),
                        url_name: v.url_name.clone(),
                        workbook: w,
                        sheet_type: v.sheet_type,
                        created_at: v.created_at,
                        updated_at: v.updated_at,
                        tags: v.tags.clone(),
                        usage: v.usage,
                        extra_rules: v.extra_rules.clone(),
                    },
                );
            }
            remove_fields(d, &dead);
            remove_views(d, views);
            let embedded = d.workbooks[w as usize].embedded_datasources.clone();
            remove_embedded(d, embedded);
            let wb = &mut d.workbooks[w as usize];
            let (vn, en) = (d.views.len() as u32, d.embedded_datasources.len() as u32);
            wb.views = vn..vn;
            wb.embedded_datasources = en..en;
            w
        }
        None => {
            let taken: HashSet<String> = d
                .workbooks
                .iter()
                .map(|w| w.content_url.to_ascii_lowercase())
                .collect();
            let id = ids.uuid(d);
            let w = d.workbooks.len() as u32;
            let (vn, en) = (d.views.len() as u32, d.embedded_datasources.len() as u32);
            d.workbooks.push(Workbook {
                id: id.clone(),
                name: p.name.clone(),
                description: String::new(),
                content_url: unique(&taken, url_name(&p.name), "_"),
                project: p.project,
                owner: p.owner,
                show_tabs: false,
                size_mb: 1,
                created_at: p.now,
                updated_at: p.now,
                tags: Vec::new(),
                has_extracts: false,
                views: vn..vn,
                embedded_datasources: en..en,
                rules: project_rules(d, p.project, DocKind::Workbook),
            });
            d.index_id(&id, Entity::Workbook(w));
            let mid = ids.uuid(d);
            d.lineage.workbook_ids.push(mid);
            w
        }
    };

    // Embedded datasources and their lineage.
    let first_e = d.embedded_datasources.len() as u32;
    let mut internal: Vec<String> = Vec::new();
    for src in &doc.sources {
        let published = src.published.as_ref().and_then(|cu| {
            d.datasources
                .iter()
                .position(|x| x.content_url.eq_ignore_ascii_case(cu))
                .map(|i| i as u32)
        });
        let e = d.embedded_datasources.len() as u32;
        let id = ids.uuid(d);
        d.embedded_datasources.push(EmbeddedDatasource {
            id,
            name: src.caption.clone(),
            workbook: w,
            published,
        });
        d.lineage.embedded.push(SourceLineage::default());
        let lin = build_source(
            d,
            &mut ids,
            src,
            Owner::Embedded(e),
            published,
            doc.has_extract,
        );
        d.lineage.embedded[e as usize] = lin;
        internal.push(src.internal.clone());
    }
    let embedded = first_e..d.embedded_datasources.len() as u32;

    // Views: worksheets, then dashboards and stories, as the document lists them.
    let today = (p.now - EPOCH).div_euclid(DAY);
    let first_v = d.views.len() as u32;
    let mut urls: HashSet<String> = HashSet::new();
    let kinds = doc
        .worksheets
        .iter()
        .map(|s| (s.name.clone(), SheetType::Worksheet))
        .chain(doc.dashboards.iter().map(|m| {
            (
                m.name.clone(),
                if m.story {
                    SheetType::Story
                } else {
                    SheetType::Dashboard
                },
            )
        }));
    for (name, kind) in kinds {
        let old = kept.remove(&name.to_lowercase());
        let url = unique(
            &urls,
            old.as_ref()
                .map_or_else(|| url_name(&name), |o| o.url_name.clone()),
            "_",
        );
        urls.insert(url.to_ascii_lowercase());
        let v = d.views.len() as u32;
        let view = match old {
            Some(o) => View {
                name,
                url_name: url,
                workbook: w,
                sheet_type: kind,
                updated_at: p.now,
                ..o
            },
            None => View {
                id: ids.uuid(d),
                name,
                url_name: url,
                workbook: w,
                sheet_type: kind,
                created_at: p.now,
                updated_at: p.now,
                tags: Vec::new(),
                usage: Usage {
                    start_day: today,
                    end_day: i64::MAX,
                    per_day_milli: 0,
                },
                extra_rules: Vec::new(),
            },
        };
        let id = view.id.clone();
        d.views.push(view);
        d.index_id(&id, Entity::View(v));
        d.lineage.view_sheet.push(None);
        d.lineage.view_dashboard.push(None);
    }
    let views = first_v..d.views.len() as u32;

    // Sheets with the fields they use; dashboards with the sheets they hold.
    let mut sheet_of: HashMap<String, u32> = HashMap::new();
    for (k, ws) in doc.worksheets.iter().enumerate() {
        let v = first_v + k as u32;
        let mut used: Vec<u32> = Vec::new();
        for (ds, cols) in &ws.deps {
            let Some(si) = internal.iter().position(|n| n == ds) else {
                continue;
            };
            let e = first_e + si as u32;
            let range = d.lineage.embedded[e as usize].fields.clone();
            let src = &doc.sources[si];
            for c in cols {
                if let Some(i) = src
                    .fields
                    .iter()
                    .position(|f| &f.internal == c || bracket(&f.name) == *c)
                {
                    let f = range.start + i as u32;
                    if f < range.end && !used.contains(&f) {
                        used.push(f);
                    }
                }
            }
        }
        used.sort_unstable();
        let s = d.lineage.sheets.len() as u32;
        let id = ids.uuid(d);
        d.lineage.sheets.push(Sheet {
            id,
            view: v,
            fields: used,
            dashboards: Vec::new(),
        });
        d.lineage.view_sheet[v as usize] = Some(s);
        sheet_of.insert(ws.name.clone(), s);
    }
    for (k, m) in doc.dashboards.iter().enumerate() {
        if m.story {
            continue;
        }
        let v = first_v + (doc.worksheets.len() + k) as u32;
        let held: Vec<u32> = m
            .sheets
            .iter()
            .filter_map(|n| sheet_of.get(n).copied())
            .collect();
        let dash = d.lineage.dashboards.len() as u32;
        for &s in &held {
            d.lineage.sheets[s as usize].dashboards.push(dash);
        }
        let id = ids.uuid(d);
        d.lineage.dashboards.push(MetaDashboard {
            id,
            view: v,
            sheets: held,
        });
        d.lineage.view_dashboard[v as usize] = Some(dash);
    }

    let has_extracts = embedded
        .clone()
        .any(|e| d.lineage.embedded[e as usize].has_extracts);
    let wb = &mut d.workbooks[w as usize];
    wb.views = views;
    wb.embedded_datasources = embedded;
    wb.has_extracts = has_extracts;
    wb.size_mb = (p.bytes.len() / (1 << 20)).max(1) as u32;
    wb.updated_at = p.now;
    wb.owner = if existing.is_some() {
        wb.owner
    } else {
        p.owner
    };
    if let Some(desc) = &p.description {
        wb.description = desc.clone();
    }
    if let Some(tabs) = p.show_tabs {
        wb.show_tabs = tabs;
    }
    for t in &p.tags {
        if !wb.tags.iter().any(|x| x.eq_ignore_ascii_case(t)) {
            wb.tags.push(t.clone());
        }
    }
    let tags = wb.tags.clone();
    for t in tags {
        d.tag_index(&t);
    }
    Ok(Target::Workbook(w))
}

fn publish_datasource(d: &mut Dataset, p: &Publish<'_>, doc: &Doc) -> Result<Target, Refusal> {
    let existing = (0..d.datasources.len() as u32).find(|&x| {
        d.datasources[x as usize].project == p.project
            && d.datasources[x as usize].name.eq_ignore_ascii_case(&p.name)
    });
    if existing.is_some() && !p.overwrite {
        return Err(Refusal::Exists(format!(
            "A data source named '{}' already exists in project '{}'; publish with overwrite=true to replace it.",
            p.name, d.projects[p.project as usize].name
        )));
    }
    let mut ids = Ids::new(d, &format!("datasource {} {}", p.name, p.bytes.len()));
    let src = &doc.sources[0];
    let class = src.conns.first().map_or("federated", |c| intern(&c.class));
    // Workbook fields that stand for this datasource's fields, by name, to
    // repoint after an overwrite.
    let mut stand_ins: Vec<(String, String)> = Vec::new();
    let x = match existing {
        Some(x) => {
            let range = d.lineage.published[x as usize].fields.clone();
            let dead: HashSet<u32> = range.clone().collect();
            for f in d.lineage.fields.iter() {
                if let Some(r) = f.remote.filter(|r| range.contains(r)) {
                    stand_ins.push((f.id.clone(), d.lineage.fields[r as usize].name.clone()));
                }
            }
            remove_fields(d, &dead);
            x
        }
        None => {
            let taken: HashSet<String> = d
                .datasources
                .iter()
                .map(|x| x.content_url.to_ascii_lowercase())
                .collect();
            let id = ids.uuid(d);
            let x = d.datasources.len() as u32;
            d.datasources.push(Datasource {
                id: id.clone(),
                name: p.name.clone(),
                description: String::new(),
                content_url: unique(&taken, url_name(&p.name), "_"),
                project: p.project,
                owner: p.owner,
                db_type: class,
                has_extracts: false,
                encrypt_extracts: false,
                certified: false,
                size_bytes: 0,
                created_at: p.now,
                updated_at: p.now,
                tags: Vec::new(),
                rules: project_rules(d, p.project, DocKind::Datasource),
            });
            d.index_id(&id, Entity::Datasource(x));
            d.lineage.published.push(SourceLineage::default());
            let mid = ids.uuid(d);
            d.lineage.published_ids.push(mid);
            x
        }
    };
    let lin = build_source(d, &mut ids, src, Owner::Published(x), None, doc.has_extract);
    let has_extracts = lin.has_extracts;
    let range = lin.fields.clone();
    d.lineage.published[x as usize] = lin;
    if !stand_ins.is_empty() {
        let by_id: HashMap<String, String> = stand_ins.into_iter().collect();
        let names: Vec<(u32, String)> = range
            .clone()
            .map(|f| (f, d.lineage.fields[f as usize].name.clone()))
            .collect();
        for f in d.lineage.fields.iter_mut() {
            if let Some(name) = by_id.get(&f.id) {
                f.remote = names.iter().find(|(_, n)| n == name).map(|(i, _)| *i);
            }
        }
    }
    let ds = &mut d.datasources[x as usize];
    ds.db_type = class;
    ds.has_extracts = has_extracts;
    ds.size_bytes = p.bytes.len() as u64;
    ds.updated_at = p.now;
    if let Some(desc) = &p.description {
        ds.description = desc.clone();
    }
    for t in &p.tags {
        if !ds.tags.iter().any(|x| x.eq_ignore_ascii_case(t)) {
            ds.tags.push(t.clone());
        }
    }
    let tags = ds.tags.clone();
    for t in tags {
        d.tag_index(&t);
    }
    Ok(Target::Datasource(x))
}

/// Moves the lineage of sources whose connection was edited to the new
/// server: each table they read on `old_server` is found (or created) under
/// the new server, and their column fields follow to its columns, so the
/// Metadata API shows the upstream tables under the server the connection
/// now names.
pub fn repoint(
    d: &mut Dataset,
    sources: &[Owner],
    class: &str,
    old_server: &str,
    new_server: &str,
    new_port: &str,
) {
    if old_server.eq_ignore_ascii_case(new_server) || new_server.is_empty() {
        return;
    }
    let mut ids = Ids::new(d, &format!("repoint {old_server} {new_server}"));
    let db = database(d, &mut ids, class, new_server, new_port);
    for &owner in sources {
        let count = d.lineage.source(owner).tables.len();
        for k in 0..count {
            let t = d.lineage.source(owner).tables[k];
            let old = &d.lineage.tables[t as usize];
            let old_db = &d.lineage.databases[old.database as usize];
            if old_db.connection_type != class || !old_db.name.eq_ignore_ascii_case(old_server) {
                continue;
            }
            let (schema, name, query) =
                (old.schema.to_string(), old.name.clone(), old.query.clone());
            let (nt, _) = table(d, &mut ids, db, &schema, &name, query.as_deref());
            // The old table's index may have moved with the insertion.
            let t = d.lineage.source(owner).tables[k];
            let fields: Vec<u32> = d.lineage.source(owner).fields.clone().collect();
            for f in fields {
                let Some(c) = d.lineage.fields[f as usize].column else {
                    continue;
                };
                if d.lineage.columns[c as usize].table != t {
                    continue;
                }
                let (cname, dt) = (
                    d.lineage.columns[c as usize].name.clone(),
                    d.lineage.fields[f as usize].data_type,
                );
                let (nc, _) = column(d, &mut ids, nt, &cname, dt);
                d.lineage.fields[f as usize].column = Some(nc);
            }
            let src = match owner {
                Owner::Published(x) => &mut d.lineage.published[x as usize],
                Owner::Embedded(e) => &mut d.lineage.embedded[e as usize],
            };
            src.tables[k] = nt;
        }
    }
    d.docs.lineage_epoch += 1;
}
