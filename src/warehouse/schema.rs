//! Every warehouse table, defined once: its columns, their types and
//! nullability. The batch builders, the DuckDB DDL and the Parquet writer
//! all derive from these definitions, so they cannot drift.
//!
//! Conventions: ids are Tableau's (REST LUIDs for REST entities, Metadata
//! API ids for lineage entities, with the LUID alongside where Tableau has
//! one); times are UTC; edge tables are named `<from>_<to>s`.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Bool,
    /// Microseconds since the epoch, UTC.
    Time,
}

impl Kind {
    pub fn arrow(self) -> DataType {
        match self {
            Kind::Text => DataType::Utf8,
            Kind::Int => DataType::Int64,
            Kind::Bool => DataType::Boolean,
            Kind::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }
}

#[derive(Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
}

/// A column that always has a value.
const fn req(name: &'static str, kind: Kind) -> Column {
    Column { name, kind, nullable: false }
}

/// A column that may be null.
const fn opt(name: &'static str, kind: Kind) -> Column {
    Column { name, kind, nullable: true }
}

use Kind::{Bool, Int, Text, Time};

#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    /// What one row is, for the DDL comment and the docs.
    pub doc: &'static str,
    pub columns: &'static [Column],
    /// Computed by TRM from an extraction run (findings) rather than
    /// extracted: written afterwards for that run, replacing any earlier
    /// write, and its view keeps `run_id` so readers see which run it
    /// describes.
    pub derived: bool,
}

impl Table {
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns.iter().map(|c| Field::new(c.name, c.kind.arrow(), c.nullable)).collect::<Vec<_>>(),
        ))
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

macro_rules! table {
    ($name:literal, $doc:literal, [$($col:expr),* $(,)?]) => {
        Table { name: $name, doc: $doc, columns: &[$($col),*], derived: false }
    };
    (derived $name:literal, $doc:literal, [$($col:expr),* $(,)?]) => {
        Table { name: $name, doc: $doc, columns: &[$($col),*], derived: true }
    };
}

