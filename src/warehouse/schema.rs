//! Every warehouse table, defined once: its columns, their types and
//! nullability. The batch builders, the DuckDB DDL and the Parquet writer
//! all derive from these definitions, so they cannot drift.
//!
//! Conventions:
//! - A column's name says which id space its value is in, and one name means
//!   one thing in every table:
//!   - `<thing>_luid`: a LUID, the id the REST API uses (and the Metadata
//!     API's `luid` field), e.g. `workbook_luid`, `datasource_luid`;
//!   - `<thing>_metadata_id`: a Metadata API (GraphQL) `id`, which the REST
//!     API never shows, e.g. `field_metadata_id`;
//!   - `<thing>_id`: TRM's own ids (`run_id`, `finding_id`).
//!
//!   So `datasources` (REST) and `published_datasources` (Metadata API) join
//!   on `datasource_luid`, and Metadata API entities carry their LUID beside
//!   their `_metadata_id` wherever Tableau has one.
//! - Times are UTC; edge tables are named `<from>_<to>s`.
//! - Every table's history and view also carry `site_luid`, the site a row
//!   was read from (added by the warehouse, like `run_id`; not listed
//!   here). The `sites` table's own `site_luid` is that column.

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
    table!("sites", "A site.", [req("site_luid", Text), req("name", Text), req("content_url", Text)]),
    table!("projects", "A project; nested projects name their parent.", [
        req("project_luid", Text), req("name", Text), opt("description", Text), opt("parent_project_luid", Text),
        opt("owner_luid", Text), req("content_permissions", Text), opt("created_at", Time), opt("updated_at", Time),
    ]),
    table!("users", "A user of the site.", [
        req("user_luid", Text), req("name", Text), opt("full_name", Text), opt("email", Text), req("site_role", Text),
        opt("auth_setting", Text), opt("last_login", Time),
    ]),
    table!("groups", "A group of users.", [req("group_luid", Text), req("name", Text), opt("domain", Text)]),
    table!("group_memberships", "A user in a group.", [req("group_luid", Text), req("user_luid", Text)]),
    // --- REST: content ------------------------------------------------------------------
    table!("workbooks", "A workbook. webpage_url is its page on the Tableau server.", [
        req("workbook_luid", Text), req("name", Text), opt("description", Text), opt("content_url", Text),
        opt("webpage_url", Text), opt("project_luid", Text), opt("project_name", Text), opt("owner_luid", Text),
        opt("show_tabs", Bool), opt("size", Int), opt("created_at", Time), opt("updated_at", Time),
    ]),
    table!("views", "A view (sheet, dashboard or story) with its lifetime usage at extract time. webpage_url is its page on the Tableau server, built from its workbook's page and its content_url (the REST API lists no page for views).", [
        req("view_luid", Text), req("name", Text), opt("content_url", Text), req("workbook_luid", Text),
        opt("owner_luid", Text), opt("project_luid", Text), opt("sheet_type", Text), opt("created_at", Time),
        opt("updated_at", Time), req("total_view_count", Int), opt("webpage_url", Text),
    ]),
    table!("datasources", "A published datasource as the REST API lists it; published_datasources is the Metadata API's view of it (join on datasource_luid). webpage_url is its page on the Tableau server.", [
        req("datasource_luid", Text), req("name", Text), opt("description", Text), opt("content_url", Text),
        opt("type", Text), opt("size", Int), opt("project_luid", Text), opt("project_name", Text),
        opt("owner_luid", Text), opt("has_extracts", Bool), opt("is_certified", Bool), opt("encrypt_extracts", Bool),
        opt("created_at", Time), opt("updated_at", Time), opt("webpage_url", Text),
    ]),
    table!("flows", "A Tableau Prep flow, where the server has them (a server without flows, or without the endpoint, has none). webpage_url is its page on the Tableau server.", [
        req("flow_luid", Text), req("name", Text), opt("description", Text), opt("project_luid", Text),
        opt("project_name", Text), opt("owner_luid", Text), opt("file_type", Text), opt("webpage_url", Text),
        opt("created_at", Time), opt("updated_at", Time),
    ]),
    table!("tags", "A tag on a workbook, view or datasource (asset_luid is the workbook_luid, view_luid or datasource_luid).", [
        req("asset_type", Text), req("asset_luid", Text), req("tag", Text),
    ]),
    // --- REST: permissions ---------------------------------------------------------------
    table!("permissions", "An explicit permission grant: one capability a user or group is allowed or denied on a project, workbook, view, published datasource or flow (scope `item`), or in a project's default rules for the workbooks, datasources or flows published into it (scope `default_workbooks`, `default_datasources`, `default_flows`). project_luid is the project the object is in (for a project, itself). Content in a locked project (projects.content_permissions LockedToProject or LockedToProjectWithoutNested), or nested below a LockedToProject one, has no item rows: its rules are the locking project's default rules. A view's item rows are what Tableau reports for the view: its workbook's rules for view capabilities and any of its own.", [
        req("object_type", Text), req("object_luid", Text), opt("project_luid", Text), req("scope", Text),
        req("grantee_type", Text), req("grantee_luid", Text), req("capability", Text), req("mode", Text),
    ]),
    // --- REST: extract refreshes --------------------------------------------------------
    table!("schedules", "A schedule.", [
        req("schedule_luid", Text), req("name", Text), opt("state", Text), opt("type", Text), opt("frequency", Text),
        opt("priority", Int), opt("interval_hours", Int), opt("created_at", Time), opt("updated_at", Time),
        opt("next_run_at", Time),
    ]),
    table!("extract_tasks", "An extract refresh task on a schedule; target_luid is the workbook_luid or datasource_luid its target_type names.", [
        req("task_luid", Text), opt("schedule_luid", Text), req("target_type", Text), req("target_luid", Text),
        opt("priority", Int), req("consecutive_failed_count", Int), opt("task_type", Text),
    ]),
    table!("jobs", "A background job (extract refresh) from the server's job history.", [
        req("job_luid", Text), req("status", Text), opt("job_type", Text), opt("title", Text), opt("subtitle", Text),
        opt("priority", Int), opt("created_at", Time), opt("started_at", Time), opt("ended_at", Time),
    ]),
    // --- Metadata API: content ----------------------------------------------------------
    table!("dashboards", "A dashboard (Metadata API); dashboard_luid is its view's views.view_luid.", [
        req("dashboard_metadata_id", Text), opt("dashboard_luid", Text), opt("name", Text), opt("path", Text),
        req("workbook_luid", Text), opt("created_at", Time), opt("updated_at", Time),
    ]),
    table!("sheets", "A sheet (Metadata API); sheet_luid is its view's views.view_luid.", [
        req("sheet_metadata_id", Text), opt("sheet_luid", Text), opt("name", Text), opt("path", Text),
        req("workbook_luid", Text), opt("created_at", Time), opt("updated_at", Time),
    ]),
    table!("published_datasources", "A published datasource (Metadata API) with its extract facts; datasources is the REST API's view of it (join on datasource_luid).", [
        req("datasource_metadata_id", Text), req("datasource_luid", Text), opt("name", Text), opt("project_name", Text),
        opt("owner_luid", Text), opt("has_extracts", Bool), opt("extract_last_refresh_time", Time),
        opt("extract_last_update_time", Time), opt("is_certified", Bool), opt("has_active_warning", Bool),
        opt("created_at", Time), opt("updated_at", Time),
    ]),
    table!("embedded_datasources", "A datasource embedded in a workbook (Metadata API).", [
        req("datasource_metadata_id", Text), opt("name", Text), req("workbook_luid", Text), opt("has_extracts", Bool),
        opt("extract_last_refresh_time", Time), opt("extract_last_update_time", Time),
    ]),
    // --- Metadata API: data -------------------------------------------------------------
    table!("database_servers", "A database server.", [
        req("database_metadata_id", Text), opt("database_luid", Text), opt("name", Text), opt("host_name", Text),
        opt("port", Int), opt("connection_type", Text),
    ]),
    table!("database_tables", "A table: a database table, or a custom SQL query (`kind` = custom_sql).", [
        req("table_metadata_id", Text), opt("table_luid", Text), req("kind", Text), opt("name", Text), opt("schema", Text),
        opt("full_name", Text), opt("query", Text), opt("database_metadata_id", Text), opt("connection_type", Text),
    ]),
    table!("columns", "A column of a table.", [
        req("column_metadata_id", Text), opt("column_luid", Text), opt("name", Text), opt("remote_type", Text),
        opt("is_nullable", Bool), req("table_metadata_id", Text),
    ]),
    table!("fields", "A datasource field: kind is ColumnField, CalculatedField, DatasourceField, …; datasource_metadata_id is a published or embedded datasource, as datasource_type says.", [
        req("field_metadata_id", Text), opt("name", Text), req("kind", Text), req("datasource_metadata_id", Text),
        req("datasource_type", Text), opt("data_type", Text), opt("role", Text), opt("formula", Text),
        opt("is_hidden", Bool),
    ]),
    table!("data_quality_warnings", "A data quality warning on an asset (asset_metadata_id: the Metadata API id of the asset asset_type names).", [
        req("warning_metadata_id", Text), opt("warning_luid", Text), opt("asset_metadata_id", Text), opt("asset_type", Text),
        opt("value", Text), opt("category", Text), opt("message", Text), req("is_active", Bool), req("is_elevated", Bool),
        opt("created_at", Time), opt("updated_at", Time),
    ]),
    // --- Lineage edges ------------------------------------------------------------------
    table!("sheet_fields", "A field used on a sheet.", [req("sheet_metadata_id", Text), req("field_metadata_id", Text)]),
    table!("field_columns", "A column a field reads.", [req("field_metadata_id", Text), req("column_metadata_id", Text)]),
    table!("field_fields", "A field built on another: `reference` (calculation, group, …) or `remote` (embedded stand-in for a published field).", [
        req("field_metadata_id", Text), req("upstream_field_metadata_id", Text), req("relation", Text),
    ]),
    table!("embedded_published_datasources", "An embedded datasource connecting through a published one.", [
        req("embedded_datasource_metadata_id", Text), req("published_datasource_metadata_id", Text),
    ]),
    table!("datasource_tables", "A table a datasource reads.", [
        req("datasource_metadata_id", Text), req("datasource_type", Text), req("table_metadata_id", Text),
    ]),
    table!("dashboard_sheets", "A sheet on a dashboard.", [req("dashboard_metadata_id", Text), req("sheet_metadata_id", Text)]),
    table!("workbook_contents", "A sheet or dashboard in a workbook.", [
        req("workbook_luid", Text), req("content_metadata_id", Text), req("content_type", Text),
    ]),
    // --- Audit (derived from a run) -----------------------------------------------------
    table!(derived "findings", "A problem a detector found in a run's data, with the reason and the evidence. The asset is named by asset_luid (dashboards: their view_luid; workbooks; datasources) or, for fields, by asset_metadata_id. task_luid is the extract refresh task of a broken_extract finding; reason_codes are the detector's reasons, comma-separated.", [
        req("finding_id", Text), req("detector", Text), req("severity", Text), req("asset_kind", Text),
        opt("asset_luid", Text), opt("asset_metadata_id", Text), opt("asset_name", Text), opt("workbook_luid", Text),
        opt("project_name", Text), opt("owner_luid", Text), opt("owner_name", Text), req("reason", Text),
        req("evidence", Text), opt("task_luid", Text), opt("reason_codes", Text),
    ]),
    // --- Effective access (derived from a run; see src/access/) ----------------------------
    table!(derived "access_classes", "An access class: the users with one site role who belong to the same groups among those any permission rule names (administrators and unlicensed users: one class per role, whatever their groups). Every user of a class gets the same answers, except where access_exceptions single one out. group_luids lists the class's rule-named groups, comma-separated, sorted; license is the license the site role uses (Creator, Explorer, Viewer, Unlicensed).", [
        req("class_id", Int), req("site_role", Text), req("license", Text), opt("group_luids", Text), req("user_count", Int),
    ]),
    table!(derived "access_user_classes", "The access class of each user.", [req("user_luid", Text), req("class_id", Int)]),
    table!(derived "access_items", "An item access is evaluated on (project, workbook, view, datasource, flow) and its access profile: items with one profile get the same answers for every access class. controlling_project_luid is the locked project whose rules govern the item, if any.", [
        req("item_type", Text), req("item_luid", Text), opt("item_name", Text), opt("project_luid", Text),
        req("profile_id", Int), opt("controlling_project_luid", Text),
    ]),
    table!(derived "access_decisions", "The answer for one access class, one access profile and one capability of the profile's item type: allowed or denied, the reason (the evaluation step that decided), and what decided it: via_group_luid, the group whose rule decided or through which project leadership came; via_project_luid, the project whose owner or leader decided.", [
        req("class_id", Int), req("profile_id", Int), req("capability", Text), req("allowed", Bool), req("reason", Text),
        opt("via_group_luid", Text), opt("via_project_luid", Text),
    ]),
    table!(derived "access_exceptions", "A user whose answer on one item and capability differs from their access class's: owners of the item or of a project above it, project leaders named as users, users named in the item's rules.", [
        req("user_luid", Text), req("item_type", Text), req("item_luid", Text), req("capability", Text), req("allowed", Bool),
        req("reason", Text), opt("via_group_luid", Text), opt("via_project_luid", Text),
    ]),
];

