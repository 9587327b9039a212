//! The Metadata API's half of the site: database servers, tables (custom SQL
//! too), columns, datasource fields, sheets and dashboards, linked upstream
//! to downstream, with planted defects.
//!
//! Planted defects and decoys, each on a fixed pattern so every size has them:
//! - a column dropped from its table (its column field loses its upstream);
//! - a calculation naming a field its datasource does not have;
//! - a table gone from under an extract (no columns left; refreshes fail);
//! - published datasources that no workbook uses;
//! - decoys: calculations using `[Parameters].[…]`, fields renamed from their
//!   column, and field names with escaped brackets (`[Margin [Adj]]]`).

use std::collections::HashSet;
use std::ops::Range;

use super::rng::Rng;
use super::{day_start, Dataset, Health, SheetType, Target};

#[derive(Default)]
pub struct Lineage {
    pub databases: Vec<Database>,
    pub tables: Vec<Table>,
    pub columns: Vec<Column>,
    pub fields: Vec<Field>,
    pub sheets: Vec<Sheet>,
    pub dashboards: Vec<MetaDashboard>,
    pub warnings: Vec<QualityWarning>,
    /// Per published datasource (same index as `Dataset::datasources`).
    pub published: Vec<SourceLineage>,
    /// Per embedded datasource (same index as `Dataset::embedded_datasources`).
    pub embedded: Vec<SourceLineage>,
    /// Metadata API ids of entities whose REST id (LUID) differs.
    pub workbook_ids: Vec<String>,
    pub published_ids: Vec<String>,
    pub user_ids: Vec<String>,
    /// For each REST view, its sheet or dashboard index, if it has one.
    pub view_sheet: Vec<Option<u32>>,
    pub view_dashboard: Vec<Option<u32>>,
}

#[derive(Default)]
pub struct SourceLineage {
    pub fields: Range<u32>,
    pub tables: Vec<u32>,
    pub has_extracts: bool,
}

pub struct Database {
    pub id: String,
    pub luid: String,
    pub name: String,
    pub port: u16,
    pub connection_type: &'static str,
    pub tables: Range<u32>,
}

pub struct Table {
    pub id: String,
    pub luid: String,
    pub name: String,
    pub schema: &'static str,
    pub database: u32,
    /// The SQL of a custom SQL table; `None` for a database table.
    pub query: Option<String>,
    pub columns: Range<u32>,
    /// Dropped from the database: the catalog holds no columns for it.
    pub gone: bool,
}

impl Table {
    pub fn full_name(&self) -> String {
        format!("[{}].[{}]", self.schema, self.name)
    }
}

pub struct Column {
    pub id: String,
    pub name: String,
    pub remote_type: &'static str,
    pub nullable: bool,
    pub table: u32,
    /// Dropped from its table; no longer in the catalog.
    pub dropped: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Column,
    Calculated,
    Group,
    Bin,
    Set,
    Hierarchy,
    Datasource,
}

impl FieldKind {
    pub fn type_name(self) -> &'static str {
        match self {
            FieldKind::Column => "ColumnField",
            FieldKind::Calculated => "CalculatedField",
            FieldKind::Group => "GroupField",
            FieldKind::Bin => "BinField",
            FieldKind::Set => "SetField",
            FieldKind::Hierarchy => "HierarchyField",
            FieldKind::Datasource => "DatasourceField",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    Published(u32),
    Embedded(u32),
}

pub struct Field {
    pub id: String,
    pub name: String,
    pub kind: FieldKind,
    pub owner: Owner,
    pub data_type: &'static str,
    pub role: &'static str,
    pub formula: Option<String>,
    /// The upstream column of a column field.
    pub column: Option<u32>,
    /// Fields a calculation, group, bin, set or hierarchy is built from.
    pub refs: Vec<u32>,
    /// The published field a `DatasourceField` stands for.
    pub remote: Option<u32>,
    pub hidden: bool,
    /// Renamed by its author away from its column's caption; still connected.
    pub renamed: bool,
}

pub struct Sheet {
    pub id: String,
    pub view: u32,
    pub fields: Vec<u32>,
    pub dashboards: Vec<u32>,
}

pub struct MetaDashboard {
    pub id: String,
    pub view: u32,
    pub sheets: Vec<u32>,
}

pub struct QualityWarning {
    pub id: String,
    pub luid: String,
    pub datasource: u32,
    pub value: &'static str,
    pub message: String,
    pub active: bool,
    pub elevated: bool,
    pub created_at: i64,
    pub author: u32,
}

impl Lineage {
    /// The database tables a custom SQL table's query names; none for a
    /// database table.
    pub fn sql_base_tables(&self, t: u32) -> Vec<u32> {
        let table = &self.tables[t as usize];
        let Some(q) = &table.query else { return Vec::new() };
        self.databases[table.database as usize]
            .tables
            .clone()
            .filter(|&o| {
                let other = &self.tables[o as usize];
                other.query.is_none() && q.contains(&format!("{}.{} ", other.schema, other.name))
            })
            .collect()
    }

