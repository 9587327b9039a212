//! The Metadata API's object graph over the dataset: a node handle per
//! entity, the field values of each node type, and the reverse indexes that
//! make downstream lookups cheap.
//!
//! Field names and types follow Tableau's schema
//! (`tableau.schema.graphql`); a field the schema declares but this module
//! does not model resolves to [`Out::Unmodeled`], and the schema layer gives
//! it a default of its type.

use std::collections::HashMap;

use crate::sim::dataset::lineage::{bracket, FieldKind, Owner};
use crate::sim::dataset::rng::{mix, Rng};
use crate::sim::dataset::{Dataset, Target};
use crate::sim::manifest::iso;

/// One entity of the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum N {
    Workbook(u32),
    Dashboard(u32),
    Sheet(u32),
    Published(u32),
    Embedded(u32),
    Database(u32),
    Table(u32),
    Column(u32),
    Field(u32),
    Warning(u32),
    User(u32),
    Tag(u32),
}

impl N {
    /// The concrete GraphQL type, for interface-typed fields.
    pub fn type_name(self, d: &Dataset) -> &'static str {
        let l = &d.lineage;
        match self {
            N::Workbook(_) => "Workbook",
            N::Dashboard(_) => "Dashboard",
            N::Sheet(_) => "Sheet",
            N::Published(_) => "PublishedDatasource",
            N::Embedded(_) => "EmbeddedDatasource",
            N::Database(_) => "DatabaseServer",
            N::Table(t) if l.tables[t as usize].query.is_some() => "CustomSQLTable",
            N::Table(_) => "DatabaseTable",
            N::Column(_) => "Column",
            N::Field(f) => l.fields[f as usize].kind.type_name(),
            N::Warning(_) => "DataQualityWarning",
            N::User(_) => "TableauUser",
            N::Tag(_) => "Tag",
        }
    }
}

