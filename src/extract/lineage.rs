//! Metadata API streams: content (dashboards, sheets, datasources), data
//! (database servers, tables, columns), fields, and the lineage edges
//! between them. Each pages one root connection with a typed query from
//! `queries/` and writes its entity table plus the edges it knows.

use graphql_client::GraphQLQuery;

use super::{Ctx, Stream};
use crate::tableau::metadata::{read_connection, PageOf, Read};
use crate::tableau::queries::{self, START_FIRST};
use crate::tableau::TableauError;
use crate::time::parse as parse_time;
use crate::warehouse::{Rows, V};

/// Reads of a connection that changed while it was read, before the
/// stream fails.
const READS: u32 = 3;

/// Reads a whole root connection ([`read_connection`]: several pages at
/// once, drift detected), recording warnings on the run. `fresh()` makes
/// the sink state of one read; a read that met drift is thrown away and
/// the connection read again, up to [`READS`] times.
async fn read_consistent<Q, N, S>(
    ctx: &Ctx,
    stream: &str,
    vars: impl Fn(i64, Option<String>, Option<i64>) -> Q::Variables,
    page: impl Fn(Q::ResponseData) -> PageOf<N>,
    id: impl Fn(&N) -> &str,
    fresh: impl Fn() -> S,
    push: impl Fn(&mut S, Vec<N>),
) -> anyhow::Result<S>
where
    Q: GraphQLQuery,
{
    let mut attempt = 1;
    loop {
        let mut state = fresh();
        let result: Result<Read, TableauError> =
            read_connection::<Q, N>(&ctx.client, START_FIRST, &vars, &page, &id, |nodes| {
                ctx.progress(stream, nodes.len() as u64);
                push(&mut state, nodes)
            })
            .await;
        match result {
            Ok(read) => {
                for w in read.warnings {
                    ctx.warn(stream, w);
                }
                return Ok(state);
            }
            Err(e @ TableauError::Drift { .. }) if attempt < READS => {
                ctx.warn(stream, format!("{e}; reading it again"));
                attempt += 1;
            }
            Err(e @ TableauError::Drift { .. }) => {
                anyhow::bail!("{e}; it changed on each of {READS} reads, so nothing was written")
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Every node of a root connection:
/// `fetch_connection!(ctx, stream, Query, query_module, x_connection)`.
macro_rules! fetch_connection {
    ($ctx:expr, $stream:expr, $query:ident, $module:ident, $connection:ident) => {
        read_consistent::<queries::$query, _, Vec<_>>(
            $ctx,
            $stream,
            |first, after, offset| queries::$module::Variables { first: Some(first), after, offset },
            |d: queries::$module::ResponseData| {
                let c = d.$connection;
                PageOf {
                    nodes: c.nodes,
                    end_cursor: c.page_info.end_cursor,
                    has_next: c.page_info.has_next_page,
                    total: Some(c.total_count),
                }
            },
            |n| n.id.as_str(),
            Vec::new,
            |all, nodes| all.extend(nodes),
        )
    };
}

fn t(s: &Option<String>) -> V<'static> {
    s.as_deref().and_then(parse_time).map_or(V::Null, V::Time)
}

fn ts(s: &str) -> V<'static> {
    parse_time(s).map_or(V::Null, V::Time)
}

stream!(Dashboards, "dashboards", ["dashboards", "dashboard_sheets", "workbook_contents"]);

impl Dashboards {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let nodes = fetch_connection!(ctx, self.name(), Dashboards, dashboards, dashboards_connection).await?;
        let mut rows = Rows::new("dashboards");
        let mut on = Rows::new("dashboard_sheets");
        let mut contents = Rows::new("workbook_contents");
        for n in &nodes {
            let workbook = n.workbook.as_ref().map(|w| w.luid.as_str());
            let Some(workbook) = workbook else {
                ctx.warn(self.name(), format!("dashboard {} has no workbook; skipped", n.id));
                continue;
            };
            rows.push(&[
                n.id.as_str().into(),
                n.luid.as_str().into(),
                n.name.as_deref().into(),
                n.path.as_deref().into(),
                workbook.into(),
                ts(&n.created_at),
                ts(&n.updated_at),
            ])?;
            for s in &n.sheets {
                on.push(&[n.id.as_str().into(), s.id.as_str().into()])?;
            }
            contents.push(&[workbook.into(), n.id.as_str().into(), "dashboard".into()])?;
        }
        ctx.emit(self.name(), rows)?;
        ctx.emit(self.name(), on)?;
        ctx.emit(self.name(), contents)
    }
}

stream!(Sheets, "sheets", ["sheets", "sheet_fields", "workbook_contents"]);

impl Sheets {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let nodes = fetch_connection!(ctx, self.name(), Sheets, sheets, sheets_connection).await?;
        let mut rows = Rows::new("sheets");
        let mut uses = Rows::new("sheet_fields");
        let mut contents = Rows::new("workbook_contents");
        for n in &nodes {
            let Some(workbook) = n.workbook.as_ref().map(|w| w.luid.as_str()) else {
                ctx.warn(self.name(), format!("sheet {} has no workbook; skipped", n.id));
                continue;
            };
            rows.push(&[
                n.id.as_str().into(),
                n.luid.as_str().into(),
                n.name.as_deref().into(),
                n.path.as_deref().into(),
                workbook.into(),
                ts(&n.created_at),
                ts(&n.updated_at),
            ])?;
            for f in n.sheet_field_instances.iter().flatten().flatten() {
                uses.push(&[n.id.as_str().into(), f.id.as_str().into()])?;
            }
            contents.push(&[workbook.into(), n.id.as_str().into(), "sheet".into()])?;
        }
        ctx.emit(self.name(), rows)?;
        ctx.emit(self.name(), uses)?;
        ctx.emit(self.name(), contents)
    }
}