    /// Database tables behind `tables`, looking through custom SQL.
    pub fn sql_expanded(&self, tables: &[u32]) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for &t in tables {
            let base = if self.tables[t as usize].query.is_some() { self.sql_base_tables(t) } else { vec![t] };
            for b in base {
                if !out.contains(&b) {
                    out.push(b);
                }
            }
        }
        out
    }

    /// The upstream column a column field still reaches, if any.
    pub fn live_column(&self, f: &Field) -> Option<u32> {
        let c = f.column?;
        let col = &self.columns[c as usize];
        (!col.dropped && !self.tables[col.table as usize].gone).then_some(c)
    }

    /// The columns of a table that the catalog still lists.
    pub fn live_columns(&self, t: u32) -> impl Iterator<Item = u32> + '_ {
        let table = &self.tables[t as usize];
        let range = if table.gone { 0..0 } else { table.columns.clone() };
        range.filter(|&c| !self.columns[c as usize].dropped)
    }

    pub fn source(&self, owner: Owner) -> &SourceLineage {
        match owner {
            Owner::Published(i) => &self.published[i as usize],
            Owner::Embedded(i) => &self.embedded[i as usize],
        }
    }
}

const TABLE_NAMES: &[&str] = &[
    "orders", "order_items", "customers", "accounts", "opportunities", "invoices", "payments", "tickets",
    "inventory", "shipments", "employees", "campaigns", "web_sessions", "products", "subscriptions",
    "gl_entries", "events", "regions", "targets", "forecasts",
];
const TABLE_PREFIXES: &[&str] = &["", "fact_", "dim_", "stg_", "rpt_"];
const SCHEMAS: &[&str] = &["public", "analytics", "sales", "finance", "raw"];
const COLUMNS: &[(&str, &str)] = &[
    ("id", "I8"), ("created_at", "DBTIMESTAMP"), ("updated_at", "DBTIMESTAMP"), ("amount", "R8"),
    ("quantity", "I8"), ("status", "WSTR"), ("region", "WSTR"), ("country", "WSTR"), ("customer_name", "WSTR"),
    ("product_name", "WSTR"), ("category", "WSTR"), ("price", "R8"), ("discount", "R8"), ("cost", "R8"),
    ("owner", "WSTR"), ("segment", "WSTR"), ("channel", "WSTR"), ("order_date", "DBDATE"), ("ship_date", "DBDATE"),
    ("revenue", "R8"), ("margin", "R8"), ("is_active", "BOOL"), ("email", "WSTR"), ("city", "WSTR"),
    ("state", "WSTR"), ("postal_code", "WSTR"), ("priority", "I4"), ("score", "R8"), ("team", "WSTR"),
    ("currency", "WSTR"),
];
const DQW_VALUES: &[&str] = &["WARNING", "DEPRECATED", "STALE", "SENSITIVE_DATA", "MAINTENANCE"];

fn data_type(remote: &str) -> &'static str {
    match remote {
        "I8" | "I4" => "INTEGER",
        "R8" => "REAL",
        "DBDATE" => "DATE",
        "DBTIMESTAMP" => "DATETIME",
        "BOOL" => "BOOLEAN",
        _ => "STRING",
    }
}