/// A field's value before it becomes GraphQL.
pub enum Out {
    Null,
    Str(String),
    Bool(bool),
    Int(i64),
    Enum(&'static str),
    Node(N),
    Nodes(Vec<N>),
    /// The dataset does not model this field: the schema's default applies.
    Unmodeled,
}

fn s(v: &str) -> Out {
    Out::Str(v.to_string())
}

fn opt_time(t: Option<i64>) -> Out {
    t.map_or(Out::Null, |t| Out::Str(iso(t)))
}

/// A UUID string as a number, for compact id maps.
pub fn uuid_key(id: &str) -> Option<u128> {
    if id.len() != 36 {
        return None;
    }
    u128::from_str_radix(&id.replace('-', ""), 16).ok()
}

/// Reverse indexes over the dataset, built once per site.
pub struct Index {
    pub by_id: HashMap<u128, N>,
    pub by_luid: HashMap<u128, N>,
    pub workbook_sheets: Vec<Vec<u32>>,
    pub workbook_dashboards: Vec<Vec<u32>>,
    pub field_sheets: HashMap<u32, Vec<u32>>,
    pub stand_ins: HashMap<u32, Vec<u32>>,
    pub calc_users: HashMap<u32, Vec<u32>>,
    /// Every field built from a field (calculations, groups, bins, sets, hierarchies).
    pub ref_users: HashMap<u32, Vec<u32>>,
    pub column_fields: HashMap<u32, Vec<u32>>,
    pub published_embedded: Vec<Vec<u32>>,
    pub embedded_sheets: Vec<Vec<u32>>,
    pub table_published: HashMap<u32, Vec<u32>>,
    pub table_embedded: HashMap<u32, Vec<u32>>,
    pub published_warnings: HashMap<u32, Vec<u32>>,
    pub column_luids: Vec<String>,
}

impl Index {
    pub fn build(d: &Dataset) -> Index {
        let l = &d.lineage;
        let mut ix = Index {
            by_id: HashMap::with_capacity(l.fields.len() + l.columns.len() + d.workbooks.len() * 8),
            by_luid: HashMap::new(),
            workbook_sheets: vec![Vec::new(); d.workbooks.len()],
            workbook_dashboards: vec![Vec::new(); d.workbooks.len()],
            field_sheets: HashMap::new(),
            stand_ins: HashMap::new(),
            calc_users: HashMap::new(),
            ref_users: HashMap::new(),
            column_fields: HashMap::new(),
            published_embedded: vec![Vec::new(); d.datasources.len()],
            embedded_sheets: vec![Vec::new(); d.embedded_datasources.len()],
            table_published: HashMap::new(),
            table_embedded: HashMap::new(),
            published_warnings: HashMap::new(),
            column_luids: (0..l.columns.len() as u64).map(|c| Rng::new(mix(d.seed ^ 0xC01u64 << 40 ^ c)).uuid()).collect(),
        };
        let mut add = |id: &str, n: N| {
            if let Some(k) = uuid_key(id) {
                ix.by_id.insert(k, n);
            }
        };
        for (i, id) in l.workbook_ids.iter().enumerate() {
            add(id, N::Workbook(i as u32));
        }
        for (i, x) in l.dashboards.iter().enumerate() {
            add(&x.id, N::Dashboard(i as u32));
        }
        for (i, x) in l.sheets.iter().enumerate() {
            add(&x.id, N::Sheet(i as u32));
        }
        for (i, id) in l.published_ids.iter().enumerate() {
            add(id, N::Published(i as u32));
        }
        for (i, x) in d.embedded_datasources.iter().enumerate() {
            add(&x.id, N::Embedded(i as u32));
        }
        for (i, x) in l.databases.iter().enumerate() {
            add(&x.id, N::Database(i as u32));
        }
        for (i, x) in l.tables.iter().enumerate() {
            add(&x.id, N::Table(i as u32));
        }
        for (i, x) in l.columns.iter().enumerate() {
            add(&x.id, N::Column(i as u32));
        }
        for (i, x) in l.fields.iter().enumerate() {
            add(&x.id, N::Field(i as u32));
        }
        for (i, x) in l.warnings.iter().enumerate() {
            add(&x.id, N::Warning(i as u32));
        }

        let mut luid = |id: &str, n: N| {
            if let Some(k) = uuid_key(id) {
                ix.by_luid.insert(k, n);
            }
        };
        for (i, w) in d.workbooks.iter().enumerate() {
            luid(&w.id, N::Workbook(i as u32));
        }
        for (i, x) in d.datasources.iter().enumerate() {
            luid(&x.id, N::Published(i as u32));
        }
        for (i, x) in l.sheets.iter().enumerate() {
            luid(&d.views[x.view as usize].id, N::Sheet(i as u32));
        }
        for (i, x) in l.dashboards.iter().enumerate() {
            luid(&d.views[x.view as usize].id, N::Dashboard(i as u32));
        }
        for (i, x) in l.databases.iter().enumerate() {
            luid(&x.luid, N::Database(i as u32));
        }
        for (i, x) in l.tables.iter().enumerate() {
            luid(&x.luid, N::Table(i as u32));
        }
        for (i, x) in l.warnings.iter().enumerate() {
            luid(&x.luid, N::Warning(i as u32));
        }
        for (i, id) in ix.column_luids.iter().enumerate() {
            if let Some(k) = uuid_key(id) {
                ix.by_luid.insert(k, N::Column(i as u32));
            }
        }

        for (s, sheet) in l.sheets.iter().enumerate() {
            let w = d.views[sheet.view as usize].workbook;
            ix.workbook_sheets[w as usize].push(s as u32);
            for &f in &sheet.fields {
                ix.field_sheets.entry(f).or_default().push(s as u32);
                if let Owner::Embedded(e) = l.fields[f as usize].owner {
                    ix.embedded_sheets[e as usize].push(s as u32);
                }
            }
        }
        for v in ix.embedded_sheets.iter_mut() {
            v.sort_unstable();
            v.dedup();
        }
        for (m, dash) in l.dashboards.iter().enumerate() {
            let w = d.views[dash.view as usize].workbook;
            ix.workbook_dashboards[w as usize].push(m as u32);
        }
        for (i, f) in l.fields.iter().enumerate() {
            let i = i as u32;
            if let Some(r) = f.remote {
                ix.stand_ins.entry(r).or_default().push(i);
            }
            for &r in &f.refs {
                if f.kind == FieldKind::Calculated {
                    ix.calc_users.entry(r).or_default().push(i);
                }
                ix.ref_users.entry(r).or_default().push(i);
            }
            if let (FieldKind::Column, Some(c)) = (f.kind, f.column) {
                ix.column_fields.entry(c).or_default().push(i);
            }
        }
        for (e, x) in d.embedded_datasources.iter().enumerate() {
            if let Some(p) = x.published {
                ix.published_embedded[p as usize].push(e as u32);
            }
            // A table's downstream reaches through custom SQL queries over it.
            for t in with_sql_bases(l, &l.embedded[e].tables) {
                ix.table_embedded.entry(t).or_default().push(e as u32);
            }
        }
        for (p, src) in l.published.iter().enumerate() {
            for t in with_sql_bases(l, &src.tables) {
                ix.table_published.entry(t).or_default().push(p as u32);
            }
        }
        for (i, w) in l.warnings.iter().enumerate() {
            ix.published_warnings.entry(w.datasource).or_default().push(i as u32);
        }
        ix
    }
}

/// `tables` plus the database tables their custom SQL queries name.
fn with_sql_bases(l: &crate::sim::dataset::lineage::Lineage, tables: &[u32]) -> Vec<u32> {
    let mut out = tables.to_vec();
    for &t in tables {
        for b in l.sql_base_tables(t) {
            if !out.contains(&b) {
                out.push(b);
            }
        }
    }
    out
}

fn dedup(mut v: Vec<N>) -> Vec<N> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|n| seen.insert(*n));
    v
}