stream!(PublishedDatasources, "published_datasources", ["published_datasources", "datasource_tables"]);

impl PublishedDatasources {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let nodes = fetch_connection!(ctx, self.name(), PublishedDatasources, published_datasources, published_datasources_connection).await?;
        let mut rows = Rows::new("published_datasources");
        let mut reads = Rows::new("datasource_tables");
        for n in &nodes {
            rows.push(&[
                n.id.as_str().into(),
                n.luid.as_str().into(),
                n.name.as_deref().into(),
                n.project_name.as_deref().into(),
                Some(n.owner.luid.as_str()).into(),
                n.has_extracts.into(),
                t(&n.extract_last_refresh_time),
                t(&n.extract_last_update_time),
                Some(n.is_certified).into(),
                Some(n.has_active_warning).into(),
                t(&n.created_at),
                t(&n.updated_at),
            ])?;
            for table in &n.upstream_tables {
                reads.push(&[n.id.as_str().into(), "published".into(), table.id.as_str().into()])?;
            }
        }
        ctx.emit(self.name(), rows)?;
        ctx.emit(self.name(), reads)
    }
}

stream!(
    EmbeddedDatasources,
    "embedded_datasources",
    ["embedded_datasources", "embedded_published_datasources", "datasource_tables"]
);

impl EmbeddedDatasources {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let nodes = fetch_connection!(ctx, self.name(), EmbeddedDatasources, embedded_datasources, embedded_datasources_connection).await?;
        let mut rows = Rows::new("embedded_datasources");
        let mut through = Rows::new("embedded_published_datasources");
        let mut reads = Rows::new("datasource_tables");
        for n in &nodes {
            let Some(workbook) = n.workbook.as_ref().map(|w| w.luid.as_str()) else {
                ctx.warn(self.name(), format!("embedded datasource {} has no workbook; skipped", n.id));
                continue;
            };
            rows.push(&[
                n.id.as_str().into(),
                n.name.as_deref().into(),
                workbook.into(),
                n.has_extracts.into(),
                t(&n.extract_last_refresh_time),
                t(&n.extract_last_update_time),
            ])?;
            for p in &n.upstream_datasources {
                through.push(&[n.id.as_str().into(), p.id.as_str().into()])?;
            }
            for table in &n.upstream_tables {
                reads.push(&[n.id.as_str().into(), "embedded".into(), table.id.as_str().into()])?;
            }
        }
        ctx.emit(self.name(), rows)?;
        ctx.emit(self.name(), through)?;
        ctx.emit(self.name(), reads)
    }
}

stream!(DatabaseServers, "database_servers", ["database_servers"]);

impl DatabaseServers {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let nodes = fetch_connection!(ctx, self.name(), DatabaseServers, database_servers, database_servers_connection).await?;
        let mut rows = Rows::new("database_servers");
        for n in &nodes {
            rows.push(&[
                n.id.as_str().into(),
                Some(n.luid.as_str()).into(),
                n.name.as_deref().into(),
                n.host_name.as_deref().into(),
                n.port.into(),
                n.connection_type.as_deref().into(),
            ])?;
        }
        ctx.emit(self.name(), rows)
    }
}