/// `customer_name` → `Customer Name`, as Tableau captions columns.
fn caption(column: &str) -> String {
    column
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `[Name]` with `]` escaped as `]]`, as in Tableau formulas.
pub fn bracket(name: &str) -> String {
    format!("[{}]", name.replace(']', "]]"))
}

struct Sizes {
    databases: usize,
    tables_per_db: (i64, i64),
}

fn sizes(size: super::Size) -> Sizes {
    match size {
        super::Size::Small => Sizes { databases: 3, tables_per_db: (5, 8) },
        super::Size::Medium => Sizes { databases: 24, tables_per_db: (10, 20) },
        super::Size::Large => Sizes { databases: 120, tables_per_db: (20, 40) },
    }
}

/// A custom SQL table over `base`, with columns of its own.
fn custom_sql_table(rng: &mut Rng, db: u32, base: u32, tables: &mut Vec<Table>, columns: &mut Vec<Column>) -> u32 {
    let t = tables.len() as u32;
    let first_col = columns.len() as u32;
    let base_cols: Vec<(String, &'static str)> = tables[base as usize]
        .columns
        .clone()
        .map(|c| (columns[c as usize].name.clone(), columns[c as usize].remote_type))
        .collect();
    for (name, ty) in base_cols.into_iter().take(12) {
        columns.push(Column { id: rng.uuid(), name, remote_type: ty, nullable: true, table: t, dropped: false });
    }
    let b = &tables[base as usize];
    let query = format!(
        "SELECT o.*, r.region_name\nFROM {}.{} o\nLEFT JOIN public.regions r ON r.id = o.region\nWHERE o.status <> 'test'",
        b.schema, b.name
    );
    tables.push(Table {
        id: rng.uuid(),
        luid: rng.uuid(),
        name: "Custom SQL Query".into(),
        schema: "public",
        database: db,
        query: Some(query),
        columns: first_col..columns.len() as u32,
        gone: false,
    });
    t
}

/// Builds fields for one datasource over `tables`: a column field per live
/// column, then a few calculations and other derived fields.
struct FieldBuilder<'a> {
    rng: &'a mut Rng,
    fields: &'a mut Vec<Field>,
}

impl FieldBuilder<'_> {
    fn push(&mut self, owner: Owner, kind: FieldKind, name: String, data_type: &'static str, role: &'static str) -> u32 {
        self.fields.push(Field {
            id: self.rng.uuid(),
            name,
            kind,
            owner,
            data_type,
            role,
            formula: None,
            column: None,
            refs: Vec::new(),
            remote: None,
            hidden: false,
            renamed: false,
        });
        (self.fields.len() - 1) as u32
    }

    fn column_fields(&mut self, owner: Owner, tables: &[u32], lin_tables: &[Table], columns: &[Column]) -> Vec<u32> {
        let mut made = Vec::new();
        let mut names = HashSet::new();
        for &t in tables {
            for c in lin_tables[t as usize].columns.clone() {
                let col = &columns[c as usize];
                let mut name = caption(&col.name);
                if !names.insert(name.clone()) {
                    name = format!("{name} ({})", lin_tables[t as usize].name);
                    names.insert(name.clone());
                }
                let dt = data_type(col.remote_type);
                let role = if matches!(dt, "INTEGER" | "REAL") && col.name != "id" { "MEASURE" } else { "DIMENSION" };
                let f = self.push(owner, FieldKind::Column, name, dt, role);
                self.fields[f as usize].column = Some(c);
                self.fields[f as usize].hidden = self.rng.chance(0.05);
                made.push(f);
            }
        }
        made
    }

    /// Adds calculations over `base`; returns their indexes.
    fn calculations(&mut self, owner: Owner, base: &[u32], n: i64) -> Vec<u32> {
        let mut made = Vec::new();
        if base.is_empty() {
            return made;
        }
        for i in 0..n {
            let a = *self.rng.pick(base);
            let b = *self.rng.pick(base);
            let (an, bn) = (bracket(&self.fields[a as usize].name), bracket(&self.fields[b as usize].name));
            let (formula, name, refs, dt) = match i % 4 {
                0 => (format!("SUM({an}) - SUM({bn})"), format!("Net {}", self.fields[a as usize].name), vec![a, b], "REAL"),
                1 => (format!("IF ISNULL({an}) THEN 0 ELSE 1 END"), format!("Has {}", self.fields[a as usize].name), vec![a], "INTEGER"),
                2 => (format!("ZN({an}) / NULLIF(ZN({bn}), 0)"), format!("{} Ratio", self.fields[a as usize].name), vec![a, b], "REAL"),
                // A parameter reference: not a missing field.
                _ => (
                    format!("{an} * [Parameters].[Growth Rate]"),
                    format!("Projected {}", self.fields[a as usize].name),
                    vec![a],
                    "REAL",
                ),
            };
            let f = self.push(owner, FieldKind::Calculated, name, dt, if dt == "REAL" { "MEASURE" } else { "DIMENSION" });
            let mut refs = refs;
            refs.dedup();
            self.fields[f as usize].formula = Some(formula);
            self.fields[f as usize].refs = refs;
            made.push(f);
        }
        made
    }

    /// A calculation naming a field the datasource does not have, plus a
    /// decoy: a field whose name has brackets, named with escaped brackets.
    fn missing_reference(&mut self, owner: Owner, a: u32) {
        let an = bracket(&self.fields[a as usize].name);
        let legacy = self.push(owner, FieldKind::Calculated, "Legacy Margin".into(), "REAL", "MEASURE");
        self.fields[legacy as usize].formula = Some(format!("SUM({an}) - SUM([Old Cost Basis])"));
        self.fields[legacy as usize].refs = vec![a];
        let adj = self.push(owner, FieldKind::Calculated, "Margin [Adj]".into(), "REAL", "MEASURE");
        self.fields[adj as usize].formula = Some(format!("ZN({an}) * 0.98"));
        self.fields[adj as usize].refs = vec![a];
        let share = self.push(owner, FieldKind::Calculated, "Margin Adj Share".into(), "REAL", "MEASURE");
        self.fields[share as usize].formula = Some(format!("SUM({0}) / TOTAL(SUM({0}))", bracket("Margin [Adj]")));
        self.fields[share as usize].refs = vec![adj];
    }

    fn derived(&mut self, owner: Owner, base: &[u32]) {
        if base.is_empty() {
            return;
        }
        let kinds = [
            (FieldKind::Group, "Group"),
            (FieldKind::Bin, "Bin"),
            (FieldKind::Set, "Set"),
            (FieldKind::Hierarchy, "Hierarchy"),
        ];
        for (kind, label) in kinds {
            if self.rng.chance(0.35) {
                let a = *self.rng.pick(base);
                let name = format!("{} ({label})", self.fields[a as usize].name);
                let f = self.push(owner, kind, name, self.fields[a as usize].data_type, "DIMENSION");
                self.fields[f as usize].refs = vec![a];
            }
        }
    }
}