/// Resolves one field of one node.
pub fn resolve(d: &Dataset, now: i64, ix: &Index, n: N, field: &str) -> Out {
    let l = &d.lineage;
    // The latest of the scheduled history and refreshes run through the API.
    let last_refresh = |task: Option<&u32>, target: Target, fallback: i64| -> Out {
        let adhoc = d.adhoc_success_of(target);
        match task {
            Some(&t) => opt_time(d.last_success_at(t, now).max(adhoc)),
            None => Out::Str(iso(adhoc.unwrap_or(fallback))),
        }
    };
    match n {
        N::Workbook(w) => {
            let wb = &d.workbooks[w as usize];
            let p = &d.projects[wb.project as usize];
            match field {
                "id" => s(&l.workbook_ids[w as usize]),
                "luid" => s(&wb.id),
                "name" => s(&wb.name),
                "description" => s(&wb.description),
                "projectName" => s(&p.name),
                "projectLuid" => s(&p.id),
                "createdAt" => Out::Str(iso(wb.created_at)),
                "updatedAt" => Out::Str(iso(wb.updated_at)),
                "owner" => Out::Node(N::User(wb.owner)),
                "tags" => tag_nodes(d, &wb.tags),
                "sheets" => Out::Nodes(ix.workbook_sheets[w as usize].iter().map(|&x| N::Sheet(x)).collect()),
                "dashboards" => Out::Nodes(ix.workbook_dashboards[w as usize].iter().map(|&x| N::Dashboard(x)).collect()),
                "embeddedDatasources" => Out::Nodes(wb.embedded_datasources.clone().map(N::Embedded).collect()),
                "upstreamDatasources" => Out::Nodes(dedup(
                    wb.embedded_datasources
                        .clone()
                        .filter_map(|e| d.embedded_datasources[e as usize].published.map(N::Published))
                        .collect(),
                )),
                "upstreamTables" => Out::Nodes(workbook_tables(d, w).into_iter().filter(|n| is_db_table(d, *n)).collect()),
                "upstreamDatabases" => Out::Nodes(databases_of(d, &workbook_tables(d, w))),
                _ => Out::Unmodeled,
            }
        }
        N::Dashboard(m) => {
            let dash = &l.dashboards[m as usize];
            match view_field(d, dash.view, field) {
                Some(out) => out,
                None => match field {
                    "id" => s(&dash.id),
                    "sheets" => Out::Nodes(dash.sheets.iter().map(|&x| N::Sheet(x)).collect()),
                    _ => Out::Unmodeled,
                },
            }
        }
        N::Sheet(x) => {
            let sheet = &l.sheets[x as usize];
            match view_field(d, sheet.view, field) {
                Some(out) => out,
                None => match field {
                    "id" => s(&sheet.id),
                    "containedInDashboards" => Out::Nodes(sheet.dashboards.iter().map(|&m| N::Dashboard(m)).collect()),
                    "sheetFieldInstances" | "datasourceFields" => Out::Nodes(sheet.fields.iter().map(|&f| N::Field(f)).collect()),
                    "worksheetFields" => Out::Nodes(Vec::new()),
                    "upstreamColumns" => Out::Nodes(dedup(sheet.fields.iter().flat_map(|&f| upstream_columns(d, f, 0)).collect())),
                    "upstreamDatasources" | "parentEmbeddedDatasources" => Out::Nodes(dedup(
                        sheet
                            .fields
                            .iter()
                            .filter_map(|&f| match l.fields[f as usize].owner {
                                Owner::Embedded(e) => Some(N::Embedded(e)),
                                Owner::Published(p) => (field == "upstreamDatasources").then_some(N::Published(p)),
                            })
                            .collect(),
                    )),
                    _ => Out::Unmodeled,
                },
            }
        }
        N::Published(p) => {
            let ds = &d.datasources[p as usize];
            let src = &l.published[p as usize];
            match field {
                "id" => s(&l.published_ids[p as usize]),
                "luid" => s(&ds.id),
                "name" => s(&ds.name),
                "description" => s(&ds.description),
                "projectName" => s(&d.projects[ds.project as usize].name),
                "hasExtracts" => Out::Bool(ds.has_extracts),
                "extractLastRefreshTime" | "extractLastUpdateTime" if ds.has_extracts => {
                    last_refresh(d.task_of.get(&Target::Datasource(p)), Target::Datasource(p), ds.created_at)
                }
                "extractLastRefreshTime" | "extractLastUpdateTime" | "extractLastIncrementalUpdateTime" => Out::Null,
                "isCertified" => Out::Bool(ds.certified),
                "hasActiveWarning" => Out::Bool(
                    ix.published_warnings.get(&p).is_some_and(|ws| ws.iter().any(|&w| l.warnings[w as usize].active)),
                ),
                "createdAt" => Out::Str(iso(ds.created_at)),
                "updatedAt" => Out::Str(iso(ds.updated_at)),
                "owner" => Out::Node(N::User(ds.owner)),
                "tags" => tag_nodes(d, &ds.tags),
                "fields" => Out::Nodes(src.fields.clone().map(N::Field).collect()),
                "dataQualityWarnings" => {
                    Out::Nodes(ix.published_warnings.get(&p).into_iter().flatten().map(|&w| N::Warning(w)).collect())
                }
                "upstreamTables" => Out::Nodes(sql_expanded(d, &src.tables)),
                "upstreamDatabases" => Out::Nodes(databases_of(d, &src.tables.iter().map(|&t| N::Table(t)).collect::<Vec<_>>())),
                "downstreamWorkbooks" => Out::Nodes(dedup(
                    ix.published_embedded[p as usize]
                        .iter()
                        .map(|&e| N::Workbook(d.embedded_datasources[e as usize].workbook))
                        .collect(),
                )),
                "downstreamSheets" => {
                    let mut v: Vec<u32> =
                        ix.published_embedded[p as usize].iter().flat_map(|&e| ix.embedded_sheets[e as usize].clone()).collect();
                    v.sort_unstable();
                    v.dedup();
                    Out::Nodes(v.into_iter().map(N::Sheet).collect())
                }
                _ => Out::Unmodeled,
            }
        }
        N::Embedded(e) => {
            let x = &d.embedded_datasources[e as usize];
            let wb = &d.workbooks[x.workbook as usize];
            let src = &l.embedded[e as usize];
            let tables: Vec<u32> = match x.published {
                Some(p) => l.published[p as usize].tables.clone(),
                None => src.tables.clone(),
            };
            match field {
                "id" => s(&x.id),
                "name" => s(&x.name),
                "hasExtracts" => Out::Bool(src.has_extracts),
                "extractLastRefreshTime" | "extractLastUpdateTime" if src.has_extracts => {
                    last_refresh(d.task_of.get(&Target::Workbook(x.workbook)), Target::Workbook(x.workbook), wb.created_at)
                }
                "extractLastRefreshTime" | "extractLastUpdateTime" | "extractLastIncrementalUpdateTime" => Out::Null,
                "createdAt" => Out::Str(iso(wb.created_at)),
                "updatedAt" => Out::Str(iso(wb.updated_at)),
                "workbook" => Out::Node(N::Workbook(x.workbook)),
                "fields" => Out::Nodes(src.fields.clone().map(N::Field).collect()),
                "upstreamDatasources" => Out::Nodes(x.published.map(N::Published).into_iter().collect()),
                "upstreamTables" => Out::Nodes(sql_expanded(d, &tables)),
                "upstreamDatabases" => Out::Nodes(databases_of(d, &tables.iter().map(|&t| N::Table(t)).collect::<Vec<_>>())),
                "downstreamSheets" => Out::Nodes(ix.embedded_sheets[e as usize].iter().map(|&x| N::Sheet(x)).collect()),
                "downstreamWorkbooks" => Out::Nodes(vec![N::Workbook(x.workbook)]),
                _ => Out::Unmodeled,
            }
        }
        N::Database(b) => {
            let db = &l.databases[b as usize];
            match field {
                "id" => s(&db.id),
                "luid" => s(&db.luid),
                "name" | "hostName" => s(&db.name),
                "port" => Out::Int(db.port as i64),
                "connectionType" => s(db.connection_type),
                "isEmbedded" => Out::Bool(false),
                "tables" => Out::Nodes(
                    db.tables.clone().filter(|&t| l.tables[t as usize].query.is_none()).map(N::Table).collect(),
                ),
                _ => Out::Unmodeled,
            }
        }
        N::Table(t) => {
            let table = &l.tables[t as usize];
            let db = &l.databases[table.database as usize];
            match field {
                "id" => s(&table.id),
                "luid" => s(&table.luid),
                "name" => s(&table.name),
                "schema" => s(table.schema),
                "fullName" => Out::Str(table.full_name()),
                "query" => table.query.as_deref().map_or(Out::Null, s),
                "connectionType" => s(db.connection_type),
                "isEmbedded" => Out::Bool(false),
                "isUnsupportedCustomSql" => Out::Bool(false),
                "database" => Out::Node(N::Database(table.database)),
                "tables" => Out::Nodes(sql_base_tables(d, t)),
                "columns" => Out::Nodes(l.live_columns(t).map(N::Column).collect()),
                "downstreamDatasources" => {
                    Out::Nodes(ix.table_published.get(&t).into_iter().flatten().map(|&p| N::Published(p)).collect())
                }
                "downstreamWorkbooks" => {
                    let via_published = ix
                        .table_published
                        .get(&t)
                        .into_iter()
                        .flatten()
                        .flat_map(|&p| ix.published_embedded[p as usize].iter())
                        .map(|&e| N::Workbook(d.embedded_datasources[e as usize].workbook));
                    let direct = ix
                        .table_embedded
                        .get(&t)
                        .into_iter()
                        .flatten()
                        .map(|&e| N::Workbook(d.embedded_datasources[e as usize].workbook));
                    Out::Nodes(dedup(via_published.chain(direct).collect()))
                }
                _ => Out::Unmodeled,
            }
        }
        N::Column(c) => {
            let col = &l.columns[c as usize];
            match field {
                "id" => s(&col.id),
                "luid" => s(&ix.column_luids[c as usize]),
                "name" => s(&col.name),
                "remoteType" => Out::Enum(col.remote_type),
                "isNullable" => Out::Bool(col.nullable),
                "table" => Out::Node(N::Table(col.table)),
                "referencedByFields" => {
                    Out::Nodes(ix.column_fields.get(&c).into_iter().flatten().map(|&f| N::Field(f)).collect())
                }
                "downstreamFields" => Out::Nodes(downstream_fields(ix, c)),
                _ => Out::Unmodeled,
            }
        }
        N::Field(f) => field_value(d, ix, f, field),
        N::Warning(w) => {
            let q = &l.warnings[w as usize];
            match field {
                "id" => s(&q.id),
                "luid" => s(&q.luid),
                "value" | "warningType" => s(q.value),
                "category" => s("Quality"),
                "message" => s(&q.message),
                "isActive" => Out::Bool(q.active),
                "isElevated" | "isSevere" => Out::Bool(q.elevated),
                "createdAt" | "updatedAt" => Out::Str(iso(q.created_at)),
                "author" => Out::Node(N::User(q.author)),
                "asset" => Out::Node(N::Published(q.datasource)),
                _ => Out::Unmodeled,
            }
        }
        N::User(u) => {
            let user = &d.users[u as usize];
            match field {
                "id" => s(&l.user_ids[u as usize]),
                "luid" => s(&user.id),
                "name" => s(&user.full_name),
                "username" => s(&user.name),
                "email" => s(&user.email),
                "domain" => s("local"),
                _ => Out::Unmodeled,
            }
        }
        N::Tag(t) => match field {
            "id" => Out::Str(Rng::new(mix(0x7A6 ^ t as u64)).uuid()),
            "name" => s(&d.tag_labels[t as usize]),
            _ => Out::Unmodeled,
        },
    }
}

