//! `trm search --sql`: the SQL that lists the same assets straight from
//! the warehouse, for analysts who want to change it or join it further.
//! It reads the latest-run views (`workbooks`, `fields`, …), matches every
//! word of the text anywhere in an asset's searched columns (ignoring case
//! and accents; no typo allowance), and ranks exact names, then names
//! holding every word, first.

use super::index;
use super::query::Request;

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The SQL for `req`, runnable as-is with `duckdb -readonly trm.duckdb`.
pub fn sql(req: &Request) -> String {
    let words = index::words(&req.text);
    let exact = index::exact(&req.text);
    let mut conditions: Vec<String> = words
        .iter()
        .map(|w| format!("strip_accents(lower(a.searched || ' ' || coalesce(o.name, '') || ' ' || coalesce(o.full_name, '') || ' ' || coalesce(o.email, '') || ' ' || coalesce(tg.tags, ''))) LIKE {}", literal(&format!("%{w}%"))))
        .collect();
    if !req.kinds.is_empty() {
        let kinds: Vec<String> = req.kinds.iter().map(|k| literal(k)).collect();
        conditions.push(format!("a.kind IN ({})", kinds.join(", ")));
    }
    if let Some(p) = &req.project {
        let p = index::key(p.trim_matches('/'));
        conditions.push(format!(
            "(lower(pp.path) = {} OR lower(pp.path) LIKE {})",
            literal(&p),
            literal(&format!("{}/%", p.replace('%', "\\%").replace('_', "\\_")))
        ));
    }
    if let Some(o) = &req.owner {
        let o = literal(&index::key(o));
        conditions.push(format!("(lower(o.name) = {o} OR lower(o.full_name) = {o} OR lower(o.email) = {o})"));
    }
    if let Some(t) = &req.tag {
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM tags t WHERE t.asset_luid = a.id AND lower(t.tag) = {})",
            literal(&index::key(t))
        ));
    }
    let name_words: Vec<String> =
        words.iter().map(|w| format!("strip_accents(lower(a.name)) LIKE {}", literal(&format!("%{w}%")))).collect();
    let rank = format!(
        "CASE WHEN strip_accents(lower(a.name)) = {} THEN 0 WHEN {} THEN 1 ELSE 2 END",
        literal(&exact),
        if name_words.is_empty() { "false".to_string() } else { name_words.join(" AND ") }
    );
    let filter = if conditions.is_empty() { "true".to_string() } else { conditions.join("\n  AND ") };
    format!(
        "-- Assets matching {text} in the latest run, as `trm search` lists them\n\
         -- (every word, anywhere, ignoring case and accents; no typo allowance).\n\
         -- Run with: duckdb -readonly trm.duckdb < this.sql\n\
         WITH RECURSIVE chain(project_luid, ancestor_luid, path, depth) AS (\n\
         \x20 SELECT project_luid, parent_project_luid, name, 0 FROM projects\n\
         \x20 UNION ALL\n\
         \x20 SELECT c.project_luid, p.parent_project_luid, p.name || '/' || c.path, c.depth + 1\n\
         \x20 FROM chain c JOIN projects p ON p.project_luid = c.ancestor_luid WHERE c.depth < 64\n\
         ),\n\
         project_paths AS (SELECT project_luid, arg_max(path, depth) AS path FROM chain GROUP BY project_luid),\n\
         sources AS (\n\
         \x20 SELECT pd.datasource_metadata_id, d.name, d.project_luid, d.owner_luid\n\
         \x20 FROM published_datasources pd JOIN datasources d USING (datasource_luid)\n\
         \x20 UNION ALL\n\
         \x20 SELECT e.datasource_metadata_id, e.name, w.project_luid, w.owner_luid\n\
         \x20 FROM embedded_datasources e LEFT JOIN workbooks w USING (workbook_luid)\n\
         ),\n\
         assets AS (\n\
         \x20 SELECT 'workbook' AS kind, 'workbook_luid' AS id_column, workbook_luid AS id, name, project_luid, owner_luid,\n\
         \x20   concat_ws(' ', name, description) AS searched FROM workbooks\n\
         \x20 UNION ALL\n\
         \x20 SELECT CASE WHEN lower(v.sheet_type) = 'dashboard' THEN 'dashboard' ELSE 'view' END, 'view_luid', v.view_luid, v.name,\n\
         \x20   coalesce(v.project_luid, w.project_luid), coalesce(v.owner_luid, w.owner_luid), concat_ws(' ', v.name, w.name)\n\
         \x20 FROM views v LEFT JOIN workbooks w USING (workbook_luid)\n\
         \x20 UNION ALL\n\
         \x20 SELECT 'datasource', 'datasource_luid', datasource_luid, name, project_luid, owner_luid, concat_ws(' ', name, description)\n\
         \x20 FROM datasources\n\
         \x20 UNION ALL\n\
         \x20 SELECT 'datasource', 'datasource_metadata_id', e.datasource_metadata_id, e.name, w.project_luid, w.owner_luid,\n\
         \x20   concat_ws(' ', e.name, w.name)\n\
         \x20 FROM embedded_datasources e LEFT JOIN workbooks w USING (workbook_luid)\n\
         \x20 UNION ALL\n\
         \x20 SELECT 'field', 'field_metadata_id', f.field_metadata_id, f.name, s.project_luid, s.owner_luid,\n\
         \x20   concat_ws(' ', f.name, f.formula, s.name)\n\
         \x20 FROM fields f LEFT JOIN sources s USING (datasource_metadata_id)\n\
         \x20 UNION ALL\n\
         \x20 SELECT 'table', 'table_metadata_id', t.table_metadata_id, t.name, NULL, NULL,\n\
         \x20   concat_ws(' ', t.name, t.schema || '.' || t.name, t.full_name, t.query, db.name)\n\
         \x20 FROM database_tables t LEFT JOIN database_servers db USING (database_metadata_id)\n\
         \x20 UNION ALL\n\
         \x20 SELECT 'column', 'column_metadata_id', c.column_metadata_id, c.name, NULL, NULL,\n\
         \x20   concat_ws(' ', c.name, t.schema || '.' || t.name)\n\
         \x20 FROM columns c LEFT JOIN database_tables t USING (table_metadata_id)\n\
         \x20 UNION ALL\n\
         \x20 SELECT 'project', 'project_luid', project_luid, name, project_luid, owner_luid, concat_ws(' ', name, description)\n\
         \x20 FROM projects\n\
         \x20 UNION ALL\n\
         \x20 SELECT 'user', 'user_luid', user_luid, name, NULL, NULL, concat_ws(' ', name, full_name, email) FROM users\n\
         ),\n\
         tag_lists AS (SELECT asset_luid, string_agg(tag, ', ' ORDER BY tag) AS tags FROM tags GROUP BY asset_luid)\n\
         SELECT a.kind, a.name, pp.path AS project, o.name AS owner, tg.tags, a.id_column, a.id\n\
         FROM assets a\n\
         LEFT JOIN project_paths pp ON pp.project_luid = a.project_luid\n\
         LEFT JOIN users o ON o.user_luid = a.owner_luid\n\
         LEFT JOIN tag_lists tg ON tg.asset_luid = a.id\n\
         WHERE {filter}\n\
         ORDER BY {rank}, a.name, a.id\n\
         LIMIT {limit};\n",
        text = literal(&req.text),
        limit = req.limit.max(1),
    )
}