/// Tables TRM appends to outside extraction runs, one row per event: no
/// `run_id`, no `hist_` table and no view, and every row stays. They are
/// created when a warehouse is opened for writing, like a new schema table,
/// so adding one needs no new schema version; they never touch `runs` or
/// the views over the latest run.
pub const LOGS: &[Table] = &[
    table!("refresh_runs", "An extract refresh TRM started and followed to its end (trm refresh): who started it (the signed-in user), what it refreshed, the refresh task it ran if any, the job and its outcome (success, failed or cancelled; finish_code is Tableau's: 0, 1, 2) and the job's notes. started_at and ended_at are by the local clock.", [
        req("job_luid", Text), opt("user_luid", Text), opt("user_name", Text), req("target_type", Text),
        req("target_luid", Text), opt("target_name", Text), opt("task_luid", Text), req("started_at", Time),
        req("ended_at", Time), req("outcome", Text), opt("finish_code", Int), opt("notes", Text), opt("server", Text),
        opt("site", Text),
    ]),
    table!("run_streams", "What each stream of an extraction run (trm extract) cost, to see what bounds a run: requests sent (retries included), retries, 429s, wait_ms (its requests' time waiting for a slot under the concurrency limit or before a retry), busy_ms (time with at least one of its requests in flight), elapsed_ms (its start to its end) and critical_path_ms (how much longer the run lasted because of this stream alone: its end minus the latest end of every other stream). outcome is ok or failed. Keyed by run_id and stream; written for failed runs too.", [
        req("run_id", Text), req("stream", Text), req("outcome", Text), req("requests", Int), req("retries", Int),
        req("throttled", Int), req("wait_ms", Int), req("busy_ms", Int), req("elapsed_ms", Int),
        req("critical_path_ms", Int),
    ]),
    table!("promotion_runs", "A content promotion (trm promote-content): one row per promoted workbook or published datasource, with the run it belongs to (promotion_id), the source and target servers and sites, the project path, what the plan decided (create, replace, unchanged, skip), whether it was published in this run, the item's LUID on each site, and the run's lineage check (verdict: passed, failed or not_checked; differences: what did not match). started_at and ended_at are by the local clock.", [
        req("promotion_id", Text), req("started_at", Time), req("ended_at", Time), req("source_server", Text),
        req("source_site", Text), req("target_server", Text), req("target_site", Text), req("project_path", Text),
        req("item_type", Text), req("item_name", Text), opt("source_luid", Text), opt("target_luid", Text),
        req("decision", Text), req("published", Bool), req("verdict", Text), opt("differences", Text),
    ]),
];
/// SQL views over the tables, created (and recreated) with them: (name,
/// what one row is, the query).
pub const VIEWS: &[(&str, &str, &str)] = &[(
    "effective_access",
    "Effective access of the latest access computation (`trm access`): one row per user, item and capability of the item's type, allowed or denied, with the reason and what decided it. Expands access classes: a user gets their class's decision for the item's profile unless access_exceptions has a row for that user, item and capability. Filter on user_luid or item_luid: the whole view is users × items × capabilities.",
    "SELECT uc.user_luid, i.item_type, i.item_luid, i.item_name, i.project_luid, d.capability, \
     CASE WHEN x.user_luid IS NULL THEN d.allowed ELSE x.allowed END AS allowed, \
     CASE WHEN x.user_luid IS NULL THEN d.reason ELSE x.reason END AS reason, \
     CASE WHEN x.user_luid IS NULL THEN d.via_group_luid ELSE x.via_group_luid END AS via_group_luid, \
     CASE WHEN x.user_luid IS NULL THEN d.via_project_luid ELSE x.via_project_luid END AS via_project_luid \
     FROM access_user_classes uc \
     JOIN access_decisions d ON d.class_id = uc.class_id \
     JOIN access_items i ON i.profile_id = d.profile_id \
     LEFT JOIN access_exceptions x ON x.user_luid = uc.user_luid AND x.item_luid = i.item_luid AND x.capability = d.capability",
)];

