-- title: Missing fields
-- description: Datasource fields the audit found broken (trm audit, detector
--   missing_field): a column field whose database column is gone, or a
--   calculation naming a field that does not exist. Impacted sheets are the
--   sheets using the field directly or through a field built on it (a
--   calculation, or a workbook's copy of a published datasource's field);
--   impacted dashboards are those showing an impacted sheet. Most severe
--   first, then most sheets impacted.
-- columns:
--   severity: high, medium or low
--   field_id: Metadata API id of the field
--   field_name: name of the field
--   datasource_type: published or embedded
--   datasource_name: datasource holding the field
--   workbook_name: for an embedded datasource, the workbook holding it
--   project_name: project holding the datasource or workbook
--   owner_name: owner of the datasource or workbook
--   impacted_sheet_count: sheets that break
--   impacted_sheets: their names as 'sheet (workbook)', separated by '; '
--   impacted_dashboard_count: dashboards showing a sheet that breaks
--   impacted_dashboards: their names as 'dashboard (workbook)', separated by '; '
--   reason: the audit's explanation
WITH RECURSIVE missing AS (
    SELECT * FROM findings WHERE detector = 'missing_field'
),
-- The field and every field built on it, transitively.
affected(finding_id, field_id) AS (
    SELECT finding_id, asset_id FROM missing
    UNION
    SELECT a.finding_id, ff.field_id
    FROM affected a
    JOIN field_fields ff ON ff.upstream_field_id = a.field_id
),
impacted_sheets AS (
    -- Sheet and dashboard names repeat across workbooks, so each says its workbook.
    SELECT DISTINCT a.finding_id, sf.sheet_id, coalesce(s.name, sf.sheet_id) || coalesce(' (' || w.name || ')', '') AS name
    FROM affected a
    JOIN sheet_fields sf ON sf.field_id = a.field_id
    LEFT JOIN sheets s ON s.sheet_id = sf.sheet_id
    LEFT JOIN workbooks w ON w.workbook_id = s.workbook_id
),
impacted_dashboards AS (
    SELECT DISTINCT i.finding_id, ds.dashboard_id, coalesce(d.name, ds.dashboard_id) || coalesce(' (' || w.name || ')', '') AS name
    FROM impacted_sheets i
    JOIN dashboard_sheets ds ON ds.sheet_id = i.sheet_id
    LEFT JOIN dashboards d ON d.dashboard_id = ds.dashboard_id
    LEFT JOIN workbooks w ON w.workbook_id = d.workbook_id
),
sheet_lists AS (
    SELECT finding_id, count(*) AS n, string_agg(name, '; ' ORDER BY name, sheet_id) AS names
    FROM impacted_sheets
    GROUP BY finding_id
),
dashboard_lists AS (
    SELECT finding_id, count(*) AS n, string_agg(name, '; ' ORDER BY name, dashboard_id) AS names
    FROM impacted_dashboards
    GROUP BY finding_id
)
SELECT
    m.severity,
    m.asset_id AS field_id,
    coalesce(m.asset_name, fl.name) AS field_name,
    fl.datasource_type,
    coalesce(p.name, e.name) AS datasource_name,
    w.name AS workbook_name,
    coalesce(m.project_name, p.project_name, w.project_name) AS project_name,
    m.owner_name,
    coalesce(sl.n, 0) AS impacted_sheet_count,
    sl.names AS impacted_sheets,
    coalesce(dl.n, 0) AS impacted_dashboard_count,
    dl.names AS impacted_dashboards,
    m.reason
FROM missing m
LEFT JOIN fields fl ON fl.field_id = m.asset_id
LEFT JOIN published_datasources p ON fl.datasource_type = 'published' AND p.datasource_id = fl.datasource_id
LEFT JOIN embedded_datasources e ON fl.datasource_type = 'embedded' AND e.datasource_id = fl.datasource_id
LEFT JOIN workbooks w ON w.workbook_id = coalesce(m.workbook_id, e.workbook_id)
LEFT JOIN sheet_lists sl ON sl.finding_id = m.finding_id
LEFT JOIN dashboard_lists dl ON dl.finding_id = m.finding_id
ORDER BY
    CASE m.severity WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END,
    impacted_sheet_count DESC, field_name, m.asset_id, m.finding_id;