/// Fields fed by a column: its column fields, the fields built from them,
/// and the embedded fields standing for any of those, transitively.
fn downstream_fields(ix: &Index, c: u32) -> Vec<N> {
    let mut seen = std::collections::HashSet::new();
    let mut queue: Vec<u32> = ix.column_fields.get(&c).cloned().unwrap_or_default();
    let mut out = Vec::new();
    while let Some(f) = queue.pop() {
        if !seen.insert(f) {
            continue;
        }
        out.push(f);
        queue.extend(ix.ref_users.get(&f).into_iter().flatten());
        queue.extend(ix.stand_ins.get(&f).into_iter().flatten());
    }
    out.sort_unstable();
    out.into_iter().map(N::Field).collect()
}

fn tag_nodes(d: &Dataset, tags: &[String]) -> Out {
    Out::Nodes(tags.iter().filter_map(|t| d.tag_labels.iter().position(|x| x == t)).map(|i| N::Tag(i as u32)).collect())
}

/// Fields shared by sheets and dashboards (the View interface).
fn view_field(d: &Dataset, view: u32, field: &str) -> Option<Out> {
    let v = &d.views[view as usize];
    let wb = &d.workbooks[v.workbook as usize];
    Some(match field {
        "luid" => s(&v.id),
        "name" => s(&v.name),
        "path" => Out::Str(format!("{}/{}", wb.content_url, v.url_name)),
        "createdAt" => Out::Str(iso(v.created_at)),
        "updatedAt" => Out::Str(iso(v.updated_at)),
        "workbook" => Out::Node(N::Workbook(v.workbook)),
        "tags" => tag_nodes(d, &v.tags),
        _ => return None,
    })
}