pub(super) fn generate(d: &mut Dataset, root: &Rng) {
    let sz = sizes(d.size);
    let mut rng = root.fork(9);
    let now0 = day_start(0);

    // Databases, tables and columns.
    let mut databases = Vec::new();
    let mut tables: Vec<Table> = Vec::new();
    let mut columns: Vec<Column> = Vec::new();
    let server_types = ["postgres", "snowflake", "sqlserver", "redshift", "bigquery", "mysql"];
    for i in 0..sz.databases {
        let connection_type = server_types[i % server_types.len()];
        let first_table = tables.len() as u32;
        let mut taken = HashSet::new();
        for _ in 0..rng.range(sz.tables_per_db.0, sz.tables_per_db.1) {
            let base = format!("{}{}", rng.pick(TABLE_PREFIXES), rng.pick(TABLE_NAMES));
            let mut name = base.clone();
            let mut n = 2;
            while !taken.insert(name.clone()) {
                name = format!("{base}_{n}");
                n += 1;
            }
            let first_col = columns.len() as u32;
            let table = tables.len() as u32;
            let mut col_names = HashSet::new();
            for _ in 0..rng.range(10, 36) {
                let (base, ctype) = *rng.pick(COLUMNS);
                let mut cname = base.to_string();
                let mut n = 2;
                while !col_names.insert(cname.clone()) {
                    cname = format!("{base}_{n}");
                    n += 1;
                }
                columns.push(Column {
                    id: rng.uuid(),
                    name: cname,
                    remote_type: ctype,
                    nullable: rng.chance(0.6),
                    table,
                    dropped: false,
                });
            }
            tables.push(Table {
                id: rng.uuid(),
                luid: rng.uuid(),
                name,
                schema: *rng.pick(SCHEMAS),
                database: i as u32,
                query: None,
                columns: first_col..columns.len() as u32,
                gone: false,
            });
        }
        databases.push(Database {
            id: rng.uuid(),
            luid: rng.uuid(),
            name: format!("{connection_type}-{:02}.data.example.com", i + 1),
            port: match connection_type {
                "postgres" | "redshift" => 5432,
                "sqlserver" => 1433,
                "mysql" => 3306,
                _ => 443,
            },
            connection_type,
            tables: first_table..tables.len() as u32,
        });
    }
    let db_tables: Vec<Range<u32>> = databases.iter().map(|db| db.tables.clone()).collect();

    let pick_tables = |rng: &mut Rng, n: i64| -> (u32, Vec<u32>) {
        let db = rng.below(db_tables.len() as u64) as u32;
        let range = db_tables[db as usize].clone();
        let mut ts: Vec<u32> = (0..n).map(|_| range.start + rng.below((range.end - range.start) as u64) as u32).collect();
        ts.sort_unstable();
        ts.dedup();
        (db, ts)
    };

    let mut fields: Vec<Field> = Vec::new();
    let mut published = Vec::with_capacity(d.datasources.len());
    for i in 0..d.datasources.len() {
        let n = rng.range(1, 3);
        let (db, mut ts) = pick_tables(&mut rng, n);
        if i % 20 == 3 {
            ts = vec![custom_sql_table(&mut rng, db, ts[0], &mut tables, &mut columns)];
        }
        let owner = Owner::Published(i as u32);
        let first = fields.len() as u32;
        let mut b = FieldBuilder { rng: &mut rng, fields: &mut fields };
        let base = b.column_fields(owner, &ts, &tables, &columns);
        if i % 15 == 2 && !base.is_empty() {
            // Renamed before any calculation names it, as Tableau rewrites
            // formulas on rename.
            let f = base[base.len() / 2] as usize;
            b.fields[f].name = format!("Reporting {}", b.fields[f].name);
            b.fields[f].renamed = true;
        }
        let n_calc = b.rng.range(2, 6);
        b.calculations(owner, &base, n_calc);
        b.derived(owner, &base);
        if !base.is_empty() {
            match i % 15 {
                1 => b.missing_reference(owner, base[0]),
                4 => {
                    let f = *b.rng.pick(&base);
                    if let Some(c) = fields[f as usize].column {
                        columns[c as usize].dropped = true;
                    }
                }
                _ => {}
            }
        }
        published.push(SourceLineage { fields: first..fields.len() as u32, tables: ts, has_extracts: d.datasources[i].has_extracts });
    }

    // Embedded datasources: through a published datasource (its fields as
    // DatasourceFields) or straight to tables.
    let mut embedded = Vec::with_capacity(d.embedded_datasources.len());
    for i in 0..d.embedded_datasources.len() {
        let e = &d.embedded_datasources[i];
        let owner = Owner::Embedded(i as u32);
        let first = fields.len() as u32;
        let wb_extracts = d.workbooks[e.workbook as usize].has_extracts;
        let (tables_of, has_extracts) = match e.published {
            Some(p) => {
                let remote = published[p as usize].fields.clone();
                let mut names = Vec::with_capacity(remote.len());
                for r in remote.clone() {
                    names.push((r, fields[r as usize].name.clone(), fields[r as usize].data_type, fields[r as usize].role));
                }
                let mut b = FieldBuilder { rng: &mut rng, fields: &mut fields };
                let mut made = Vec::new();
                for (r, name, dt, role) in names {
                    let f = b.push(owner, FieldKind::Datasource, name, dt, role);
                    b.fields[f as usize].remote = Some(r);
                    made.push(f);
                }
                let n = b.rng.range(0, 2);
                b.calculations(owner, &made, n);
                (Vec::new(), false)
            }
            None => {
                let n = rng.range(1, 2);
                let (_, ts) = pick_tables(&mut rng, n);
                let mut b = FieldBuilder { rng: &mut rng, fields: &mut fields };
                let base = b.column_fields(owner, &ts, &tables, &columns);
                let n = b.rng.range(1, 4);
                b.calculations(owner, &base, n);
                (ts, wb_extracts)
            }
        };
        embedded.push(SourceLineage { fields: first..fields.len() as u32, tables: tables_of, has_extracts });
    }

    plant_gone_tables(d, &mut tables, &published, &embedded);

    // Sheets use fields of their workbook's embedded datasources; dashboards
    // hold sheets of the same workbook.
    let mut sheets = Vec::new();
    let mut dashboards = Vec::new();
    let mut view_sheet = vec![None; d.views.len()];
    let mut view_dashboard = vec![None; d.views.len()];
    for wb in d.workbooks.iter() {
        let pool: Vec<u32> = wb
            .embedded_datasources
            .clone()
            .flat_map(|e| embedded[e as usize].fields.clone())
            .filter(|&f| !fields[f as usize].hidden)
            .collect();
        let first_sheet = sheets.len() as u32;
        for v in wb.views.clone() {
            if d.views[v as usize].sheet_type != SheetType::Worksheet {
                continue;
            }
            let mut used: Vec<u32> = (0..rng.range(3, 10)).filter_map(|_| (!pool.is_empty()).then(|| *rng.pick(&pool))).collect();
            used.sort_unstable();
            used.dedup();
            view_sheet[v as usize] = Some(sheets.len() as u32);
            sheets.push(Sheet { id: rng.uuid(), view: v, fields: used, dashboards: Vec::new() });
        }
        let wb_sheets: Vec<u32> = (first_sheet..sheets.len() as u32).collect();
        for v in wb.views.clone() {
            if d.views[v as usize].sheet_type != SheetType::Dashboard {
                continue;
            }
            let dash = dashboards.len() as u32;
            let mut held: Vec<u32> = (0..rng.range(1, 4)).map(|_| *rng.pick(&wb_sheets)).collect();
            held.sort_unstable();
            held.dedup();
            for &s in &held {
                sheets[s as usize].dashboards.push(dash);
            }
            view_dashboard[v as usize] = Some(dash);
            dashboards.push(MetaDashboard { id: rng.uuid(), view: v, sheets: held });
        }
    }

    // Data quality warnings on some published datasources; some inactive.
    let mut warnings = Vec::new();
    for (i, ds) in d.datasources.iter().enumerate() {
        if i % 12 != 5 {
            continue;
        }
        let value = DQW_VALUES[(i / 12) % DQW_VALUES.len()];
        let created_at = ds.created_at + rng.range(0, now0 - ds.created_at);
        warnings.push(QualityWarning {
            id: rng.uuid(),
            luid: rng.uuid(),
            datasource: i as u32,
            value,
            message: format!("{} data may be incomplete while the upstream load is investigated", ds.name),
            active: (i / 12) % 3 != 2,
            elevated: (i / 12) % 4 == 0,
            created_at,
            author: ds.owner,
        });
    }

    let workbook_ids = d.workbooks.iter().map(|_| rng.uuid()).collect();
    let published_ids = d.datasources.iter().map(|_| rng.uuid()).collect();
    let user_ids = d.users.iter().map(|_| rng.uuid()).collect();

    d.lineage = Lineage {
        databases,
        tables,
        columns,
        fields,
        sheets,
        dashboards,
        warnings,
        published,
        embedded,
        workbook_ids,
        published_ids,
        user_ids,
        view_sheet,
        view_dashboard,
    };
}

