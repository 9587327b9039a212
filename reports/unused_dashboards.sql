-- title: Unused dashboards
-- description: Dashboards the audit found unused: no views in the usage
--   window although they are older than it (trm audit, detector
--   unused_dashboard). Most severe first. Candidates to archive or delete;
--   check with the owner first.
-- columns:
--   severity: high, medium or low
--   dashboard_id: REST id of the dashboard (its view id)
--   dashboard_name: name of the dashboard
--   workbook_id: REST id of the workbook holding it
--   workbook_name: name of the workbook
--   project_name: project holding the workbook
--   owner_name: owner of the dashboard's workbook
--   lifetime_views: views since publication, at the latest snapshot
--   created_at: when the dashboard was published
--   reason: why the audit flagged it
SELECT
    f.severity,
    f.asset_id AS dashboard_id,
    coalesce(f.asset_name, v.name) AS dashboard_name,
    f.workbook_id,
    w.name AS workbook_name,
    coalesce(f.project_name, w.project_name) AS project_name,
    f.owner_name,
    v.total_view_count AS lifetime_views,
    v.created_at,
    f.reason
FROM findings f
LEFT JOIN views v ON v.view_id = f.asset_id
LEFT JOIN workbooks w ON w.workbook_id = coalesce(f.workbook_id, v.workbook_id)
WHERE f.detector = 'unused_dashboard'
ORDER BY
    CASE f.severity WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END,
    project_name, workbook_name, dashboard_name, f.asset_id, f.finding_id;