// Database tables and custom SQL tables share one table (`kind` tells them
// apart); custom SQL also yields the datasources that read it.
stream!(Tables, "tables", ["database_tables", "datasource_tables"]);

impl Tables {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let tables = fetch_connection!(ctx, self.name(), DatabaseTables, database_tables, database_tables_connection).await?;
        let custom = fetch_connection!(ctx, self.name(), CustomSqlTables, custom_sql_tables, custom_sql_tables_connection).await?;
        let mut rows = Rows::new("database_tables");
        for n in &tables {
            rows.push(&[
                n.id.as_str().into(),
                Some(n.luid.as_str()).into(),
                "database".into(),
                n.name.as_deref().into(),
                n.schema.as_deref().into(),
                n.full_name.as_deref().into(),
                V::Null,
                n.database.as_ref().map(|d| d.id.as_str()).into(),
                n.connection_type.as_deref().into(),
            ])?;
        }
        let mut reads = Rows::new("datasource_tables");
        for n in &custom {
            rows.push(&[
                n.id.as_str().into(),
                V::Null,
                "custom_sql".into(),
                n.name.as_deref().into(),
                V::Null,
                V::Null,
                n.query.as_deref().into(),
                n.database.as_ref().map(|d| d.id.as_str()).into(),
                n.connection_type.as_deref().into(),
            ])?;
            for ds in &n.downstream_datasources {
                reads.push(&[ds.id.as_str().into(), "published".into(), n.id.as_str().into()])?;
            }
        }
        ctx.emit(self.name(), rows)?;
        ctx.emit(self.name(), reads)
    }
}

stream!(Columns, "columns", ["columns"]);

impl Columns {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        use queries::columns::ColumnsColumnsConnectionNodesTable as On;
        let nodes = fetch_connection!(ctx, self.name(), Columns, columns, columns_connection).await?;
        let mut rows = Rows::new("columns");
        for n in &nodes {
            let table = match n.table.as_ref() {
                Some(On::DatabaseTable(t)) => t.id.as_str(),
                Some(On::CustomSQLTable(t)) => t.id.as_str(),
                _ => {
                    ctx.warn(self.name(), format!("column {} has no table this schema knows; skipped", n.id));
                    continue;
                }
            };
            rows.push(&[
                n.id.as_str().into(),
                Some(n.luid.as_str()).into(),
                n.name.as_deref().into(),
                Some(format!("{:?}", n.remote_type).as_str()).into(),
                n.is_nullable.into(),
                table.into(),
            ])?;
        }
        ctx.emit(self.name(), rows)
    }
}

stream!(Fields, "fields", ["fields", "field_columns", "field_fields"]);

/// The three tables the fields stream fills, built page by page so a
/// million fields never sit in memory as decoded GraphQL nodes.
struct FieldTables {
    rows: Rows,
    reads: Rows,
    built_on: Rows,
    skipped: Vec<String>,
    error: Option<anyhow::Error>,
}

impl FieldTables {
    fn push(&mut self, n: &queries::fields::FieldsFieldsConnectionNodes) -> anyhow::Result<()> {
        use queries::fields::{FieldsFieldsConnectionNodesDatasource as Ds, FieldsFieldsConnectionNodesOn as On};
        let (ds_type, ds_id) = match n.datasource.as_ref() {
            Some(Ds::PublishedDatasource(d)) => ("published", d.id.as_str()),
            Some(Ds::EmbeddedDatasource(d)) => ("embedded", d.id.as_str()),
            _ => {
                self.skipped.push(n.id.clone());
                return Ok(());
            }
        };
        let (data_type, role, formula) = match &n.on {
            On::ColumnField(f) => (f.data_type.as_ref().map(|x| format!("{x:?}")), f.role.as_ref().map(|x| format!("{x:?}")), None),
            On::CalculatedField(f) => {
                (f.data_type.as_ref().map(|x| format!("{x:?}")), f.role.as_ref().map(|x| format!("{x:?}")), f.formula.as_deref())
            }
            _ => (None, None, None),
        };
        self.rows.push(&[
            n.id.as_str().into(),
            n.name.as_deref().into(),
            field_kind(&n.on).into(),
            ds_id.into(),
            ds_type.into(),
            data_type.as_deref().into(),
            role.as_deref().into(),
            formula.into(),
            n.is_hidden.into(),
        ])?;
        let refs: Vec<&str> = match &n.on {
            On::ColumnField(f) => {
                for c in &f.columns {
                    self.reads.push(&[n.id.as_str().into(), c.id.as_str().into()])?;
                }
                Vec::new()
            }
            On::CalculatedField(f) => f.fields.iter().map(|x| x.id.as_str()).collect(),
            On::GroupField(f) => f.fields.iter().map(|x| x.id.as_str()).collect(),
            On::BinField(f) => f.fields.iter().map(|x| x.id.as_str()).collect(),
            On::SetField(f) => f.fields.iter().map(|x| x.id.as_str()).collect(),
            On::HierarchyField(f) => f.fields.iter().map(|x| x.id.as_str()).collect(),
            On::DatasourceField(f) => {
                if let Some(r) = &f.remote_field {
                    self.built_on.push(&[n.id.as_str().into(), r.id.as_str().into(), "remote".into()])?;
                }
                Vec::new()
            }
            _ => Vec::new(),
        };
        for r in refs {
            self.built_on.push(&[n.id.as_str().into(), r.into(), "reference".into()])?;
        }
        Ok(())
    }
}

