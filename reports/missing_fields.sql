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
--   field_name: name of the field
--   field_metadata_id: Metadata API id of the field
--   datasource_type: published or embedded
--   datasource_name: datasource holding the field
--   datasource_url: the page of the published datasource, or of the workbook embedding it
--   workbook_name: for an embedded datasource, the workbook holding it
--   workbook_url: the workbook's page on the Tableau server
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
affected(finding_id, field_metadata_id) AS (
    SELECT finding_id, asset_metadata_id FROM missing
    UNION
    SELECT a.finding_id, ff.field_metadata_id
    FROM affected a
    JOIN field_fields ff ON ff.upstream_field_metadata_id = a.field_metadata_id
),
impacted_sheets AS (
    -- Sheet and dashboard names repeat across workbooks, so each says its workbook.
    SELECT DISTINCT
        a.finding_id,
        sf.sheet_metadata_id,
        coalesce(s.name, sf.sheet_metadata_id) || coalesce(' (' || w.name || ')', '') AS name
    FROM affected a
    JOIN sheet_fields sf ON sf.field_metadata_id = a.field_metadata_id
    LEFT JOIN sheets s ON s.sheet_metadata_id = sf.sheet_metadata_id
    LEFT JOIN workbooks w ON w.workbook_luid = s.workbook_luid
),
impacted_dashboards AS (
    SELECT DISTINCT
        i.finding_id,
        ds.dashboard_metadata_id,
        coalesce(d.name, ds.dashboard_metadata_id) || coalesce(' (' || w.name || ')', '') AS name
    FROM impacted_sheets i
    JOIN dashboard_sheets ds ON ds.sheet_metadata_id = i.sheet_metadata_id
    LEFT JOIN dashboards d ON d.dashboard_metadata_id = ds.dashboard_metadata_id
    LEFT JOIN workbooks w ON w.workbook_luid = d.workbook_luid
),
sheet_lists AS (
    SELECT finding_id, count(*) AS n, string_agg(name, '; ' ORDER BY name, sheet_metadata_id) AS names
    FROM impacted_sheets
    GROUP BY finding_id
),
dashboard_lists AS (
    SELECT finding_id, count(*) AS n, string_agg(name, '; ' ORDER BY name, dashboard_metadata_id) AS names
    FROM impacted_dashboards
    GROUP BY finding_id
)
SELECT
    m.severity,
    coalesce(m.asset_name, fl.name) AS field_name,
    m.asset_metadata_id AS field_metadata_id,
    fl.datasource_type,
    coalesce(p.name, e.name) AS datasource_name,
    coalesce(d.webpage_url, w.webpage_url) AS datasource_url,
    w.name AS workbook_name,
    w.webpage_url AS workbook_url,
    coalesce(m.project_name, p.project_name, w.project_name) AS project_name,
    m.owner_name,
    coalesce(sl.n, 0) AS impacted_sheet_count,
    sl.names AS impacted_sheets,
    coalesce(dl.n, 0) AS impacted_dashboard_count,
    dl.names AS impacted_dashboards,
    m.reason
FROM missing m
LEFT JOIN fields fl ON fl.field_metadata_id = m.asset_metadata_id
LEFT JOIN published_datasources p ON fl.datasource_type = 'published' AND p.datasource_metadata_id = fl.datasource_metadata_id
LEFT JOIN datasources d ON d.datasource_luid = p.datasource_luid
LEFT JOIN embedded_datasources e ON fl.datasource_type = 'embedded' AND e.datasource_metadata_id = fl.datasource_metadata_id
LEFT JOIN workbooks w ON w.workbook_luid = coalesce(m.workbook_luid, e.workbook_luid)
LEFT JOIN sheet_lists sl ON sl.finding_id = m.finding_id
LEFT JOIN dashboard_lists dl ON dl.finding_id = m.finding_id
ORDER BY
    CASE m.severity WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END,
    impacted_sheet_count DESC, field_name, m.asset_metadata_id, m.finding_id;
