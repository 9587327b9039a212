//! The Metadata API queries TRM runs, one `queries/<name>.graphql` file
//! each, compiled by `graphql_client` against `queries/schema.graphql`.
//!
//! Every query is a named operation over one root connection with
//! `$first: Int, $after: String` and `orderBy: {field: ID, direction: ASC}`,
//! so cursors are stable; page through them with
//! `metadata::paginate`. For each struct `Foo` the generated module
//! `foo` holds `Variables { first, after }` and `ResponseData`.
//!
//! Interfaces selected with inline fragments (`Fields.nodes`, their
//! `datasource`, `Columns.nodes.table`, `DataQualityWarnings.nodes.asset`)
//! come back as enums tagged by `__typename`, with an `Unknown` variant for
//! types Tableau has and this schema does not list (e.g. a newer kind of
//! field), so a new type never fails a page.
//!
//! Suggested starting page sizes ([`START_FIRST`]) keep a page under
//! Tableau's 20,000-node limit on typical sites; `paginate` shrinks pages
//! that still exceed it.

use graphql_client::GraphQLQuery;

/// The Metadata API's `DateTime` scalar: ISO 8601 text, e.g.
/// `2024-03-01T12:00:00Z`.
pub type DateTime = String;

/// A good first page size for every query here (the Metadata API's
/// maximum).
pub const START_FIRST: i64 = 1000;

/// Dashboards with their workbook's LUID and the sheets on them.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/schema.graphql",
    query_path = "queries/dashboards.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone",
    skip_serializing_none = "true",
    fragments_other_variant = "true"
)]
pub struct Dashboards;

/// Sheets with their workbook's LUID and the fields placed on them.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/schema.graphql",
    query_path = "queries/sheets.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone",
    skip_serializing_none = "true",
    fragments_other_variant = "true"
)]
pub struct Sheets;

/// Published data sources: owner, extract facts, certification, warning
/// flag, upstream database tables.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/schema.graphql",
    query_path = "queries/published_datasources.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone",
    skip_serializing_none = "true",
    fragments_other_variant = "true"
)]
pub struct PublishedDatasources;

/// Embedded data sources: workbook, extract facts, upstream published data
/// sources and tables.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/schema.graphql",
    query_path = "queries/embedded_datasources.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone",
    skip_serializing_none = "true",
    fragments_other_variant = "true"
)]
pub struct EmbeddedDatasources;

/// Database servers.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/schema.graphql",
    query_path = "queries/database_servers.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone",
    skip_serializing_none = "true",
    fragments_other_variant = "true"
)]
pub struct DatabaseServers;

/// Database tables and their database.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/schema.graphql",
    query_path = "queries/database_tables.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone",
    skip_serializing_none = "true",
    fragments_other_variant = "true"
)]
pub struct DatabaseTables;

/// Custom SQL tables: SQL text, database, tables read, and the published
/// data sources and workbooks downstream.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/schema.graphql",
    query_path = "queries/custom_sql_tables.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone",
    skip_serializing_none = "true",
    fragments_other_variant = "true"
)]
pub struct CustomSqlTables;

/// Columns and the table (database or custom SQL) they belong to.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/schema.graphql",
    query_path = "queries/columns.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone",
    skip_serializing_none = "true",
    fragments_other_variant = "true"
)]
pub struct Columns;

/// Fields of every kind with their data source and inputs.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/schema.graphql",
    query_path = "queries/fields.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone",
    skip_serializing_none = "true",
    fragments_other_variant = "true"
)]
pub struct Fields;

/// Data quality warnings and the asset each is attached to.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/schema.graphql",
    query_path = "queries/data_quality_warnings.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone",
    skip_serializing_none = "true",
    fragments_other_variant = "true"
)]
pub struct DataQualityWarnings;

/// Named workbooks' sheets, dashboards, fields and upstream tables, for
/// `trm promote-content`'s lineage check.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/schema.graphql",
    query_path = "queries/promotion_lineage.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone",
    fragments_other_variant = "true"
)]
pub struct PromotionWorkbooks;

/// Named published data sources' fields and upstream tables, for
/// `trm promote-content`'s lineage check.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/schema.graphql",
    query_path = "queries/promotion_datasources.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone",
    fragments_other_variant = "true"
)]
pub struct PromotionDatasources;