impl Fields {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        use queries::fields::{ResponseData, Variables};
        let t = read_consistent::<queries::Fields, _, FieldTables>(
            ctx,
            self.name(),
            |first, after, offset| Variables { first: Some(first), after, offset },
            |d: ResponseData| {
                let c = d.fields_connection;
                PageOf {
                    nodes: c.nodes,
                    end_cursor: c.page_info.end_cursor,
                    has_next: c.page_info.has_next_page,
                    total: Some(c.total_count),
                }
            },
            |n| n.id.as_str(),
            || FieldTables {
                rows: Rows::new("fields"),
                reads: Rows::new("field_columns"),
                built_on: Rows::new("field_fields"),
                skipped: Vec::new(),
                error: None,
            },
            |t, nodes| {
                for n in &nodes {
                    if t.error.is_none() {
                        if let Err(e) = t.push(n) {
                            t.error = Some(e);
                        }
                    }
                }
            },
        )
        .await?;
        if let Some(e) = t.error {
            return Err(e);
        }
        if !t.skipped.is_empty() {
            ctx.warn(self.name(), format!("{} fields have no datasource and were skipped", t.skipped.len()));
        }
        ctx.emit(self.name(), t.rows)?;
        ctx.emit(self.name(), t.reads)?;
        ctx.emit(self.name(), t.built_on)
    }
}

fn field_kind(on: &queries::fields::FieldsFieldsConnectionNodesOn) -> &'static str {
    use queries::fields::FieldsFieldsConnectionNodesOn as On;
    match on {
        On::ColumnField(_) => "ColumnField",
        On::CalculatedField(_) => "CalculatedField",
        On::GroupField(_) => "GroupField",
        On::BinField(_) => "BinField",
        On::SetField(_) => "SetField",
        On::HierarchyField(_) => "HierarchyField",
        On::DatasourceField(_) => "DatasourceField",
        _ => "Field",
    }
}

stream!(QualityWarnings, "data_quality_warnings", ["data_quality_warnings"]);

impl QualityWarnings {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let nodes = fetch_connection!(ctx, self.name(), DataQualityWarnings, data_quality_warnings, data_quality_warnings_connection).await?;
        let mut rows = Rows::new("data_quality_warnings");
        for n in &nodes {
            let asset_type = n.asset.as_ref().map(|a| asset_type(&a.on));
            rows.push(&[
                n.id.as_str().into(),
                Some(n.luid.as_str()).into(),
                n.asset.as_ref().map(|a| a.id.as_str()).into(),
                asset_type.into(),
                Some(n.value.as_str()).into(),
                Some(n.category.as_str()).into(),
                n.message.as_deref().into(),
                V::Bool(n.is_active),
                V::Bool(n.is_elevated),
                ts(&n.created_at),
                ts(&n.updated_at),
            ])?;
        }
        ctx.emit(self.name(), rows)
    }
}

fn asset_type(on: &queries::data_quality_warnings::DataQualityWarningsDataQualityWarningsConnectionNodesAssetOn) -> &'static str {
    use queries::data_quality_warnings::DataQualityWarningsDataQualityWarningsConnectionNodesAssetOn as On;
    match on {
        On::PublishedDatasource(_) => "PublishedDatasource",
        On::DatabaseServer => "DatabaseServer",
        On::DatabaseTable => "DatabaseTable",
        On::Column => "Column",
        _ => "Unknown",
    }
}