/// One extract datasource in forty (and always the first with a refresh
/// task) loses a table: the catalog lists no columns for it, and the
/// extract's refreshes fail from then on.
fn plant_gone_tables(d: &mut Dataset, tables: &mut [Table], published: &[SourceLineage], embedded: &[SourceLineage]) {
    let now0 = day_start(0);
    // Healthy extracts first; failing ones may lose a table too, but the
    // transient-failure decoys and suspended schedules stay as they are.
    let mut tasks_of: Vec<(bool, usize, u32)> = d
        .tasks
        .iter()
        .enumerate()
        .filter_map(|(t, task)| match (task.target, task.health) {
            (_, Health::TransientFailure { .. }) => None,
            _ if d.schedules[task.schedule as usize].suspended_at.is_some() => None,
            (Target::Datasource(x), h) => Some((h != Health::Healthy, t, x)),
            _ => None,
        })
        .collect();
    tasks_of.sort();
    // Tables behind the transient-failure decoys stay, so the decoys stay clean.
    let mut protected = HashSet::new();
    for task in d.tasks.iter().filter(|t| matches!(t.health, Health::TransientFailure { .. })) {
        match task.target {
            Target::Datasource(x) => protected.extend(published[x as usize].tables.iter().copied()),
            Target::Workbook(w) => {
                for e in d.workbooks[w as usize].embedded_datasources.clone() {
                    protected.extend(embedded[e as usize].tables.iter().copied());
                }
            }
        }
    }
    let eligible = tasks_of.into_iter().filter_map(|(_, t, x)| {
        let table = published[x as usize]
            .tables
            .iter()
            .copied()
            .find(|&tb| tables[tb as usize].query.is_none() && !protected.contains(&tb))?;
        Some((t, table))
    });
    let planted: Vec<(usize, u32)> = eligible.step_by(40).collect();
    for (t, table) in planted {
        tables[table as usize].gone = true;
        fail_from_now(d, t, now0);
    }
    // Workbook extracts over a gone table fail as well.
    for t in 0..d.tasks.len() {
        let Target::Workbook(w) = d.tasks[t].target else { continue };
        let hit = d.workbooks[w as usize]
            .embedded_datasources
            .clone()
            .any(|e| embedded[e as usize].tables.iter().any(|&tb| tables[tb as usize].gone));
        if hit {
            fail_from_now(d, t, now0);
        }
    }
}