fn is_db_table(d: &Dataset, n: N) -> bool {
    matches!(n, N::Table(t) if d.lineage.tables[t as usize].query.is_none())
}

/// Tables a custom SQL table reads (by name in its query).
fn sql_base_tables(d: &Dataset, t: u32) -> Vec<N> {
    d.lineage.sql_base_tables(t).into_iter().map(N::Table).collect()
}

/// Database tables behind `tables`, looking through custom SQL.
fn sql_expanded(d: &Dataset, tables: &[u32]) -> Vec<N> {
    d.lineage.sql_expanded(tables).into_iter().map(N::Table).collect()
}

fn workbook_tables(d: &Dataset, w: u32) -> Vec<N> {
    let l = &d.lineage;
    let mut out = Vec::new();
    for e in d.workbooks[w as usize].embedded_datasources.clone() {
        let tables = match d.embedded_datasources[e as usize].published {
            Some(p) => &l.published[p as usize].tables,
            None => &l.embedded[e as usize].tables,
        };
        out.extend(sql_expanded(d, tables));
    }
    dedup(out)
}

fn databases_of(d: &Dataset, tables: &[N]) -> Vec<N> {
    dedup(
        tables
            .iter()
            .filter_map(|n| match n {
                N::Table(t) => Some(N::Database(d.lineage.tables[*t as usize].database)),
                _ => None,
            })
            .collect(),
    )
}