/// The schema's version, recorded in the warehouse (`schema_version`); a
/// warehouse with an older version is migrated when a run opens it.
pub const VERSION: i64 = 4;

/// Columns renamed by a schema version: (version, table, old name, new name).
/// Version 2 gave each id space its own name (see the module docs); version
/// 3 renamed nothing (it added tables and the [`VIEWS`]); version 4 renamed
/// nothing (it added `site_luid` to every history table, and `run_sites`).
pub const RENAMED: &[(i64, &str, &str, &str)] = &[
    (2, "sites", "site_id", "site_luid"),
    (2, "projects", "project_id", "project_luid"),
    (2, "projects", "parent_project_id", "parent_project_luid"),
    (2, "projects", "owner_id", "owner_luid"),
    (2, "users", "user_id", "user_luid"),
    (2, "groups", "group_id", "group_luid"),
    (2, "group_memberships", "group_id", "group_luid"),
    (2, "group_memberships", "user_id", "user_luid"),
    (2, "workbooks", "workbook_id", "workbook_luid"),
    (2, "workbooks", "project_id", "project_luid"),
    (2, "workbooks", "owner_id", "owner_luid"),
    (2, "views", "view_id", "view_luid"),
    (2, "views", "workbook_id", "workbook_luid"),
    (2, "views", "owner_id", "owner_luid"),
    (2, "views", "project_id", "project_luid"),
    (2, "datasources", "datasource_id", "datasource_luid"),
    (2, "datasources", "project_id", "project_luid"),
    (2, "datasources", "owner_id", "owner_luid"),
    (2, "tags", "asset_id", "asset_luid"),
    (2, "permissions", "object_id", "object_luid"),
    (2, "permissions", "project_id", "project_luid"),
    (2, "permissions", "grantee_id", "grantee_luid"),
    (2, "schedules", "schedule_id", "schedule_luid"),
    (2, "extract_tasks", "task_id", "task_luid"),
    (2, "extract_tasks", "schedule_id", "schedule_luid"),
    (2, "extract_tasks", "target_id", "target_luid"),
    (2, "jobs", "job_id", "job_luid"),
    (2, "dashboards", "dashboard_id", "dashboard_metadata_id"),
    (2, "dashboards", "luid", "dashboard_luid"),
    (2, "dashboards", "workbook_id", "workbook_luid"),
    (2, "sheets", "sheet_id", "sheet_metadata_id"),
    (2, "sheets", "luid", "sheet_luid"),
    (2, "sheets", "workbook_id", "workbook_luid"),
    (2, "published_datasources", "datasource_id", "datasource_metadata_id"),
    (2, "published_datasources", "luid", "datasource_luid"),
    (2, "published_datasources", "owner_id", "owner_luid"),
    (2, "embedded_datasources", "datasource_id", "datasource_metadata_id"),
    (2, "embedded_datasources", "workbook_id", "workbook_luid"),
    (2, "database_servers", "database_id", "database_metadata_id"),
    (2, "database_servers", "luid", "database_luid"),
    (2, "database_tables", "table_id", "table_metadata_id"),
    (2, "database_tables", "luid", "table_luid"),
    (2, "database_tables", "database_id", "database_metadata_id"),
    (2, "columns", "column_id", "column_metadata_id"),
    (2, "columns", "luid", "column_luid"),
    (2, "columns", "table_id", "table_metadata_id"),
    (2, "fields", "field_id", "field_metadata_id"),
    (2, "fields", "datasource_id", "datasource_metadata_id"),
    (2, "data_quality_warnings", "warning_id", "warning_metadata_id"),
    (2, "data_quality_warnings", "luid", "warning_luid"),
    (2, "data_quality_warnings", "asset_id", "asset_metadata_id"),
    (2, "sheet_fields", "sheet_id", "sheet_metadata_id"),
    (2, "sheet_fields", "field_id", "field_metadata_id"),
    (2, "field_columns", "field_id", "field_metadata_id"),
    (2, "field_columns", "column_id", "column_metadata_id"),
    (2, "field_fields", "field_id", "field_metadata_id"),
    (2, "field_fields", "upstream_field_id", "upstream_field_metadata_id"),
    (2, "embedded_published_datasources", "embedded_datasource_id", "embedded_datasource_metadata_id"),
    (2, "embedded_published_datasources", "published_datasource_id", "published_datasource_metadata_id"),
    (2, "datasource_tables", "datasource_id", "datasource_metadata_id"),
    (2, "datasource_tables", "table_id", "table_metadata_id"),
    (2, "dashboard_sheets", "dashboard_id", "dashboard_metadata_id"),
    (2, "dashboard_sheets", "sheet_id", "sheet_metadata_id"),
    (2, "workbook_contents", "workbook_id", "workbook_luid"),
    (2, "workbook_contents", "content_id", "content_metadata_id"),
    (2, "findings", "asset_id", "asset_luid"),
    (2, "findings", "workbook_id", "workbook_luid"),
    (2, "findings", "owner_id", "owner_luid"),
];

pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().chain(LOGS).find(|t| t.name == name)
}

/// Whether `name` is one of the [`LOGS`].
pub fn is_log(name: &str) -> bool {
    LOGS.iter().any(|t| t.name == name)
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

    /// A Tableau id's column says its id space; `_id` is left to TRM's own ids.
    #[test]
    fn every_id_column_names_its_id_space() {
        for t in TABLES {
            for c in t.columns {
                let n = c.name;
                assert!(n != "luid" && n != "id", "{}.{}: say whose id it is", t.name, n);
                if n.ends_with("_id") && !n.ends_with("_metadata_id") {
                    assert!(
                        matches!((t.name, n), ("findings", "finding_id") | (_, "class_id" | "profile_id")),
                        "{}.{n}: a Tableau id must end in _luid or _metadata_id",
                        t.name
                    );
                }
            }
        }
    }

    #[test]
    fn renames_lead_to_current_columns() {
        for &(version, table, old, new) in RENAMED {
            assert!(version <= VERSION);
            let t = super::table(table).unwrap_or_else(|| panic!("{table}"));
            assert!(t.column(new).is_some(), "{table}.{new}");
            assert!(t.column(old).is_none(), "{table}.{old} is still a column");
        }
    }
}