fn fail_from_now(d: &mut Dataset, t: usize, now0: i64) {
    if d.tasks[t].health == Health::Healthy {
        let last0 = d.last_run_at(t as u32, now0).unwrap_or(0);
        d.tasks[t].health = Health::FailingSince { run: (last0 - 1).max(0) };
    }
}

/// The field names a Tableau formula refers to: `[Name]` tokens with `]]`
/// as an escaped `]`, skipping string literals and `[Parameters].[…]`.
pub fn formula_references(formula: &str) -> Vec<String> {
    let chars: Vec<char> = formula.chars().collect();
    let mut refs = Vec::new();
    let mut i = 0;
    let mut skip_next = false;
    while i < chars.len() {
        match chars[i] {
            q @ ('"' | '\'') => {
                i += 1;
                while i < chars.len() && chars[i] != q {
                    i += 1;
                }
                i += 1;
            }
            '[' => {
                let mut name = String::new();
                i += 1;
                while i < chars.len() {
                    if chars[i] == ']' {
                        if chars.get(i + 1) == Some(&']') {
                            name.push(']');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    name.push(chars[i]);
                    i += 1;
                }
                i += 1;
                let qualifies_next = chars.get(i) == Some(&'.') && chars.get(i + 1) == Some(&'[');
                if skip_next {
                    skip_next = false;
                } else if name == "Parameters" && qualifies_next {
                    skip_next = true;
                } else {
                    refs.push(name);
                }
                if qualifies_next {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    refs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_skip_parameters_literals_and_unescape_brackets() {
        assert_eq!(formula_references("SUM([Sales]) - [Cost]"), vec!["Sales", "Cost"]);
        assert_eq!(formula_references("[Sales] * [Parameters].[Growth Rate]"), vec!["Sales"]);
        assert_eq!(formula_references("SUM([Margin [Adj]]])"), vec!["Margin [Adj]"]);
        assert_eq!(formula_references("IF [Status] = \"[Closed]\" THEN 1 END"), vec!["Status"]);
        assert_eq!(bracket("Margin [Adj]"), "[Margin [Adj]]]");
    }

    #[test]
    fn every_size_has_lineage_and_planted_defects() {
        let d = super::super::generate(super::super::Size::Small, 42, "analytics");
        let l = &d.lineage;
        assert!(!l.databases.is_empty() && !l.tables.is_empty() && !l.columns.is_empty());
        assert!(l.tables.iter().any(|t| t.query.is_some()), "a custom SQL table");
        assert!(l.columns.iter().any(|c| c.dropped), "a dropped column");
        assert!(l.tables.iter().any(|t| t.gone), "a table gone from under an extract");
        assert!(l.fields.iter().any(|f| f.name == "Legacy Margin"));
        assert!(l.fields.iter().any(|f| f.renamed));
        for (i, src) in l.published.iter().enumerate() {
            for f in src.fields.clone() {
                assert_eq!(l.fields[f as usize].owner, Owner::Published(i as u32));
            }
        }
        let worksheets = d.views.iter().filter(|v| v.sheet_type == SheetType::Worksheet).count();
        assert_eq!(l.sheets.len(), worksheets);
    }
}