pub const TABLES: &[Table] = &[
    // --- REST: the site and its people -------------------------------------------------
    table!("sites", "A site.", [req("site_id", Text), req("name", Text), req("content_url", Text)]),
    table!("projects", "A project; nested projects name their parent.", [
        req("project_id", Text), req("name", Text), opt("description", Text), opt("parent_project_id", Text),
        opt("owner_id", Text), req("content_permissions", Text), opt("created_at", Time), opt("updated_at", Time),
    ]),
    table!("users", "A user of the site.", [
        req("user_id", Text), req("name", Text), opt("full_name", Text), opt("email", Text), req("site_role", Text),
        opt("auth_setting", Text), opt("last_login", Time),
    ]),
    table!("groups", "A group of users.", [req("group_id", Text), req("name", Text), opt("domain", Text)]),
    table!("group_memberships", "A user in a group.", [req("group_id", Text), req("user_id", Text)]),
    // --- REST: content ------------------------------------------------------------------
    table!("workbooks", "A workbook.", [
        req("workbook_id", Text), req("name", Text), opt("description", Text), opt("content_url", Text),
        opt("webpage_url", Text), opt("project_id", Text), opt("project_name", Text), opt("owner_id", Text),
        opt("show_tabs", Bool), opt("size", Int), opt("created_at", Time), opt("updated_at", Time),
    ]),
    table!("views", "A view (sheet, dashboard or story) with its lifetime usage at extract time.", [
        req("view_id", Text), req("name", Text), opt("content_url", Text), req("workbook_id", Text),
        opt("owner_id", Text), opt("project_id", Text), opt("sheet_type", Text), opt("created_at", Time),
        opt("updated_at", Time), req("total_view_count", Int),
    ]),
    table!("datasources", "A published datasource as the REST API lists it.", [
        req("datasource_id", Text), req("name", Text), opt("description", Text), opt("content_url", Text),
        opt("type", Text), opt("size", Int), opt("project_id", Text), opt("project_name", Text),
        opt("owner_id", Text), opt("has_extracts", Bool), opt("is_certified", Bool), opt("encrypt_extracts", Bool),
        opt("created_at", Time), opt("updated_at", Time),
    ]),
    table!("tags", "A tag on a workbook, view or datasource.", [
        req("asset_type", Text), req("asset_id", Text), req("tag", Text),
    ]),
    // --- REST: permissions ---------------------------------------------------------------
    table!("permissions", "An explicit permission grant: one capability a user or group is allowed or denied on a project, workbook or published datasource (scope `item`), or in a project's default rules for its workbooks or datasources (scope `default_workbooks`, `default_datasources`). project_id is the project the object is in (for a project, itself). Workbooks and datasources in a locked project (projects.content_permissions LockedToProject or LockedToProjectWithoutNested) have no item rows: their rules are that project's default rules.", [
        req("object_type", Text), req("object_id", Text), opt("project_id", Text), req("scope", Text),
        req("grantee_type", Text), req("grantee_id", Text), req("capability", Text), req("mode", Text),
    ]),
    // --- REST: extract refreshes --------------------------------------------------------
    table!("schedules", "A schedule.", [
        req("schedule_id", Text), req("name", Text), opt("state", Text), opt("type", Text), opt("frequency", Text),
        opt("priority", Int), opt("interval_hours", Int), opt("created_at", Time), opt("updated_at", Time),
        opt("next_run_at", Time),
    ]),
    table!("extract_tasks", "An extract refresh task on a schedule.", [
        req("task_id", Text), opt("schedule_id", Text), req("target_type", Text), req("target_id", Text),
        opt("priority", Int), req("consecutive_failed_count", Int), opt("task_type", Text),
    ]),
    table!("jobs", "A background job (extract refresh) from the server's job history.", [
        req("job_id", Text), req("status", Text), opt("job_type", Text), opt("title", Text), opt("subtitle", Text),
        opt("priority", Int), opt("created_at", Time), opt("started_at", Time), opt("ended_at", Time),
    ]),
    // --- Metadata API: content ----------------------------------------------------------
    table!("dashboards", "A dashboard (Metadata API).", [
        req("dashboard_id", Text), opt("luid", Text), opt("name", Text), opt("path", Text), req("workbook_id", Text),
        opt("created_at", Time), opt("updated_at", Time),
    ]),
    table!("sheets", "A sheet (Metadata API).", [
        req("sheet_id", Text), opt("luid", Text), opt("name", Text), opt("path", Text), req("workbook_id", Text),
        opt("created_at", Time), opt("updated_at", Time),
    ]),
    table!("published_datasources", "A published datasource (Metadata API) with its extract facts.", [
        req("datasource_id", Text), req("luid", Text), opt("name", Text), opt("project_name", Text),
        opt("owner_id", Text), opt("has_extracts", Bool), opt("extract_last_refresh_time", Time),
        opt("extract_last_update_time", Time), opt("is_certified", Bool), opt("has_active_warning", Bool),
        opt("created_at", Time), opt("updated_at", Time),
    ]),
    table!("embedded_datasources", "A datasource embedded in a workbook (Metadata API).", [
        req("datasource_id", Text), opt("name", Text), req("workbook_id", Text), opt("has_extracts", Bool),
        opt("extract_last_refresh_time", Time), opt("extract_last_update_time", Time),
    ]),
    // --- Metadata API: data -------------------------------------------------------------
    table!("database_servers", "A database server.", [
        req("database_id", Text), opt("luid", Text), opt("name", Text), opt("host_name", Text), opt("port", Int),
        opt("connection_type", Text),
    ]),
    table!("database_tables", "A table: a database table, or a custom SQL query (`kind` = custom_sql).", [
        req("table_id", Text), opt("luid", Text), req("kind", Text), opt("name", Text), opt("schema", Text),
        opt("full_name", Text), opt("query", Text), opt("database_id", Text), opt("connection_type", Text),
    ]),
    table!("columns", "A column of a table.", [
        req("column_id", Text), opt("luid", Text), opt("name", Text), opt("remote_type", Text),
        opt("is_nullable", Bool), req("table_id", Text),
    ]),
    table!("fields", "A datasource field: kind is ColumnField, CalculatedField, DatasourceField, ….", [
        req("field_id", Text), opt("name", Text), req("kind", Text), req("datasource_id", Text),
        req("datasource_type", Text), opt("data_type", Text), opt("role", Text), opt("formula", Text),
        opt("is_hidden", Bool),
    ]),
    table!("data_quality_warnings", "A data quality warning on an asset.", [
        req("warning_id", Text), opt("luid", Text), opt("asset_id", Text), opt("asset_type", Text), opt("value", Text),
        opt("category", Text), opt("message", Text), req("is_active", Bool), req("is_elevated", Bool),
        opt("created_at", Time), opt("updated_at", Time),
    ]),
    // --- Lineage edges ------------------------------------------------------------------
    table!("sheet_fields", "A field used on a sheet.", [req("sheet_id", Text), req("field_id", Text)]),
    table!("field_columns", "A column a field reads.", [req("field_id", Text), req("column_id", Text)]),
    table!("field_fields", "A field built on another: `reference` (calculation, group, …) or `remote` (embedded stand-in for a published field).", [
        req("field_id", Text), req("upstream_field_id", Text), req("relation", Text),
    ]),
    table!("embedded_published_datasources", "An embedded datasource connecting through a published one.", [
        req("embedded_datasource_id", Text), req("published_datasource_id", Text),
    ]),
    table!("datasource_tables", "A table a datasource reads.", [
        req("datasource_id", Text), req("datasource_type", Text), req("table_id", Text),
    ]),
    table!("dashboard_sheets", "A sheet on a dashboard.", [req("dashboard_id", Text), req("sheet_id", Text)]),
    table!("workbook_contents", "A sheet or dashboard in a workbook.", [
        req("workbook_id", Text), req("content_id", Text), req("content_type", Text),
    ]),
    // --- Audit (derived from a run) -----------------------------------------------------
    table!(derived "findings", "A problem a detector found in a run's data, with the reason and the evidence.", [
        req("finding_id", Text), req("detector", Text), req("severity", Text), req("asset_kind", Text),
        req("asset_id", Text), opt("asset_name", Text), opt("workbook_id", Text), opt("project_name", Text),
        opt("owner_id", Text), opt("owner_name", Text), req("reason", Text), req("evidence", Text),
    ]),
];

pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for t in TABLES {
            assert!(seen.insert(t.name), "duplicate table {}", t.name);
            let mut cols = std::collections::HashSet::new();
            for c in t.columns {
                assert!(cols.insert(c.name), "{}.{} twice", t.name, c.name);
                assert!(c.name.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'), "{}.{}", t.name, c.name);
            }
            assert_eq!(t.schema().fields().len(), t.columns.len());
        }
    }
}
