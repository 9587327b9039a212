//! Schema versions: a warehouse records the version of the schema it was
//! written with (`schema_version`), and a run that opens an older one
//! brings it up to date inside the schema transaction (`duck.rs`), before
//! anything is written. Version 1 is a warehouse from before versions were
//! recorded; version 2 gave each id space its own column names
//! ([`schema::RENAMED`]) and gave findings real columns for what reports
//! read from the evidence; version 3 added the `flows` table, the
//! effective-access tables (`access_*`) and the `effective_access` view.
//! Its step is only creating them, but the version tells a read-only
//! reader (`trm access`, `trm report`) that an older file lacks them and
//! must be brought up to date first. Version 4 gave every history table a
//! `site_luid` column and added `run_sites`, so one warehouse holds
//! several sites: an older warehouse's runs each read one site, and its
//! rows get that site's LUID, from the run's own `sites` rows, else from
//! another run of the same site content URL, else (a warehouse that knows
//! exactly one site) that site's; a run whose site cannot be told keeps an
//! empty `site_luid` and stands for whichever site the next run reads.
//!
//! Old rows keep their values under the new names: columns are renamed,
//! never copied, and the views are recreated over them afterwards.

use std::collections::BTreeMap;

use super::duck::ident;
use super::schema::{self, VERSION};

pub const VERSION_DDL: &str = "
CREATE TABLE IF NOT EXISTS schema_version (
    version BIGINT NOT NULL,
    migrated_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
COMMENT ON TABLE schema_version IS 'The versions of TRM''s warehouse schema this file has been brought to, one row each; the highest is current. Version 1 (not listed) is a warehouse written before versions were recorded.';
";

/// The version a warehouse is at: the recorded one; for a file without a
/// record, 1 if it holds TRM's tables and the current version if it is new.
pub fn current(recorded: Option<i64>, has_tables: bool) -> i64 {
    recorded.unwrap_or(if has_tables { 1 } else { VERSION })
}

/// Whether the warehouse open on `conn` needs migrating: it holds TRM's
/// tables at an older version (or with no version recorded).
pub fn outdated(conn: &duckdb::Connection) -> duckdb::Result<bool> {
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    let catalog = "FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'";
    if count(&format!("SELECT count(*) {catalog} AND table_name = 'schema_version'"))? > 0 {
        return Ok(count("SELECT coalesce(max(version), 0) FROM schema_version")? < VERSION);
    }
    Ok(count(&format!("SELECT count(*) {catalog} AND table_name LIKE 'hist\\_%' ESCAPE '\\'"))? > 0)
}

/// Existing hist tables: table → column → anything.
pub type Catalog<T> = BTreeMap<String, BTreeMap<String, T>>;

/// The `ALTER TABLE … RENAME COLUMN` statements bringing a warehouse at
/// version `from` to the current names. A column is renamed only when the
/// old name is there and the new one is not, so a migration interrupted and
/// retried (each runs in one transaction anyway) cannot rename twice. The
/// tables' views are dropped first: they name the old columns, and are
/// recreated from the schema afterwards.
pub fn renames<T>(from: i64, existing: &Catalog<T>) -> String {
    let mut sql = String::new();
    let mut dropped = std::collections::BTreeSet::new();
    for &(version, table, old, new) in schema::RENAMED {
        let hist = super::hist_name(table);
        let Some(cols) = existing.get(&hist) else { continue };
        if version <= from || !cols.contains_key(old) || cols.contains_key(new) {
            continue;
        }
        if dropped.insert(table) {
            sql += &format!("DROP VIEW IF EXISTS {};\n", ident(table));
        }
        sql += &format!("ALTER TABLE {} RENAME COLUMN {} TO {};\n", ident(&hist), ident(old), ident(new));
    }
    sql
}

/// Data changes that go with the version steps after `from`, run once the
/// columns have their current names and the new columns exist.
pub fn fixups<T>(from: i64, existing: &Catalog<T>) -> String {
    let mut sql = String::new();
    if from < 2 && existing.contains_key("hist_findings") {
        // Until version 2 a finding's asset_id was a field's Metadata API id
        // or any other asset's LUID; the broken_extract task and reasons were
        // only in the evidence, which is JSON this DuckDB cannot parse, but
        // whose ids and reason codes are plain identifiers.
        sql += r#"
UPDATE hist_findings SET asset_metadata_id = asset_luid, asset_luid = NULL WHERE asset_kind = 'field';
UPDATE hist_findings
SET task_luid = nullif(regexp_extract(evidence, '"task_id"\s*:\s*"([^"]*)"', 1), ''),
    reason_codes = nullif(replace(replace(regexp_extract(evidence, '"reasons"\s*:\s*\[([^\]]*)\]', 1), '"', ''), ' ', ''), '')
WHERE detector = 'broken_extract';
UPDATE hist_findings
SET reason_codes = nullif(regexp_extract(evidence, '"kind"\s*:\s*"([^"]*)"', 1), '')
WHERE detector = 'missing_field';
"#;
    }
    if from < 4 {
        sql += &site_fixups();
    }
    sql
}

/// Version 4: each old run's site, on its rows and in `run_sites`. Runs
/// after every table exists (`hist_sites` included, if only empty).
fn site_fixups() -> String {
    let mut sql = String::from(
        "CREATE OR REPLACE TEMP TABLE trm_run_site AS \
         WITH known AS (SELECT run_id, min(site_luid) AS site_luid, min(name) AS name FROM hist_sites GROUP BY run_id), \
         by_url AS (SELECT r.site, min(k.site_luid) AS site_luid, count(DISTINCT k.site_luid) AS n \
                    FROM runs r JOIN known k USING (run_id) GROUP BY r.site), \
         sole AS (SELECT min(site_luid) AS site_luid, count(DISTINCT site_luid) AS n FROM known) \
         SELECT r.run_id, coalesce(k.site_luid, CASE WHEN u.n = 1 THEN u.site_luid END, \
                                   CASE WHEN o.n = 1 THEN o.site_luid END, '') AS site_luid, k.name \
         FROM runs r LEFT JOIN known k USING (run_id) LEFT JOIN by_url u ON u.site IS NOT DISTINCT FROM r.site \
         CROSS JOIN sole o;\n",
    );
    for table in schema::TABLES.iter().filter(|t| super::duck::has_site_column(t)) {
        let hist = ident(&super::hist_name(table.name));
        sql += &format!(
            "UPDATE {hist} SET site_luid = m.site_luid FROM trm_run_site m WHERE {hist}.run_id = m.run_id AND {hist}.site_luid IS NULL;\n"
        );
    }
    sql += "INSERT INTO run_sites (run_id, site_luid, content_url, name, status, error) \
            SELECT r.run_id, m.site_luid, r.site, m.name, r.status, r.error FROM runs r JOIN trm_run_site m USING (run_id) \
            WHERE NOT EXISTS (SELECT 1 FROM run_sites x WHERE x.run_id = r.run_id);\n\
            DROP TABLE trm_run_site;\n";
    sql
}

/// Records that the warehouse is now at the current version.
pub fn record(from: i64) -> String {
    if from >= VERSION {
        // A new warehouse, or one already current: record it once.
        return format!(
            "INSERT INTO schema_version (version) SELECT {VERSION} WHERE NOT EXISTS (SELECT 1 FROM schema_version WHERE version = {VERSION});\n"
        );
    }
    format!("INSERT INTO schema_version (version) VALUES ({VERSION});\n")
}