/// Columns a field reads, through datasource fields and calculations.
fn upstream_columns(d: &Dataset, f: u32, depth: u32) -> Vec<N> {
    let l = &d.lineage;
    let field = &l.fields[f as usize];
    if depth > 8 {
        return Vec::new();
    }
    match field.kind {
        FieldKind::Column => l.live_column(field).map(N::Column).into_iter().collect(),
        FieldKind::Datasource => field.remote.map(|r| upstream_columns(d, r, depth + 1)).unwrap_or_default(),
        _ => dedup(field.refs.iter().flat_map(|&r| upstream_columns(d, r, depth + 1)).collect()),
    }
}

fn field_value(d: &Dataset, ix: &Index, f: u32, name: &str) -> Out {
    let l = &d.lineage;
    let field = &l.fields[f as usize];
    let data_field = !matches!(field.kind, FieldKind::Set | FieldKind::Hierarchy | FieldKind::Datasource);
    match name {
        "id" => s(&field.id),
        "name" => s(&field.name),
        "description" | "folderName" => Out::Null,
        "isHidden" => Out::Bool(field.hidden),
        "fullyQualifiedName" => Out::Str(bracket(&field.name)),
        "datasource" => Out::Node(match field.owner {
            Owner::Published(p) => N::Published(p),
            Owner::Embedded(e) => N::Embedded(e),
        }),
        "sheets" => Out::Nodes(ix.field_sheets.get(&f).into_iter().flatten().map(|&x| N::Sheet(x)).collect()),
        "downstreamSheets" => {
            let mut v: Vec<u32> = std::iter::once(f)
                .chain(ix.stand_ins.get(&f).into_iter().flatten().copied())
                .flat_map(|g| ix.field_sheets.get(&g).into_iter().flatten().copied())
                .collect();
            v.sort_unstable();
            v.dedup();
            Out::Nodes(v.into_iter().map(N::Sheet).collect())
        }
        "referencedByCalculations" => {
            Out::Nodes(ix.calc_users.get(&f).into_iter().flatten().map(|&c| N::Field(c)).collect())
        }
        "upstreamColumns" => Out::Nodes(upstream_columns(d, f, 0)),
        "dataType" if data_field => Out::Enum(field.data_type),
        "role" if data_field => Out::Enum(field.role),
        "dataCategory" if data_field => Out::Enum(match (field.role, field.data_type) {
            ("MEASURE", _) => "QUANTITATIVE",
            (_, "DATE" | "DATETIME") => "ORDINAL",
            _ => "NOMINAL",
        }),
        "aggregation" if field.role == "MEASURE" && data_field => s("Sum"),
        "formula" => field.formula.as_deref().map_or(Out::Null, s),
        "binSize" if field.kind == FieldKind::Bin => s("10"),
        "columns" => Out::Nodes(l.live_column(field).map(N::Column).into_iter().collect()),
        "fields" => Out::Nodes(field.refs.iter().map(|&r| N::Field(r)).collect()),
        "remoteField" => field.remote.map_or(Out::Null, |r| Out::Node(N::Field(r))),
        // Modeled, but without a value for this kind of field.
        "dataType" | "role" | "dataCategory" | "aggregation" | "binSize" => Out::Null,
        _ => Out::Unmodeled,
    }
}
